// berth check | backup | restore: integrity check and repair, online backup, restore into an
// empty data directory. Each works directly on a data directory and is safe while a server
// uses the same data (see lifecycle/check.hpp and lifecycle/backup.hpp for why).
#pragma once

#include <CLI/CLI.hpp>

namespace berth::cli {

// Adds the commands; a command that ran sets exit_code.
void add_maintenance_commands(CLI::App& app, int& exit_code);

}  // namespace berth::cli
