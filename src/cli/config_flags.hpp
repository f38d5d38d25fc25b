// The flags every command that touches a data directory shares (--config, --data, --listen),
// and the configuration they produce: defaults, then the file, then BERTH_* variables, then
// the flags.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "config/config.hpp"
#include "core/error.hpp"

namespace berth::cli {

struct ConfigFlags {
  std::string file;
  std::string listen;
  std::string data;
};

void add_config_flags(CLI::App* command, ConfigFlags& flags, bool with_listen = true);

[[nodiscard]] core::Result<config::Config> effective_config(const ConfigFlags& flags);

}  // namespace berth::cli
