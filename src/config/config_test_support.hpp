// What the config tests share: an environment made from a map, and a config file of its own.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "config/config.hpp"

namespace berth::config::test_support {

// The environment `vars` describe, and nothing else of the real one.
inline Getenv env_of(std::map<std::string, std::string> vars = {}) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    if (auto it = vars.find(name); it != vars.end()) {
      return it->second;
    }
    return std::nullopt;
  };
}

// A new file holding `text` under the system's temporary directory; the caller removes it.
inline std::filesystem::path write_temp_config(const std::string& text) {
  std::string pattern = (std::filesystem::temp_directory_path() / "berth-config-XXXXXX").string();
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0) {
    throw std::runtime_error("mkstemp failed");
  }
  ::close(fd);
  std::ofstream(pattern, std::ios::binary) << text;
  return pattern;
}

}  // namespace berth::config::test_support
