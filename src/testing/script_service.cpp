// Starting and stopping the project's service scripts (script_service.hpp).
#include "testing/script_service.hpp"

#include <stdio.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <fstream>

namespace berth::testing {
namespace {

namespace fs = std::filesystem;

// The command's standard output without the final newline; "" when it failed.
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

std::string script_path(const std::string& name) {
  return std::string(BERTH_SOURCE_DIR) + "/scripts/" + name + ".sh";
}

}  // namespace

ScriptService::ScriptService(const ScriptServiceSpec& spec) : script_(spec.script) {
  if (const char* given = std::getenv(spec.env.c_str()); given != nullptr && *given) {
    address_ = given;
    return;
  }
  // A ctest fixture's service, when it started one.
  if (const char* file = std::getenv((spec.env + "_FILE").c_str()); file != nullptr) {
    std::ifstream in(file);
    if (std::getline(in, address_) && !address_.empty()) {
      return;
    }
    address_.clear();
  }
  if (run("command -v " + spec.program).empty()) {
    skip_reason_ = spec.package + " is not installed (scripts/deps.sh test installs it)";
    if (const char* ci = std::getenv("CI"); ci != nullptr && std::string(ci) == "true") {
      error_ = skip_reason_;
    }
    return;
  }
  std::string pattern = (fs::temp_directory_path() / ("berth-" + spec.script + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    error_ = "mkdtemp failed";
    return;
  }
  dir_ = pattern;
  const auto started = std::chrono::steady_clock::now();
  address_ = run(script_path(script_) + " start " + (dir_ / "service").string());
  if (address_.empty()) {
    error_ = "scripts/" + script_ + ".sh failed; its logs are in " + (dir_ / "service").string();
    dir_.clear();  // kept for a look
    return;
  }
  std::fprintf(stderr, "%s at %s, up in %.1f s\n", script_.c_str(), address_.c_str(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

ScriptService::~ScriptService() {
  if (dir_.empty()) {
    return;
  }
  (void)run(script_path(script_) + " stop " + (dir_ / "service").string());
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

}  // namespace berth::testing
