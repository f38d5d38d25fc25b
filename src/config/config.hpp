// The configuration schema: every key, its type, its default and what it means.
// Sources, later ones winning: built-in defaults, the YAML file, BERTH_* environment
// variables, command-line flags (applied by cli/). A key "http.read_timeout" is written
//   http:
//     read_timeout: 30s
// in YAML and BERTH_HTTP_READ_TIMEOUT=30s in the environment.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace berth::config {

using core::Result;
using Duration = std::chrono::milliseconds;

struct LogConfig {
  // "text" or "json".
  std::string format = "text";
  // "trace", "debug", "info", "warn", "error".
  std::string level = "info";
  // One line per request.
  bool access = true;
};

struct HttpConfig {
  // 0: one I/O thread per core.
  std::size_t io_threads = 0;
  // 0: 4 per core, at least 8.
  std::size_t blocking_threads = 0;
  std::size_t max_header_bytes = 64 * 1024;
  std::uint64_t max_manifest_bytes = 4 * 1024 * 1024;
  Duration read_timeout = std::chrono::seconds(60);
  Duration write_timeout = std::chrono::seconds(60);
  Duration idle_timeout = std::chrono::seconds(120);
  Duration drain_timeout = std::chrono::seconds(30);
};

struct UploadsConfig {
  // Uploads untouched for this long are deleted.
  Duration max_age = std::chrono::hours(24);
  // How often to look for them.
  Duration purge_interval = std::chrono::hours(1);
};

struct StorageConfig {
  // "filesystem".
  std::string driver = "filesystem";
  // Empty: <data>/blobs-root, i.e. the data directory.
  std::filesystem::path root;
};

struct MetadataConfig {
  // "sqlite".
  std::string driver = "sqlite";
  // Empty: <data>/berth.db.
  std::filesystem::path sqlite_path;
};

struct Config {
  // "host:port".
  std::string listen = "0.0.0.0:5000";
  std::filesystem::path data = "./data";
  LogConfig log;
  HttpConfig http;
  UploadsConfig uploads;
  StorageConfig storage;
  MetadataConfig metadata;

  // Paths with the data-directory defaults filled in.
  std::filesystem::path storage_root() const { return storage.root.empty() ? data : storage.root; }
  std::filesystem::path sqlite_path() const {
    return metadata.sqlite_path.empty() ? data / "berth.db" : metadata.sqlite_path;
  }
};

// One documented key, for `berth config keys` and the README.
struct KeyInfo {
  std::string name;         // "http.read_timeout"
  std::string env;          // "BERTH_HTTP_READ_TIMEOUT"
  std::string default_value;
  std::string description;
};
[[nodiscard]] std::vector<KeyInfo> describe_keys();

// Reads environment variables; a function so tests need not touch the real environment.
using Getenv = std::function<std::optional<std::string>(const std::string& name)>;
[[nodiscard]] Getenv process_environment();

// Defaults, then the YAML file (if given), then the environment. Unknown keys, wrong types
// and invalid values are errors (kInternal code is not used: errors are kUnsupported with
// a message "FILE: key 'http.read_timeout': expected a duration like 30s, got 'x'").
[[nodiscard]] Result<Config> load_config(const std::optional<std::filesystem::path>& file,
                                         const Getenv& getenv);

// Sets one key from its text form, as the environment would ("30s", "4MiB", "true").
[[nodiscard]] Result<void> set_key(Config& config, const std::string& name,
                                   const std::string& value);

// Checks cross-key rules (known drivers, listen address syntax, positive limits).
[[nodiscard]] Result<void> validate(const Config& config);

}  // namespace berth::config
