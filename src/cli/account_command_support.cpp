#include "cli/account_command_support.hpp"

#include <fmt/core.h>
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <optional>

#include "auth/account_names.hpp"
#include "auth/htpasswd.hpp"
#include "auth/password.hpp"
#include "cli/audit_commands.hpp"
#include "cli/command_support.hpp"

namespace berth::cli {
namespace {

// One line of stdin, without the newline.
std::optional<std::string> read_line() {
  std::string line;
  if (!std::getline(std::cin, line)) {
    return std::nullopt;
  }
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  return line;
}

// From stdin; on a terminal with a prompt, without echo, twice.
std::optional<std::string> read_password(bool from_stdin) {
  if (from_stdin || !isatty(STDIN_FILENO)) {
    return read_line();
  }
  termios saved{};
  tcgetattr(STDIN_FILENO, &saved);
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  auto ask = [&](const char* prompt) {
    fmt::print(stderr, "{}", prompt);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    auto line = read_line();
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    fmt::print(stderr, "\n");
    return line;
  };
  auto first = ask("Password: ");
  auto second = ask("Again: ");
  if (!first || !second || *first != *second) {
    fmt::print(stderr, "berth: the passwords differ\n");
    return std::nullopt;
  }
  return first;
}

}  // namespace

int usage(const std::string& message) { return fail(message, 2); }

core::Result<std::string> new_password_hash(bool from_stdin) {
  auto password = read_password(from_stdin);
  if (!password) {
    return core::fail(core::ErrorCode::kUnsupported, "no password given");
  }
  if (password->size() < auth::kMinPasswordLength) {
    return core::fail(core::ErrorCode::kUnsupported, "the password needs at least 8 characters");
  }
  return auth::hash_password(*password);
}

std::vector<std::string> htpasswd_users(const config::Config& config) {
  if (config.auth.htpasswd.empty()) {
    return {};
  }
  auth::HtpasswdFile file(config.auth.htpasswd, [](const std::string& problem) {
    fmt::print(stderr, "berth: {}\n", problem);
  });
  return file.users();
}

CLI::App* account_command(CLI::App* parent, const std::string& name, const std::string& help,
                          std::shared_ptr<AccountArgs> args, int& exit_code, AccountRun run) {
  auto* sub = parent->add_subcommand(name, help);
  // The path of a subcommand below `berth`: "project member add".
  auto command_path = [](const CLI::App* command) {
    std::string path = command->get_name();
    for (auto* up = command->get_parent(); up != nullptr && up->get_parent() != nullptr;
         up = up->get_parent()) {
      path = up->get_name() + " " + path;
    }
    return path;
  };
  add_config_flags(sub, args->flags, false);
  sub->callback([args, &exit_code, run, sub, command_path] {
    auto config = effective_config(args->flags);
    if (!config) {
      exit_code = report(config.error());
      return;
    }
    auto stores =
        open_database(*config, args->init ? MissingDatabase::kCreate : MissingDatabase::kRefuse);
    if (!stores) {
      exit_code = args->offers_init && stores.error().code == core::ErrorCode::kNotFound
                      ? fail(stores.error().message +
                             "; `berth user add --init` makes a new one (before the first start)")
                      : report(stores.error());
      return;
    }
    AccountContext context{*config, *stores};
    exit_code = run(context, *args);
    record_cli_change(*stores->audit, command_path(sub), *args, exit_code);
  });
  return sub;
}

}  // namespace berth::cli
