// berth user|project|robot: managing accounts from the command line, directly on the data
// directory's database. Safe while a server runs on the same data (SQLite WAL, short
// transactions); the server sees the changes at once.
#pragma once

#include <CLI/CLI.hpp>

namespace berth::cli {

// Adds the commands; a command that ran sets exit_code.
void add_account_commands(CLI::App& app, int& exit_code);

}  // namespace berth::cli
