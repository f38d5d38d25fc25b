// berth user add|passwd|admin|del|unlock|list.
#include <fmt/core.h>

#include <algorithm>
#include <set>

#include "auth/account_names.hpp"
#include "cli/account_command_support.hpp"
#include "cli/command_support.hpp"
#include "core/clock.hpp"

namespace berth::cli {
namespace {

int add_user(AccountContext& context, const AccountArgs& a) {
  if (!auth::valid_account_name(a.name)) {
    return usage("user names are 1-64 letters, digits, . _ - @");
  }
  auto hash = new_password_hash(a.password_stdin);
  if (!hash) {
    return report(hash.error());
  }
  core::SystemClock clock;
  auto created = context.stores.accounts->create_user(
      meta::User{.name = a.name, .password_hash = *hash, .admin = a.admin, .created = clock.now()});
  if (!created) {
    return report(created.error());
  }
  fmt::print("added user {}{}\n", a.name, a.admin ? " (administrator)" : "");
  return 0;
}

// Database users, then the htpasswd file's (a name in both is the database's: it wins).
int list_users(AccountContext& context, const AccountArgs&) {
  auto users = context.stores.accounts->list_users();
  if (!users) {
    return report(users.error());
  }
  std::set<std::string, std::less<>> in_database;
  fmt::print("{:<32} {:<10} {}\n", "USER", "SOURCE", "ADMIN");
  for (const auto& u : *users) {
    in_database.insert(u.name);
    fmt::print("{:<32} {:<10} {}\n", u.name, "database", u.admin ? "yes" : "no");
  }
  for (const auto& name : htpasswd_users(context.config)) {
    if (!in_database.contains(name)) {
      fmt::print("{:<32} {:<10} {}\n", name, "htpasswd", "no");
    }
  }
  return 0;
}

}  // namespace

void add_user_commands(CLI::App& app, int& exit_code) {
  auto* user = app.add_subcommand("user", "Manage users (stored with bcrypt hashes)");
  user->require_subcommand(1);

  auto add = std::make_shared<AccountArgs>();
  add->offers_init = true;
  auto* add_cmd =
      account_command(user, "add", "Add a user; the password is read from stdin or asked", add,
                      exit_code, add_user);
  add_cmd->add_option("name", add->name, "User name")->required();
  add_cmd->add_flag("--admin", add->admin, "A system administrator");
  add_cmd->add_flag("--password-stdin", add->password_stdin, "Read the password from stdin");
  add_cmd->add_flag("--init", add->init,
                    "Create the database if there is none yet (before the first berth serve)");

  auto passwd = std::make_shared<AccountArgs>();
  auto* passwd_cmd =
      account_command(user, "passwd", "Change a user's password (ends their sessions)", passwd,
                      exit_code, [](AccountContext& context, const AccountArgs& a) {
                        auto hash = new_password_hash(a.password_stdin);
                        if (!hash) {
                          return report(hash.error());
                        }
                        if (auto set = context.stores.accounts->set_password(a.name, *hash); !set) {
                          return report(set.error());
                        }
                        fmt::print("changed the password of {}\n", a.name);
                        return 0;
                      });
  passwd_cmd->add_option("name", passwd->name, "User name")->required();
  passwd_cmd->add_flag("--password-stdin", passwd->password_stdin, "Read the password from stdin");

  auto admin = std::make_shared<AccountArgs>();
  auto* admin_cmd = account_command(
      user, "admin", "Make a user an administrator or not (true|false)", admin, exit_code,
      [](AccountContext& context, const AccountArgs& a) {
        if (a.value != "true" && a.value != "false") {
          return usage("expected true or false");
        }
        if (auto set = context.stores.accounts->set_admin(a.name, a.value == "true"); !set) {
          return report(set.error());
        }
        fmt::print("{} is {}an administrator\n", a.name, a.value == "true" ? "" : "not ");
        return 0;
      });
  admin_cmd->add_option("name", admin->name, "User name")->required();
  admin_cmd->add_option("value", admin->value, "true or false")->required();

  auto del = std::make_shared<AccountArgs>();
  auto* del_cmd =
      account_command(user, "del", "Delete a user and their memberships", del, exit_code,
                      [](AccountContext& context, const AccountArgs& a) {
                        if (auto deleted = context.stores.accounts->delete_user(a.name); !deleted) {
                          return report(deleted.error());
                        }
                        fmt::print("deleted user {}\n", a.name);
                        return 0;
                      });
  del_cmd->add_option("name", del->name, "User name")->required();

  auto unlock = std::make_shared<AccountArgs>();
  auto* unlock_cmd = account_command(
      user, "unlock",
      "Lift a user name's login lockout (its failed logins from every address stop counting)",
      unlock, exit_code, [](AccountContext& context, const AccountArgs& a) {
        // Any name: htpasswd users, and names that are no user at all, are locked out too.
        core::SystemClock clock;
        if (auto unlocked = context.stores.accounts->unlock_logins(a.name, clock.now());
            !unlocked) {
          return report(unlocked.error());
        }
        fmt::print("unlocked logins of {}\n", a.name);
        return 0;
      });
  unlock_cmd->add_option("name", unlock->name, "User name")->required();

  auto list = std::make_shared<AccountArgs>();
  account_command(user, "list", "List users: the database's and the htpasswd file's", list,
                  exit_code, list_users);
}

}  // namespace berth::cli
