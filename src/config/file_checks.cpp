#include "config/file_checks.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

namespace berth::config {
namespace {

// What is wrong with a file that should be readable, if anything.
std::optional<std::string> unreadable(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    return path.string() + " does not exist";
  }
  if (std::filesystem::is_directory(status)) {
    return path.string() + " is a directory, not a file";
  }
  if (::access(path.c_str(), R_OK) != 0) {
    return path.string() + " cannot be read: " + std::strerror(errno);
  }
  return std::nullopt;
}

void require(std::vector<std::string>& out, const std::string& key,
             const std::filesystem::path& path) {
  if (path.empty()) {
    return;
  }
  if (auto problem = unreadable(path)) {
    out.push_back(key + ": " + *problem);
  }
}

}  // namespace

FileProblems check_files(const Config& config) {
  FileProblems problems;
  require(problems.errors, "tls.certificate", config.tls.certificate);
  require(problems.errors, "tls.key", config.tls.key);
  require(problems.errors, "storage.s3.ca_file", config.storage.s3.ca_file);
  for (const auto& proxy : config.proxies) {
    require(problems.errors, "proxies[" + proxy.project + "].ca_file", proxy.ca_file);
  }
  if (!config.auth.htpasswd.empty()) {
    if (auto problem = unreadable(config.auth.htpasswd)) {
      problems.warnings.push_back("auth.htpasswd: " + *problem +
                                  " (the server starts with no htpasswd users)");
    }
  }
  return problems;
}

}  // namespace berth::config
