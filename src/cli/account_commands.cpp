#include "cli/account_commands.hpp"

#include <fmt/core.h>
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/account_names.hpp"
#include "auth/identity.hpp"
#include "auth/password.hpp"
#include "cli/command_support.hpp"
#include "cli/config_flags.hpp"
#include "core/clock.hpp"
#include "meta/sqlite_metadata_store.hpp"

namespace berth::cli {
namespace {

int usage(const std::string& message) { return fail(message, 2); }

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

// "ci:writer" for --project.
std::optional<meta::RobotScope> parse_project_role(const std::string& text) {
  auto colon = text.find(':');
  if (colon == std::string::npos) {
    return std::nullopt;
  }
  auto role = meta::parse_role(text.substr(colon + 1));
  if (!role || !auth::valid_project_name(text.substr(0, colon))) {
    return std::nullopt;
  }
  return meta::RobotScope{text.substr(0, colon), *role};
}

struct Args {
  ConfigFlags flags;
  std::string name;
  std::string project;
  std::string user;
  std::string role;
  bool admin = false;
  bool is_public = false;
  bool password_stdin = false;
  std::vector<std::string> scopes;
  std::string description;
  int expires_in_days = 0;
  std::string value;
};

using Run = std::function<int(meta::AccountStore&, const Args&)>;

// Adds a subcommand whose action runs on the account store.
CLI::App* command(CLI::App* parent, const std::string& name, const std::string& help,
                  std::shared_ptr<Args> args, int& exit_code, Run run) {
  auto* sub = parent->add_subcommand(name, help);
  add_config_flags(sub, args->flags, false);
  sub->callback([args, &exit_code, run] {
    auto config = effective_config(args->flags);
    if (!config) {
      exit_code = report(config.error());
      return;
    }
    auto stores = open_database(*config, MissingDatabase::kCreate);
    if (!stores) {
      exit_code = report(stores.error());
      return;
    }
    exit_code = run(*stores->accounts, *args);
  });
  return sub;
}

void add_user_commands(CLI::App& app, int& exit_code) {
  auto* user = app.add_subcommand("user", "Manage users (stored with bcrypt hashes)");
  user->require_subcommand(1);

  auto add = std::make_shared<Args>();
  auto* add_cmd = command(
      user, "add", "Add a user; the password is read from stdin or asked", add, exit_code,
      [](meta::AccountStore& accounts, const Args& a) {
        if (!auth::valid_account_name(a.name)) {
          return usage("user names are 1-64 letters, digits, . _ - @");
        }
        auto hash = new_password_hash(a.password_stdin);
        if (!hash) {
          return report(hash.error());
        }
        core::SystemClock clock;
        auto created = accounts.create_user(meta::User{
            .name = a.name, .password_hash = *hash, .admin = a.admin, .created = clock.now()});
        if (!created) {
          return report(created.error());
        }
        fmt::print("added user {}{}\n", a.name, a.admin ? " (administrator)" : "");
        return 0;
      });
  add_cmd->add_option("name", add->name, "User name")->required();
  add_cmd->add_flag("--admin", add->admin, "A system administrator");
  add_cmd->add_flag("--password-stdin", add->password_stdin, "Read the password from stdin");

  auto passwd = std::make_shared<Args>();
  auto* passwd_cmd = command(user, "passwd", "Change a user's password (ends their sessions)",
                             passwd, exit_code, [](meta::AccountStore& accounts, const Args& a) {
                               auto hash = new_password_hash(a.password_stdin);
                               if (!hash) {
                                 return report(hash.error());
                               }
                               if (auto set = accounts.set_password(a.name, *hash); !set) {
                                 return report(set.error());
                               }
                               fmt::print("changed the password of {}\n", a.name);
                               return 0;
                             });
  passwd_cmd->add_option("name", passwd->name, "User name")->required();
  passwd_cmd->add_flag("--password-stdin", passwd->password_stdin, "Read the password from stdin");

  auto admin = std::make_shared<Args>();
  auto* admin_cmd = command(user, "admin", "Make a user an administrator or not (true|false)",
                            admin, exit_code, [](meta::AccountStore& accounts, const Args& a) {
                              if (a.value != "true" && a.value != "false") {
                                return usage("expected true or false");
                              }
                              if (auto set = accounts.set_admin(a.name, a.value == "true"); !set) {
                                return report(set.error());
                              }
                              return 0;
                            });
  admin_cmd->add_option("name", admin->name, "User name")->required();
  admin_cmd->add_option("value", admin->value, "true or false")->required();

  auto del = std::make_shared<Args>();
  auto* del_cmd = command(user, "del", "Delete a user and their memberships", del, exit_code,
                          [](meta::AccountStore& accounts, const Args& a) {
                            if (auto deleted = accounts.delete_user(a.name); !deleted) {
                              return report(deleted.error());
                            }
                            fmt::print("deleted user {}\n", a.name);
                            return 0;
                          });
  del_cmd->add_option("name", del->name, "User name")->required();

  auto unlock = std::make_shared<Args>();
  auto* unlock_cmd = command(
      user, "unlock",
      "Lift a user name's login lockout (its failed logins from every address stop counting)",
      unlock, exit_code, [](meta::AccountStore& accounts, const Args& a) {
        // Any name: htpasswd users, and names that are no user at all, are locked out too.
        core::SystemClock clock;
        if (auto unlocked = accounts.unlock_logins(a.name, clock.now()); !unlocked) {
          return report(unlocked.error());
        }
        fmt::print("unlocked logins of {}\n", a.name);
        return 0;
      });
  unlock_cmd->add_option("name", unlock->name, "User name")->required();

  auto list = std::make_shared<Args>();
  command(user, "list", "List users", list, exit_code,
          [](meta::AccountStore& accounts, const Args&) {
            auto users = accounts.list_users();
            if (!users) {
              return report(users.error());
            }
            for (const auto& u : *users) {
              fmt::print("{}{}\n", u.name, u.admin ? "\tadmin" : "");
            }
            return 0;
          });
}

void add_project_commands(CLI::App& app, int& exit_code) {
  auto* project = app.add_subcommand("project", "Manage projects and their members");
  project->require_subcommand(1);

  auto create = std::make_shared<Args>();
  auto* create_cmd = command(
      project, "create", "Create a project", create, exit_code,
      [](meta::AccountStore& accounts, const Args& a) {
        if (!auth::valid_project_name(a.name)) {
          return usage(
              "a project name is one repository-name component, like ci "
              "or team-a");
        }
        core::SystemClock clock;
        auto created = accounts.create_project(meta::Project{a.name, a.is_public, clock.now()});
        if (!created) {
          return report(created.error());
        }
        fmt::print("created project {}{}\n", a.name,
                   a.is_public ? " (public: anyone may pull)" : "");
        return 0;
      });
  create_cmd->add_option("name", create->name, "Project name")->required();
  create_cmd->add_flag("--public", create->is_public, "Anonymous callers may pull");

  auto list = std::make_shared<Args>();
  command(project, "list", "List projects", list, exit_code,
          [](meta::AccountStore& accounts, const Args&) {
            auto projects = accounts.list_projects();
            if (!projects) {
              return report(projects.error());
            }
            for (const auto& p : *projects) {
              fmt::print("{}{}\n", p.name, p.is_public ? "\tpublic" : "");
            }
            return 0;
          });

  auto visibility = std::make_shared<Args>();
  auto* public_cmd =
      command(project, "public", "Make a project public or private (true|false)", visibility,
              exit_code, [](meta::AccountStore& accounts, const Args& a) {
                if (a.value != "true" && a.value != "false") {
                  return usage("expected true or false");
                }
                auto set = accounts.set_project_public(a.name, a.value == "true");
                if (!set) {
                  return report(set.error());
                }
                return 0;
              });
  public_cmd->add_option("name", visibility->name, "Project name")->required();
  public_cmd->add_option("value", visibility->value, "true or false")->required();

  auto del = std::make_shared<Args>();
  auto* del_cmd = command(project, "delete", "Delete a project's members and settings", del,
                          exit_code, [](meta::AccountStore& accounts, const Args& a) {
                            if (auto deleted = accounts.delete_project(a.name); !deleted) {
                              return report(deleted.error());
                            }
                            fmt::print("deleted project {}\n", a.name);
                            return 0;
                          });
  del_cmd->add_option("name", del->name, "Project name")->required();

  auto* member = project->add_subcommand("member", "Manage the members of a project");
  member->require_subcommand(1);
  auto add = std::make_shared<Args>();
  auto* add_cmd =
      command(member, "add", "Give a user a role: reader, writer, maintainer or owner", add,
              exit_code, [](meta::AccountStore& accounts, const Args& a) {
                auto role = meta::parse_role(a.role);
                if (!role) {
                  return usage("roles are reader, writer, maintainer and owner");
                }
                if (!auth::valid_account_name(a.user)) {
                  return usage("user names are 1-64 letters, digits, . _ - @");
                }
                if (auto set = accounts.set_member(meta::Member{a.project, a.user, *role}); !set) {
                  return report(set.error());
                }
                fmt::print("{} is {} of {}\n", a.user, a.role, a.project);
                return 0;
              });
  add_cmd->add_option("project", add->project, "Project name")->required();
  add_cmd->add_option("user", add->user, "User name (database or htpasswd)")->required();
  add_cmd->add_option("role", add->role, "reader | writer | maintainer | owner")->required();

  auto remove = std::make_shared<Args>();
  auto* remove_cmd =
      command(member, "remove", "Take a user's role away", remove, exit_code,
              [](meta::AccountStore& accounts, const Args& a) {
                if (auto removed = accounts.remove_member(a.project, a.user); !removed) {
                  return report(removed.error());
                }
                return 0;
              });
  remove_cmd->add_option("project", remove->project, "Project name")->required();
  remove_cmd->add_option("user", remove->user, "User name")->required();

  auto members = std::make_shared<Args>();
  auto* members_cmd = command(member, "list", "List a project's members", members, exit_code,
                              [](meta::AccountStore& accounts, const Args& a) {
                                auto list = accounts.list_members(a.project);
                                if (!list) {
                                  return report(list.error());
                                }
                                for (const auto& m : *list) {
                                  fmt::print("{}\t{}\n", m.user, meta::role_name(m.role));
                                }
                                return 0;
                              });
  members_cmd->add_option("project", members->project, "Project name")->required();
}

void add_robot_commands(CLI::App& app, int& exit_code) {
  auto* robot = app.add_subcommand("robot", "Manage robot accounts (tokens for CI)");
  robot->require_subcommand(1);

  auto create = std::make_shared<Args>();
  auto* create_cmd =
      command(robot, "create", "Create a robot; prints its token once", create, exit_code,
              [](meta::AccountStore& accounts, const Args& a) {
                if (!auth::valid_account_name(a.name)) {
                  return usage("robot names are 1-64 letters, digits, . _ - @");
                }
                meta::Robot robot;
                robot.name = a.name;
                robot.description = a.description;
                for (const auto& text : a.scopes) {
                  auto scope = parse_project_role(text);
                  if (!scope) {
                    return usage("--project takes PROJECT:ROLE, like ci:writer");
                  }
                  robot.scopes.push_back(*scope);
                }
                core::SystemClock clock;
                robot.created = clock.now();
                if (a.expires_in_days > 0) {
                  robot.expires = robot.created + std::chrono::hours(24) * a.expires_in_days;
                }
                const std::string token = auth::random_token("brb_");
                robot.token_hash = auth::token_hash(token);
                if (auto created = accounts.create_robot(robot); !created) {
                  return report(created.error());
                }
                fmt::print(stderr,
                           "created robot {}; log in as user \"{}{}\" with this token (it is "
                           "shown only now):\n",
                           a.name, auth::kRobotPrefix, a.name);
                fmt::print("{}\n", token);
                return 0;
              });
  create_cmd->add_option("name", create->name, "Robot name")->required();
  create_cmd->add_option("--project,-p", create->scopes, "PROJECT:ROLE, repeatable")->required();
  create_cmd->add_option("--expires-in-days", create->expires_in_days, "Days until it expires");
  create_cmd->add_option("--description", create->description, "What it is for");

  auto list = std::make_shared<Args>();
  command(robot, "list", "List robots", list, exit_code,
          [](meta::AccountStore& accounts, const Args&) {
            auto robots = accounts.list_robots();
            if (!robots) {
              return report(robots.error());
            }
            for (const auto& r : *robots) {
              std::string scopes;
              for (const auto& s : r.scopes) {
                scopes += (scopes.empty() ? "" : ",") + s.project + ":" +
                          std::string(meta::role_name(s.role));
              }
              fmt::print("{}\t{}\texpires {}\tlast used {}{}\n", r.name, scopes,
                         utc_time(r.expires), utc_time(r.last_used), r.revoked ? "\trevoked" : "");
            }
            return 0;
          });

  auto revoke = std::make_shared<Args>();
  auto* revoke_cmd = command(robot, "revoke", "Revoke a robot's token", revoke, exit_code,
                             [](meta::AccountStore& accounts, const Args& a) {
                               if (auto revoked = accounts.revoke_robot(a.name); !revoked) {
                                 return report(revoked.error());
                               }
                               fmt::print("revoked robot {}\n", a.name);
                               return 0;
                             });
  revoke_cmd->add_option("name", revoke->name, "Robot name")->required();

  auto del = std::make_shared<Args>();
  auto* del_cmd = command(robot, "delete", "Delete a robot", del, exit_code,
                          [](meta::AccountStore& accounts, const Args& a) {
                            if (auto deleted = accounts.delete_robot(a.name); !deleted) {
                              return report(deleted.error());
                            }
                            return 0;
                          });
  del_cmd->add_option("name", del->name, "Robot name")->required();
}

}  // namespace

void add_account_commands(CLI::App& app, int& exit_code) {
  add_user_commands(app, exit_code);
  add_project_commands(app, exit_code);
  add_robot_commands(app, exit_code);
}

}  // namespace berth::cli
