#include "server/garbage_collection.hpp"

#include <spdlog/spdlog.h>

#include <string>
#include <utility>

#include "lifecycle/gc_report_fields.hpp"
#include "server/logging.hpp"

namespace berth::server {
namespace {

// The audit entry of a collection's start or end; its actor is who started it.
audit::Entry gc_entry(const lifecycle::GcOptions& options, std::string action, std::string result,
                      std::string detail) {
  return audit::Entry{.actor = options.started_by.empty() ? "system" : options.started_by,
                      .action = std::move(action),
                      .target = options.dry_run ? "dry run" : "",
                      .result = std::move(result),
                      .detail = std::move(detail)};
}

// What a collection removed, for operators: each item (the first hundred at info, the rest at
// debug, so a first collection of a big store does not flood the log), the errors, a summary.
void log_gc_report(const lifecycle::GcReport& report, std::string_view trigger) {
  constexpr std::size_t kItemsAtInfo = 100;
  for (std::size_t i = 0; i < report.removed.size(); ++i) {
    const auto& item = report.removed[i];
    spdlog::log(i < kItemsAtInfo ? spdlog::level::info : spdlog::level::debug,
                "garbage collection ({}): {} {} {}{}{} ({} bytes)", trigger,
                report.dry_run ? "would remove" : "removed", lifecycle::item_kind_name(item.kind),
                item.repository, item.repository.empty() ? "" : "@", item.digest.str(), item.size);
  }
  if (report.removed.size() > kItemsAtInfo) {
    spdlog::info("garbage collection ({}): {} more items at debug level", trigger,
                 report.removed.size() - kItemsAtInfo);
  }
  for (const auto& error : report.errors) {
    spdlog::warn("garbage collection ({}): {}", trigger, error);
  }
  const bool quiet = report.removed.empty() && report.errors.empty();
  boost::json::object fields = lifecycle::report_figures(report);
  fields["event"] = "gc";
  fields["trigger"] = trigger;
  fields["errors"] = report.errors.size();
  fields["cancelled"] = report.cancelled;
  log_fields(
      quiet ? spdlog::level::debug : spdlog::level::info,
      "garbage collection (" + std::string(trigger) + "): " + lifecycle::report_summary(report),
      fields);
}

}  // namespace

lifecycle::GcOptions gc_options(const config::Config& config) {
  lifecycle::GcOptions options;
  options.blob_grace = config.gc.blob_grace;
  if (config.gc.untagged_after > config::Duration::zero()) {
    options.untagged_after = config.gc.untagged_after;
  }
  return options;
}

core::Result<lifecycle::GcReport> collect_garbage(lifecycle::GarbageCollector& collector,
                                                  const lifecycle::GcOptions& options,
                                                  std::string_view trigger,
                                                  metrics::OperationsMetrics* operations,
                                                  audit::AuditLog* audit) {
  if (audit != nullptr) {
    audit->record(gc_entry(options, "gc.start", "ok", std::string(trigger)));
  }
  auto report = collector.run(options);
  if (audit != nullptr) {
    audit->record(report ? gc_entry(options, "gc.finish", "ok", lifecycle::report_summary(*report))
                         : gc_entry(options, "gc.finish", "failed", report.error().message));
  }
  if (!report) {
    // Another collector running (berth gc, or an earlier run still going) is no failure.
    const bool busy = report.error().code == core::ErrorCode::kConflict;
    if (operations != nullptr && !busy && !options.dry_run) {
      operations->gc_finished(false, {}, 0, 0);
    }
    spdlog::log(busy ? spdlog::level::info : spdlog::level::warn, "garbage collection ({}): {}",
                trigger, report.error().message);
    return report;
  }
  if (operations != nullptr && !report->dry_run) {
    operations->gc_finished(report->errors.empty(), report->duration, report->bytes_reclaimed,
                            report->removed.size());
  }
  log_gc_report(*report, trigger);
  return report;
}

void finish_tombstones(lifecycle::GarbageCollector& collector, std::string_view trigger,
                       std::stop_token stop) {
  auto finished = collector.finish_tombstones(std::move(stop));
  if (!finished) {
    // Busy is worth saying once at start; every 10 s while a collection runs, it is not.
    const bool busy = finished.error().code == core::ErrorCode::kConflict;
    const auto level = !busy                ? spdlog::level::warn
                       : trigger == "start" ? spdlog::level::info
                                            : spdlog::level::debug;
    spdlog::log(level, "garbage collection ({}): {}", trigger, finished.error().message);
    return;
  }
  log_gc_report(*finished, trigger);
}

}  // namespace berth::server
