#include "cli/config_flags.hpp"

namespace berth::cli {

void add_config_flags(CLI::App* command, ConfigFlags& flags, bool with_listen) {
  command->add_option("--config,-c", flags.file, "YAML configuration file");
  if (with_listen) {
    command->add_option("--listen", flags.listen,
                        "Address to listen on, host:port (default 0.0.0.0:5000)");
  }
  command->add_option("--data", flags.data, "Data directory (default ./data)");
}

core::Result<config::Config> effective_config(const ConfigFlags& flags) {
  std::optional<std::filesystem::path> file;
  if (!flags.file.empty()) {
    file = flags.file;
  }
  auto loaded = config::load_config(file, config::process_environment());
  if (!loaded) {
    return loaded;
  }
  if (!flags.listen.empty()) {
    if (auto set = config::set_key(*loaded, "listen", flags.listen); !set) {
      return std::unexpected(set.error());
    }
  }
  if (!flags.data.empty()) {
    if (auto set = config::set_key(*loaded, "data", flags.data); !set) {
      return std::unexpected(set.error());
    }
  }
  if (auto valid = config::validate(*loaded); !valid) {
    return std::unexpected(valid.error());
  }
  return loaded;
}

}  // namespace berth::cli
