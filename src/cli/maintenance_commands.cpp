// berth check, berth backup and berth restore: the command-line side (flags, opening the data
// directory, printing); the work is lifecycle/check.cpp and lifecycle/backup.cpp.
#include "cli/maintenance_commands.hpp"

#include <fmt/core.h>
#include <fmt/format.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <thread>

#include "cli/command_support.hpp"
#include "cli/config_flags.hpp"
#include "core/clock.hpp"
#include "core/progress.hpp"
#include "lifecycle/backup.hpp"
#include "lifecycle/check.hpp"
#include "lifecycle/maintenance_lease.hpp"
#include "lifecycle/registry_policy_impl.hpp"
#include "meta/metadata_transfer.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "server/blob_store_setup.hpp"
#include "server/metadata_setup.hpp"
#include "version.hpp"

namespace berth::cli {
namespace {

namespace json = boost::json;

// Exit codes of berth check.
constexpr int kCheckClean = 0;
constexpr int kCheckProblems = 1;
constexpr int kCheckFailed = 2;

std::size_t default_threads() {
  return std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 4);
}

// --lease-ttl: whole seconds, at least 1 (the lease is renewed every third of it).
std::optional<std::chrono::seconds> parse_lease_ttl(const std::string& text) {
  auto ttl = config::parse_duration(text);
  if (!ttl || *ttl < std::chrono::seconds(1)) {
    fmt::print(stderr, "berth: --lease-ttl: expected a duration of at least 1s, got '{}'\n", text);
    return std::nullopt;
  }
  return std::chrono::duration_cast<std::chrono::seconds>(*ttl);
}

std::string seconds(std::chrono::milliseconds elapsed) {
  return fmt::format("{:.1f}s", static_cast<double>(elapsed.count()) / 1000);
}

// The data directory's stores, as every maintenance command opens them.
struct DataStores {
  config::Config config;
  meta::SqliteStores meta;
  std::unique_ptr<storage::BlobStore> blobs;
};

core::Result<DataStores> open_data(const ConfigFlags& flags) {
  auto config = effective_config(flags);
  if (!config) {
    return std::unexpected(config.error());
  }
  auto stores = open_database(*config, MissingDatabase::kRefuse);
  if (!stores) {
    return std::unexpected(stores.error());
  }
  // The configured driver: checking S3-backed metadata against an empty directory would
  // report every blob missing.
  std::string where;
  auto blobs = server::open_blob_store(*config, config::process_environment(), where);
  if (!blobs) {
    return std::unexpected(blobs.error());
  }
  return DataStores{std::move(*config), std::move(*stores), std::move(*blobs)};
}

// ---- berth check

struct CheckArgs {
  ConfigFlags flags;
  bool repair = false;
  bool no_hash = false;
  bool json = false;
  std::string grace = "1h";
  std::string lease_ttl = "60s";
  std::size_t threads = default_threads();
};

json::object finding_json(const lifecycle::Finding& finding) {
  json::array affected;
  for (const auto& reference : finding.affected) {
    affected.emplace_back(reference);
  }
  return json::object{{"kind", lifecycle::kind_name(finding.kind)},
                      {"subject", finding.subject()},
                      {"detail", finding.detail},
                      {"affected", std::move(affected)},
                      {"repairable", finding.repairable},
                      {"action", finding.action},
                      {"fixed", finding.fixed},
                      {"remedy", finding.remedy()}};
}

void print_check_json(const lifecycle::CheckReport& report, bool repaired) {
  json::array findings;
  for (const auto& finding : report.findings) {
    findings.push_back(finding_json(finding));
  }
  const auto& s = report.stats;
  json::object out{{"ok", report.remaining() == 0},
                   {"repaired", repaired},
                   {"problems", report.findings.size()},
                   {"remaining", report.remaining()},
                   {"stats", json::object{{"blob_files", s.blob_files},
                                          {"blob_rows", s.blob_rows},
                                          {"manifests", s.manifests},
                                          {"uploads", s.uploads},
                                          {"bytes_hashed", s.bytes_hashed},
                                          {"young_leftovers", s.young_leftovers},
                                          {"elapsed_ms", s.elapsed.count()}}},
                   {"findings", std::move(findings)}};
  fmt::print("{}\n", json::serialize(out));
}

void print_check_text(const lifecycle::CheckReport& report, bool repaired) {
  const auto& s = report.stats;
  fmt::print("checked {} blob files ({} hashed), {} blob records, {} manifests, {} uploads in {}\n",
             s.blob_files, lifecycle::human_bytes(s.bytes_hashed), s.blob_rows, s.manifests,
             s.uploads, seconds(s.elapsed));
  if (s.young_leftovers > 0) {
    fmt::print(
        "left alone {} unreferenced files younger than the grace period (pushes in "
        "flight, or garbage for later)\n",
        s.young_leftovers);
  }
  for (const auto& finding : report.findings) {
    fmt::print("{:<18} {}: {}\n", lifecycle::kind_name(finding.kind), finding.subject(),
               finding.detail);
    if (!finding.affected.empty()) {
      fmt::print("{:<18} needed by: {}\n", "", fmt::join(finding.affected, ", "));
    }
    if (!finding.action.empty()) {
      fmt::print("{:<18} {}: {}\n", "", finding.fixed ? "repaired" : "did", finding.action);
    }
    if (auto remedy = finding.remedy(); !remedy.empty()) {
      fmt::print("{:<18} to do: {}\n", "", remedy);
    }
  }
  if (report.findings.empty()) {
    fmt::print("no problems found\n");
    return;
  }
  const auto remaining = report.remaining();
  if (repaired) {
    fmt::print("{} problems found, {} repaired, {} remain\n", report.findings.size(),
               report.findings.size() - remaining, remaining);
  } else {
    // Repair drops bad bytes that images still need, but only a push brings those back.
    const auto fixable = std::count_if(
        report.findings.begin(), report.findings.end(),
        [](const lifecycle::Finding& f) { return f.repairable && !f.needs_push_after_repair(); });
    const auto prepared = std::count_if(
        report.findings.begin(), report.findings.end(),
        [](const lifecycle::Finding& f) { return f.repairable && f.needs_push_after_repair(); });
    if (prepared == 0) {
      fmt::print("{} problems found; berth check --repair can fix {} of them\n",
                 report.findings.size(), fixable);
    } else {
      fmt::print(
          "{} problems found; berth check --repair can fix {} of them and prepare {} for "
          "pushing the images again\n",
          report.findings.size(), fixable, prepared);
    }
  }
}

// The callback that feeds a reporter (which outlives the run it watches).
core::ProgressCallback progress_to(core::ProgressReporter& reporter) {
  return [&reporter](const core::Progress& done) { reporter.update(done); };
}

int run_check(const CheckArgs& args) {
  auto grace = config::parse_duration(args.grace);
  if (!grace) {
    return fail("--grace: " + grace.error().message, kCheckFailed);
  }
  auto lease_ttl = parse_lease_ttl(args.lease_ttl);
  if (!lease_ttl) {
    return kCheckFailed;
  }
  auto data = open_data(args.flags);
  if (!data) {
    report(data.error());
    return kCheckFailed;
  }
  core::SystemClock clock;
  auto progress = stderr_progress("check", "blob files hashed");
  lifecycle::Checker checker(
      lifecycle::CheckStores{*data->meta.metadata, *data->meta.check, *data->blobs, *data->meta.gc},
      clock,
      lifecycle::CheckOptions{.hash = !args.no_hash,
                              .threads = args.threads,
                              .grace = *grace,
                              .lease_ttl = *lease_ttl,
                              .progress = progress_to(progress)});
  auto checked = checker.check();
  progress.finish(checked ? std::to_string(checked->findings.size()) + " problems" : "failed");
  if (!checked) {
    report(checked.error());
    return kCheckFailed;
  }
  if (args.repair) {
    auto repaired = checker.repair(*checked, lifecycle::lease_holder_name("check"), [] {
      fmt::print(stderr, "waiting for garbage collection to finish (it holds the gc lease)\n");
    });
    if (!repaired) {
      report(repaired.error());
      return kCheckFailed;
    }
  }
  if (args.json) {
    print_check_json(*checked, args.repair);
  } else {
    print_check_text(*checked, args.repair);
  }
  return checked->remaining() == 0 ? kCheckClean : kCheckProblems;
}

// ---- berth backup / restore

struct BackupArgs {
  ConfigFlags flags;
  std::string dir;
  std::string lease_ttl = "60s";
  std::size_t threads = default_threads();
};

// The running registry as a backup sees it: its metadata snapshot (SQLite's file copied, or
// PostgreSQL's rows exported into the same SQLite schema), its blob store, and the
// directories a backup must not be written into.
lifecycle::BackupSource backup_source(DataStores& data) {
  const auto& config = data.config;
  if (config.metadata.driver != "postgres") {
    return lifecycle::sqlite_backup_source(config.sqlite_path(), *data.blobs, config.storage_root(),
                                           *data.meta.gc);
  }
  return lifecycle::BackupSource{[url = config.metadata.postgres.url](const std::string& to) {
                                   return meta::export_postgres_to_sqlite(url, to);
                                 },
                                 *data.blobs,
                                 {config.storage_root(), config.data},
                                 *data.meta.gc};
}

int run_backup(const BackupArgs& args) {
  auto lease_ttl = parse_lease_ttl(args.lease_ttl);
  if (!lease_ttl) {
    return 2;
  }
  auto data = open_data(args.flags);
  if (!data) {
    return report(data.error());
  }
  core::SystemClock clock;
  const auto started = std::chrono::steady_clock::now();
  lifecycle::BackupOptions options;
  options.dir = args.dir;
  options.berth_version = kVersion;
  options.holder = lifecycle::lease_holder_name("backup");
  options.threads = args.threads;
  options.lease_ttl = *lease_ttl;
  options.on_wait = [] {
    fmt::print(stderr, "waiting for garbage collection to finish (it holds the gc lease)\n");
  };
  auto progress = stderr_progress("backup", "blobs");
  options.progress = progress_to(progress);
  auto backup = lifecycle::run_backup(backup_source(*data), options, clock);
  progress.finish(backup ? "" : "failed");
  if (!backup) {
    return report(backup.error());
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  fmt::print(
      "backed up {} repositories, {} manifests, {} tags and {} blobs ({}) into {} in {}: {} "
      "blobs copied, {} kept from an earlier run, {} removed\n",
      backup->repositories, backup->manifests, backup->tags, backup->blobs,
      lifecycle::human_bytes(backup->blob_bytes), args.dir, seconds(elapsed), backup->copied,
      backup->reused, backup->removed);
  if (!backup->damaged.empty()) {
    fmt::print(stderr,
               "berth: {} blobs were missing or corrupt in the data directory and are not in "
               "the backup; berth check says which images need them:\n",
               backup->damaged.size());
    for (const auto& damaged : backup->damaged) {
      fmt::print(stderr, "  {}\n", damaged);
    }
    return 1;
  }
  return 0;
}

struct RestoreArgs {
  ConfigFlags flags;
  std::string dir;
  std::size_t threads = default_threads();
};

int run_restore(const RestoreArgs& args) {
  if (args.flags.data.empty() && args.flags.file.empty()) {
    // The default ./data is too easy to hit by accident for a command that fills it.
    fmt::print(stderr, "berth: say where to restore to: --data DIR or --config FILE\n");
    return 2;
  }
  auto config = effective_config(args.flags);
  if (!config) {
    return report(config.error());
  }
  lifecycle::RestoreTarget target{.storage_root = config->storage_root(),
                                  .sqlite_path = config->sqlite_path()};
  // The embedded shape's store is made by the restore in an empty directory; any other
  // (S3) is the configured one.
  std::unique_ptr<storage::BlobStore> blobs;
  std::string where = config->storage_root().string();
  if (config->metadata.driver == "postgres") {
    target.postgres_url = config->metadata.postgres.url;
  }
  if (config->storage.driver != "filesystem") {
    auto opened = server::open_blob_store(*config, config::process_environment(), where);
    if (!opened) {
      return report(opened.error());
    }
    blobs = std::move(*opened);
    target.blobs = blobs.get();
  }
  const auto started = std::chrono::steady_clock::now();
  auto progress = stderr_progress("restore", "blobs");
  auto restored = lifecycle::run_restore(args.dir, target, args.threads, progress_to(progress));
  progress.finish(restored ? "" : "failed");
  if (!restored) {
    return report(restored.error());
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  const auto& backup = restored->backup;
  fmt::print(
      "restored the backup in {} ({} repositories, {} manifests, {} tags) into {} and {}: {} "
      "blobs ({}) verified in {}, {} of them already there\n",
      args.dir, backup.repositories, backup.manifests, backup.tags, where,
      server::metadata_description(*config), restored->blobs,
      lifecycle::human_bytes(restored->bytes), seconds(elapsed), restored->reused);
  if (!restored->damaged.empty()) {
    fmt::print(stderr,
               "berth: {} blobs of the backup could not be restored; berth check on the restored "
               "data says which images need them:\n",
               restored->damaged.size());
    for (const auto& damaged : restored->damaged) {
      fmt::print(stderr, "  {}\n", damaged);
    }
    return 1;
  }
  return 0;
}

}  // namespace

void add_maintenance_commands(CLI::App& app, int& exit_code) {
  auto check_args = std::make_shared<CheckArgs>();
  auto* check = app.add_subcommand(
      "check",
      "Verify that blob storage and metadata agree; exit 0 if no problem remains, 1 if some "
      "do, 2 if the check could not run");
  add_config_flags(check, check_args->flags, false);
  check->add_flag("--repair", check_args->repair,
                  "Fix what can be fixed (holds the gc lease; safe while a server runs)");
  check->add_flag("--no-hash", check_args->no_hash,
                  "Do not hash blobs, only compare sizes (fast, finds far less)");
  check->add_flag("--json", check_args->json, "Print the report as JSON");
  check->add_option("--grace", check_args->grace,
                    "Leave unreferenced files and uploads younger than this alone (default 1h)");
  check->add_option("--lease-ttl", check_args->lease_ttl,
                    "How long the gc lease of --repair outlives a killed check (default 60s)");
  check->add_option("--threads", check_args->threads, "Threads hashing blobs")
      ->check(CLI::Range(1, 64));
  check->callback([check_args, &exit_code] { exit_code = run_check(*check_args); });

  auto backup_args = std::make_shared<BackupArgs>();
  auto* backup = app.add_subcommand(
      "backup",
      "Take a consistent backup into DIR while the server runs, of either shape (DIR: new, "
      "empty, or an earlier backup to refresh)");
  add_config_flags(backup, backup_args->flags, false);
  backup->add_option("dir", backup_args->dir, "Backup directory")->required();
  backup->add_option("--lease-ttl", backup_args->lease_ttl,
                     "How long the gc lease outlives a killed backup (default 60s)");
  backup->add_option("--threads", backup_args->threads, "Threads copying blobs")
      ->check(CLI::Range(1, 64));
  backup->callback([backup_args, &exit_code] { exit_code = run_backup(*backup_args); });

  auto restore_args = std::make_shared<RestoreArgs>();
  auto* restore = app.add_subcommand(
      "restore",
      "Restore the backup in DIR into an empty registry of either shape: the data directory, or "
      "the configured blob store and PostgreSQL database (--data or --config)");
  add_config_flags(restore, restore_args->flags, false);
  restore->add_option("dir", restore_args->dir, "Backup directory")->required();
  restore->add_option("--threads", restore_args->threads, "Threads copying blobs")
      ->check(CLI::Range(1, 64));
  restore->callback([restore_args, &exit_code] { exit_code = run_restore(*restore_args); });
}

}  // namespace berth::cli
