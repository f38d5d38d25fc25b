#include "cli/cli.hpp"

#include <fmt/core.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>

#include "cli/account_commands.hpp"
#include "cli/audit_commands.hpp"
#include "cli/config_flags.hpp"
#include "cli/gc_command.hpp"
#include "cli/maintenance_commands.hpp"
#include "cli/project_policy_commands.hpp"
#include "cli/webhook_commands.hpp"
#include "config/config.hpp"
#include "config/file_checks.hpp"
#include "server/app.hpp"
#include "version.hpp"

namespace berth::cli {

int run(int argc, char** argv) {
  // Everything Berth writes is private to its user: the database holds password and token
  // hashes, the blobs private images, backups both (server/private_data.hpp).
  ::umask(077);
  CLI::App app{"Berth: a container registry (OCI Distribution v1.1, Docker Registry v2)", "berth"};
  app.require_subcommand(0, 1);
  app.set_version_flag("--version,-V", std::string("berth ") + kVersion);
  int exit_code = 0;

  ConfigFlags serve_flags;
  std::string port_file;
  std::string tls_port_file;
  std::string metrics_port_file;
  auto* serve = app.add_subcommand("serve", "Run the registry server");
  add_config_flags(serve, serve_flags);
  serve->add_option("--port-file", port_file,
                    "Write the bound port to this file once listening (for port 0)");
  serve->add_option("--tls-port-file", tls_port_file, "The same for the TLS listener");
  serve->add_option("--metrics-port-file", metrics_port_file,
                    "The same for the metrics listener (metrics.listen)");

  app.add_subcommand("version", "Print the version");
  app.add_subcommand("help", "Print this help");

  auto* config_cmd = app.add_subcommand("config", "Inspect configuration");
  config_cmd->require_subcommand(1);
  std::string check_file;
  auto* check = config_cmd->add_subcommand("check", "Validate a configuration file");
  check->add_option("file", check_file, "YAML file")->required();
  ConfigFlags show_flags;
  auto* show = config_cmd->add_subcommand("show", "Print the effective configuration as YAML");
  add_config_flags(show, show_flags);
  auto* keys = config_cmd->add_subcommand("keys", "List every configuration key");

  add_account_commands(app, exit_code);
  add_project_policy_commands(*app.get_subcommand("project"), exit_code);
  add_maintenance_commands(app, exit_code);
  add_gc_command(app, exit_code);
  add_audit_command(app, exit_code);
  add_webhook_commands(app, exit_code);

  CLI11_PARSE(app, argc, argv);

  // `berth` alone or `berth help` is someone finding their way: the help, and success.
  if (app.get_subcommands().empty() || app.got_subcommand("help")) {
    fmt::print("{}", app.help());
    return 0;
  }
  if (app.got_subcommand("version")) {
    fmt::print("berth {}\n", kVersion);
    return 0;
  }
  if (serve->parsed()) {
    auto config = effective_config(serve_flags);
    if (!config) {
      fmt::print(stderr, "berth: {}\n", config.error().message);
      return 2;
    }
    server::ServeOptions serve_options;
    serve_options.version = kVersion;
    if (!port_file.empty()) {
      serve_options.port_file = port_file;
    }
    if (!tls_port_file.empty()) {
      serve_options.tls_port_file = tls_port_file;
    }
    if (!metrics_port_file.empty()) {
      serve_options.metrics_port_file = metrics_port_file;
    }
    return server::serve(*config, serve_options);
  }
  if (check->parsed()) {
    auto config = config::load_config(std::filesystem::path(check_file),
                                      [](const std::string&) { return std::nullopt; });
    if (config) {
      if (auto valid = config::validate(*config); !valid) {
        config = std::unexpected(valid.error());
      }
    }
    if (!config) {
      fmt::print(stderr, "{}\n", config.error().message);
      return 1;
    }
    const auto files = config::check_files(*config);
    for (const auto& warning : files.warnings) {
      fmt::print(stderr, "{}: warning: {}\n", check_file, warning);
    }
    for (const auto& error : files.errors) {
      fmt::print(stderr, "{}: {}\n", check_file, error);
    }
    if (!files.errors.empty()) {
      return 1;
    }
    fmt::print("{}: ok\n", check_file);
    return 0;
  }
  if (show->parsed()) {
    auto config = effective_config(show_flags);
    if (!config) {
      fmt::print(stderr, "berth: {}\n", config.error().message);
      return 2;
    }
    fmt::print("{}", config::render_yaml(*config));
    return 0;
  }
  if (keys->parsed()) {
    for (const auto& key : config::describe_keys()) {
      fmt::print("{:<38} {:<42} default {:<12} {}\n", key.name, key.env, key.default_value,
                 key.description);
    }
    return 0;
  }
  return exit_code;
}

}  // namespace berth::cli
