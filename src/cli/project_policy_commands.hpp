// berth project settings | usage | tags | retention: a project's lifecycle settings (immutable
// tags, quotas, retention policy), its usage, its tags' pull statistics and its retention
// policy's preview and run, from the command line, directly on the data directory's database
// like the account commands. The JSON is the admin API's (lifecycle/project_settings.hpp,
// lifecycle/retention.hpp), parsed and checked by the same code; preview and run are
// lifecycle::Retention's, as the API's and the server's schedule are.
//
// Safe while a server runs on the same data: each command is a few short SQLite transactions
// (WAL), the server reads the settings on every push, and a retention run re-checks every
// deletion inside its transaction, so a push that moved a tag since the plan wins. `settings
// set` with flags and `retention enable|disable` read the settings, change a key and write them
// all back: like two PUTs of the admin API, the last writer wins a race on the same project.
#pragma once

#include <CLI/CLI.hpp>

namespace berth::cli {

// Adds the commands under `project` (the `berth project` command); a command that ran sets
// exit_code.
void add_project_policy_commands(CLI::App& project, int& exit_code);

}  // namespace berth::cli
