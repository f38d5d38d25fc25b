// Starting and stopping scripts/radosgw.sh (radosgw.hpp).
#include "testing/radosgw.hpp"

#include <stdio.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <fstream>

namespace berth::testing {
namespace {

namespace fs = std::filesystem;

// The command's standard output without the final newline; nullopt-like "" when it failed.
std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return out;
  }
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) {
    out += buffer;
  }
  if (::pclose(pipe) != 0) {
    return "";
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
    out.pop_back();
  }
  return out;
}

std::string script() { return std::string(BERTH_SOURCE_DIR) + "/scripts/radosgw.sh"; }

}  // namespace

Radosgw::Radosgw() {
  if (const char* given = std::getenv("BERTH_TEST_S3_ENDPOINT"); given != nullptr && *given) {
    endpoint_ = given;
    return;
  }
  // The ctest fixture's server (src/storage/CMakeLists.txt), when it started one.
  if (const char* file = std::getenv("BERTH_TEST_S3_ENDPOINT_FILE"); file != nullptr) {
    std::ifstream in(file);
    if (std::getline(in, endpoint_) && !endpoint_.empty()) {
      return;
    }
    endpoint_.clear();
  }
  if (run("command -v radosgw").empty()) {
    skip_reason_ = "radosgw is not installed (scripts/deps.sh test installs it)";
    if (const char* ci = std::getenv("CI"); ci != nullptr && std::string(ci) == "true") {
      error_ = skip_reason_;
    }
    return;
  }
  std::string pattern = (fs::temp_directory_path() / "berth-radosgw-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    error_ = "mkdtemp failed";
    return;
  }
  dir_ = pattern;
  const auto started = std::chrono::steady_clock::now();
  endpoint_ = run(script() + " start " + (dir_ / "ceph").string());
  if (endpoint_.empty()) {
    error_ = "scripts/radosgw.sh failed; its logs are in " + (dir_ / "ceph" / "log").string();
    dir_.clear();  // kept for a look
    return;
  }
  std::fprintf(stderr, "radosgw at %s, up in %.1f s\n", endpoint_.c_str(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

Radosgw::~Radosgw() {
  if (dir_.empty()) {
    return;
  }
  (void)run(script() + " stop " + (dir_ / "ceph").string());
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

}  // namespace berth::testing
