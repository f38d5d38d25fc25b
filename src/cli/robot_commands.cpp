// berth robot create|list|revoke|delete.
#include <fmt/core.h>

#include <optional>

#include "auth/account_names.hpp"
#include "auth/identity.hpp"
#include "auth/password.hpp"
#include "cli/account_command_support.hpp"
#include "cli/command_support.hpp"
#include "core/clock.hpp"

namespace berth::cli {
namespace {

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

}  // namespace

void add_robot_commands(CLI::App& app, int& exit_code) {
  auto* robot = app.add_subcommand("robot", "Manage robot accounts (tokens for CI)");
  robot->require_subcommand(1);

  auto create = std::make_shared<AccountArgs>();
  auto* create_cmd = account_command(
      robot, "create", "Create a robot; prints its token once", create, exit_code,
      [](AccountContext& context, const AccountArgs& a) {
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
        if (auto created = context.stores.accounts->create_robot(robot); !created) {
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

  auto list = std::make_shared<AccountArgs>();
  account_command(robot, "list", "List robots", list, exit_code,
                  [](AccountContext& context, const AccountArgs&) {
                    auto robots = context.stores.accounts->list_robots();
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
                                 utc_time(r.expires), utc_time(r.last_used),
                                 r.revoked ? "\trevoked" : "");
                    }
                    return 0;
                  });

  auto revoke = std::make_shared<AccountArgs>();
  auto* revoke_cmd = account_command(
      robot, "revoke", "Revoke a robot's token", revoke, exit_code,
      [](AccountContext& context, const AccountArgs& a) {
        if (auto revoked = context.stores.accounts->revoke_robot(a.name); !revoked) {
          return report(revoked.error());
        }
        fmt::print("revoked robot {}\n", a.name);
        return 0;
      });
  revoke_cmd->add_option("name", revoke->name, "Robot name")->required();

  auto del = std::make_shared<AccountArgs>();
  auto* del_cmd = account_command(
      robot, "delete", "Delete a robot", del, exit_code,
      [](AccountContext& context, const AccountArgs& a) {
        if (auto deleted = context.stores.accounts->delete_robot(a.name); !deleted) {
          return report(deleted.error());
        }
        return 0;
      });
  del_cmd->add_option("name", del->name, "Robot name")->required();
}

}  // namespace berth::cli
