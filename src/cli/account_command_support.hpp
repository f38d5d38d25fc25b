// What the berth user|project|robot commands share: their arguments, the database and
// configuration they run on, and reading a new password.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli/config_flags.hpp"
#include "config/config.hpp"
#include "core/error.hpp"
#include "meta/stores.hpp"

namespace berth::cli {

struct AccountArgs {
  ConfigFlags flags;
  std::string name;
  std::string project;
  std::string user;
  std::string role;
  bool admin = false;
  bool is_public = false;
  bool password_stdin = false;
  // `user add --init`: make the database when there is none yet (setting up before the first
  // `berth serve`); every other command refuses a missing database.
  bool init = false;
  // The command has --init (`user add`): a refusal of a missing database says so.
  bool offers_init = false;
  bool with_images = false;
  std::vector<std::string> scopes;
  std::string description;
  int expires_in_days = 0;
  std::string value;
};

// What a command runs on: the effective configuration and the data directory's stores.
struct AccountContext {
  const config::Config& config;
  meta::Stores& stores;
};

using AccountRun = std::function<int(AccountContext&, const AccountArgs&)>;

// Adds a subcommand with the configuration flags whose action runs on the database. The
// database must exist unless the arguments say `init`.
CLI::App* account_command(CLI::App* parent, const std::string& name, const std::string& help,
                          std::shared_ptr<AccountArgs> args, int& exit_code, AccountRun run);

// Prints the message as bad usage; returns 2.
int usage(const std::string& message);

// A new password from stdin, or asked twice without echo on a terminal; at least
// auth::kMinPasswordLength characters. The bcrypt hash of it.
[[nodiscard]] core::Result<std::string> new_password_hash(bool from_stdin);

// The htpasswd file's users (none when no file is configured or it cannot be read).
[[nodiscard]] std::vector<std::string> htpasswd_users(const config::Config& config);

void add_user_commands(CLI::App& app, int& exit_code);
void add_project_commands(CLI::App& app, int& exit_code);
void add_robot_commands(CLI::App& app, int& exit_code);

}  // namespace berth::cli
