// berth webhook list | add | delete | deliveries | redeliver: project webhooks and webhook
// deliveries, from the command line, directly on the data directory's database like the
// account commands (the admin API's /api/v1/projects/{p}/webhooks and
// /api/v1/webhooks/deliveries do the same over HTTP). Safe while a server runs: each command
// is one short transaction, and a redelivered delivery is picked up by the server's worker at
// its next round.
#pragma once

#include <CLI/CLI.hpp>

namespace berth::cli {

void add_webhook_commands(CLI::App& app, int& exit_code);

}  // namespace berth::cli
