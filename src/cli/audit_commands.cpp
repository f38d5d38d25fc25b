#include "cli/audit_commands.hpp"

#include <fmt/core.h>
#include <pwd.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <memory>
#include <utility>

#include "audit/audit_log.hpp"
#include "cli/command_support.hpp"
#include "util/utc_time.hpp"

namespace berth::cli {
namespace {

// Who runs the CLI: its login name (the database file's owner is whoever runs Berth; the
// person is who the operating system says).
std::string cli_actor() {
  if (const passwd* entry = ::getpwuid(::geteuid()); entry != nullptr && entry->pw_name) {
    return std::string("cli:") + entry->pw_name;
  }
  return "cli:uid " + std::to_string(::geteuid());
}

struct AuditArgs {
  ConfigFlags flags;
  meta::AuditQuery query;
  std::string since;
  std::string until;
  std::size_t page = 0;
  std::int64_t cursor = 0;
  bool json = false;
};

// "2026-12-06T08:00:00Z", or a duration back from now ("24h", "7d").
core::Result<core::TimePoint> parse_time(const std::string& text) {
  if (auto time = util::parse_utc(text)) {
    return *time;
  }
  if (auto ago = config::parse_duration(text)) {
    return std::chrono::system_clock::now() - *ago;
  }
  return core::fail(
      core::ErrorCode::kInvalidRequest,
      "expected a time as 2026-12-06T08:30:00Z or a duration back like 24h, not '" + text + "'");
}

void print_table(const std::vector<meta::AuditEntry>& entries) {
  fmt::print("{:<20} {:<16} {:<15} {:<16} {:<12} {:<32} {:<7} {}\n", "TIME", "USER", "REMOTE",
             "ACTION", "PROJECT", "TARGET", "RESULT", "DETAIL");
  for (const auto& e : entries) {
    std::string detail = e.detail;
    if (e.count > 1) {
      detail += (detail.empty() ? "" : " ") + std::string("x") + std::to_string(e.count);
    }
    fmt::print("{:<20} {:<16} {:<15} {:<16} {:<12} {:<32} {:<7} {}\n", utc_time(e.at), e.actor,
               e.remote.empty() ? "-" : e.remote, e.action, e.project.empty() ? "-" : e.project,
               e.target.empty() ? "-" : e.target,
               e.status != 0 ? e.result + " " + std::to_string(e.status) : e.result, detail);
  }
}

int list_audit(const AuditArgs& args) {
  auto config = effective_config(args.flags);
  if (!config) {
    return report(config.error());
  }
  meta::AuditQuery query = args.query;
  for (auto [text, bound] :
       {std::pair{&args.since, &query.since}, std::pair{&args.until, &query.until}}) {
    if (!text->empty()) {
      auto time = parse_time(*text);
      if (!time) {
        return usage(time.error().message);
      }
      *bound = *time;
    }
  }
  if (args.cursor > 0) {
    query.before_id = args.cursor;
  }
  if (args.page > 0) {
    query.offset = (args.page - 1) * query.limit;
  }
  auto stores = open_database(*config, MissingDatabase::kRefuse);
  if (!stores) {
    return report(stores.error());
  }
  auto entries = stores->audit->list(query);
  if (!entries) {
    return report(entries.error());
  }
  if (!args.json) {
    print_table(*entries);
    return 0;
  }
  for (const auto& entry : *entries) {
    fmt::print("{}\n", audit::to_json_line(entry));
  }
  return 0;
}

}  // namespace

std::string cli_audit_action(const std::string& command) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 13> kActions = {{
      {"user add", "user.create"},
      {"user passwd", "user.password"},
      {"user admin", "user.update"},
      {"user del", "user.delete"},
      {"user unlock", "user.unlock"},
      {"project create", "project.create"},
      {"project public", "project.update"},
      {"project delete", "project.delete"},
      {"project member add", "member.update"},
      {"project member remove", "member.delete"},
      {"robot create", "robot.create"},
      {"robot revoke", "robot.revoke"},
      {"robot delete", "robot.delete"},
  }};
  for (const auto& [name, action] : kActions) {
    if (command == name) {
      return std::string(action);
    }
  }
  return "";
}

void record_cli_change(meta::AuditStore& store, const std::string& command, const AccountArgs& args,
                       int exit_code) {
  const std::string action = cli_audit_action(command);
  if (action.empty()) {
    return;
  }
  const bool about_project = command.starts_with("project");
  record_cli_entry(store, meta::AuditEntry{.action = action,
                                           .project = !args.project.empty() ? args.project
                                                      : about_project       ? args.name
                                                                            : "",
                                           .target = !args.user.empty() ? args.user : args.name,
                                           .result = exit_code == 0 ? "ok" : "failed",
                                           .detail = args.with_images ? "with images" : ""});
}

void record_cli_entry(meta::AuditStore& store, meta::AuditEntry entry) {
  entry.at = std::chrono::system_clock::now();
  entry.actor = cli_actor();
  if (auto written = store.append({entry}); !written) {
    fmt::print(stderr, "berth: warning: the audit log entry was not written: {}\n",
               written.error().message);
  }
}

void add_audit_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<AuditArgs>();
  auto* cmd = app.add_subcommand("audit", "List the audit log, newest first");
  add_config_flags(cmd, args->flags, false);
  cmd->add_option("--user", args->query.actor, "Only this user's entries");
  cmd->add_option("--project", args->query.project, "Only this project's entries");
  cmd->add_option("--action", args->query.action,
                  "Only this action (manifest.push, tag.delete, signin, project.create, ...)");
  cmd->add_option("--since", args->since, "From this time (2026-12-06T08:00:00Z, or 24h ago)");
  cmd->add_option("--until", args->until, "Before this time (the same forms)");
  cmd->add_option("-n,--limit", args->query.limit, "Entries per page (default 100)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--page", args->page, "Page number, from 1")->check(CLI::PositiveNumber);
  cmd->add_option("--cursor", args->cursor, "Only entries older than the entry with this id");
  cmd->add_flag("--json", args->json, "One JSON object per line");
  cmd->callback([args, &exit_code] { exit_code = list_audit(*args); });
}

}  // namespace berth::cli
