// berth gc (gc_command.hpp): flags, opening the data directory, printing the report. The
// collection itself is lifecycle/garbage_collector.cpp's.
#include "cli/gc_command.hpp"

#include <fmt/core.h>

#include <filesystem>
#include <memory>
#include <string>

#include "cli/audit_commands.hpp"
#include "cli/command_support.hpp"
#include "cli/config_flags.hpp"
#include "core/clock.hpp"
#include "core/progress.hpp"
#include "lifecycle/garbage_collector.hpp"
#include "server/blob_store_setup.hpp"

namespace berth::cli {
namespace {

struct GcArgs {
  ConfigFlags flags;
  bool dry_run = false;
  bool json = false;
  bool verbose = false;
  std::string grace;
  std::string untagged_after;
};

int run_gc(const GcArgs& args) {
  auto config = effective_config(args.flags);
  if (!config) {
    return fail(config.error().message, 2);
  }
  // The flags go through the configuration's own keys: the same syntax and the same limits.
  if (!args.grace.empty()) {
    if (auto set = config::set_key(*config, "gc.blob_grace", args.grace); !set) {
      return fail("--grace: " + set.error().message, 2);
    }
  }
  if (!args.untagged_after.empty()) {
    if (auto set = config::set_key(*config, "gc.untagged_after", args.untagged_after); !set) {
      return fail("--untagged-after: " + set.error().message, 2);
    }
  }
  auto stores = open_database(*config, MissingDatabase::kRefuse);
  if (!stores) {
    return report(stores.error());
  }
  std::string where;
  auto blobs = server::open_blob_store(*config, config::process_environment(), where);
  if (!blobs) {
    return fail("cannot open blob storage (" + where + "): " + blobs.error().message);
  }

  lifecycle::GcOptions options;
  options.dry_run = args.dry_run;
  options.started_by = "berth gc";
  options.blob_grace = config->gc.blob_grace;
  if (config->gc.untagged_after > config::Duration::zero()) {
    options.untagged_after = config->gc.untagged_after;
  }
  core::SystemClock clock;
  lifecycle::GarbageCollector collector(*stores->gc, **blobs, clock);
  auto progress = stderr_progress(args.dry_run ? "gc (dry run)" : "gc", "items removed");
  options.progress = [&progress](const core::Progress& done) { progress.update(done); };
  auto report = collector.run(options);
  progress.finish(report ? "" : "failed");
  record_cli_entry(*stores->audit,
                   meta::AuditEntry{.action = "gc.run",
                                    .target = args.dry_run ? "dry run" : "",
                                    .result = report ? "ok" : "failed",
                                    .detail = report ? lifecycle::report_summary(*report)
                                                     : report.error().message});
  if (!report) {
    return fail(report.error().message,
                report.error().code == core::ErrorCode::kConflict ? kGcAlreadyRunning : 1);
  }
  if (args.json) {
    fmt::print("{}\n", lifecycle::report_json(*report));
  } else {
    // A dry run is asked for to see the list; a real one lists on request.
    if (report->dry_run || args.verbose) {
      for (const auto& item : report->removed) {
        fmt::print("{:<9} {}{}{} {} bytes\n", lifecycle::item_kind_name(item.kind), item.repository,
                   item.repository.empty() ? "" : "@", item.digest.str(), item.size);
      }
    }
    fmt::print("{}\n", lifecycle::report_summary(*report));
  }
  for (const auto& error : report->errors) {
    fmt::print(stderr, "berth: {}\n", error);
  }
  return report->errors.empty() ? 0 : 1;
}

}  // namespace

void add_gc_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<GcArgs>();
  auto* gc = app.add_subcommand(
      "gc",
      "Collect garbage: remove blobs nothing references (and untagged manifests, if asked). "
      "Safe while a server uses the same data. Exit 75 if another collection is running.");
  add_config_flags(gc, args->flags, false);
  gc->add_flag("--dry-run", args->dry_run, "List what would be removed; remove nothing");
  gc->add_option("--grace", args->grace,
                 "Keep unreferenced blobs younger than this, e.g. 24h (default: gc.blob_grace)");
  gc->add_option("--untagged-after", args->untagged_after,
                 "Also remove untagged manifests pushed longer ago than this, e.g. 30d; 0 keeps "
                 "them (default: gc.untagged_after)");
  gc->add_flag("--json", args->json, "Print the report as JSON");
  gc->add_flag("--verbose,-v", args->verbose, "List every item removed");
  gc->callback([args, &exit_code] { exit_code = run_gc(*args); });
}

}  // namespace berth::cli
