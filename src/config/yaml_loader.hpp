// The YAML pass of load_config: nested maps become dotted names, and each leaf is handed to its
// key's setter as the scalar's text, so YAML's own typing (is "yes" a bool? is 010 octal?)
// never matters. Internal to config/.
#pragma once

#include <string>

#include "config/config.hpp"

namespace berth::config::detail {

// Applies the YAML text of `file` to config. An error names the file, line and key.
[[nodiscard]] Result<void> load_yaml(Config& config, const std::string& text, std::string file);

}  // namespace berth::config::detail
