// The audit log on the command line: `berth audit` lists its entries (the filters of
// GET /api/v1/audit), and the account commands (user, project, member, robot) add an entry for
// each change they make, as the API does for its own.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "cli/account_command_support.hpp"
#include "meta/audit_store.hpp"

namespace berth::cli {

void add_audit_command(CLI::App& app, int& exit_code);

// The audit action of an account command ("project member add" is member.update), or "" for
// one that changes nothing (list).
[[nodiscard]] std::string cli_audit_action(const std::string& command);

// Adds the entry of an account command that ran (`command` as cli_audit_action takes it) to
// the store, as "cli:<login name>". A failure to write it is said on stderr, not fatal: the
// change itself was made.
void record_cli_change(meta::AuditStore& store, const std::string& command, const AccountArgs& args,
                       int exit_code);

// Adds one entry by the CLI's user (at now, no address), saying so on stderr if it fails.
void record_cli_entry(meta::AuditStore& store, meta::AuditEntry entry);

}  // namespace berth::cli
