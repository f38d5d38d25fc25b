#include "cli/account_commands.hpp"

#include "cli/account_command_support.hpp"

namespace berth::cli {

void add_account_commands(CLI::App& app, int& exit_code) {
  add_user_commands(app, exit_code);
  add_project_commands(app, exit_code);
  add_robot_commands(app, exit_code);
}

}  // namespace berth::cli
