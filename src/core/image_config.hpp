// Reading an image's config blob (OCI image config, Docker container image JSON) for what
// people look at: platform, environment, entrypoint, command, labels, creation time and the
// build history. The bytes come from blob storage but were pushed by clients: anything
// malformed is skipped, not trusted, and a field of the wrong type reads as absent.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/manifest.hpp"

namespace berth::core {

struct HistoryEntry {
  std::optional<std::string> created;
  std::string created_by;
  bool empty_layer = false;
  std::optional<std::string> comment;
};

struct ImageConfig {
  Platform platform;
  // RFC 3339 as the config has it.
  std::optional<std::string> created;
  std::vector<std::string> env;
  std::optional<std::vector<std::string>> entrypoint;
  std::optional<std::vector<std::string>> cmd;
  std::optional<std::string> working_dir;
  std::optional<std::string> user;
  std::map<std::string, std::string> labels;
  std::vector<HistoryEntry> history;
};

// True for the two media types of image configs.
[[nodiscard]] bool is_image_config_media_type(std::string_view media_type);

// MANIFEST_INVALID when the bytes are not a JSON object.
[[nodiscard]] Result<ImageConfig> parse_image_config(std::string_view bytes);

}  // namespace berth::core
