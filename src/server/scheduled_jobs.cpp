#include "server/scheduled_jobs.hpp"

#include <spdlog/spdlog.h>

#include <stop_token>

#include "lifecycle/maintenance_lease.hpp"
#include "lifecycle/schedule_lease.hpp"
#include "server/garbage_collection.hpp"
#include "server/logging.hpp"
#include "server/webhooks.hpp"

namespace berth::server {
namespace {

// The audit entry of one project's scheduled retention run, with its figures.
audit::Entry retention_entry(const lifecycle::Retention::ScheduledRun& run) {
  audit::Entry entry{.actor = "schedule",
                     .action = "retention.run",
                     .project = run.project,
                     .target = run.project};
  if (!run.outcome) {
    entry.result = "failed";
    entry.detail = run.outcome.error().message;
    return entry;
  }
  entry.result = "ok";
  entry.detail = "deleted " + std::to_string(run.outcome->deleted.tags.size()) + " tags and " +
                 std::to_string(run.outcome->deleted.manifests.size()) + " manifests, " +
                 std::to_string(run.outcome->freed_bytes) + " bytes to free";
  return entry;
}

void run_due_retention(const JobTargets& targets, std::stop_token stop) {
  auto runs = targets.retention.run_due(std::move(stop));
  if (!runs) {
    spdlog::warn("retention: listing the policies failed: {}", runs.error().message);
    return;
  }
  for (const auto& run : *runs) {
    note_retention_run(targets.operations, targets.registry, targets.clock, run);
    if (targets.audit != nullptr) {
      targets.audit->record(retention_entry(run));
    }
    if (!run.outcome) {
      spdlog::warn("retention of project {} failed: {}", run.project, run.outcome.error().message);
      continue;
    }
    const auto& outcome = *run.outcome;
    const std::size_t skipped = outcome.skipped_tags + outcome.skipped_manifests;
    log_fields(spdlog::level::info,
               fmt::format("retention of project {}: deleted {} tags and {} manifests ({} "
                           "skipped: changed since planned), freeing {} bytes once garbage "
                           "collection has run",
                           run.project, outcome.deleted.tags.size(),
                           outcome.deleted.manifests.size(), skipped, outcome.freed_bytes),
               {{"event", "retention"},
                {"project", run.project},
                {"tags_deleted", outcome.deleted.tags.size()},
                {"manifests_deleted", outcome.deleted.manifests.size()},
                {"skipped", skipped},
                {"freed_bytes", outcome.freed_bytes}});
  }
}

// A periodic job every replica schedules and one of them runs per interval
// (lifecycle/schedule_lease.hpp).
Maintenance::Job on_one_replica(meta::GcStore& store, const core::Clock& clock, std::string job,
                                std::chrono::milliseconds interval, Maintenance::Job run) {
  return [&store, &clock, job = std::move(job), interval, run = std::move(run),
          holder = lifecycle::lease_holder_name("berth-serve")](std::stop_token stop) {
    auto ran = lifecycle::run_on_one_replica(store, clock, job, holder, interval,
                                             [&] { run(std::move(stop)); });
    if (!ran) {
      spdlog::warn("{}: cannot take its lease, skipped: {}", job, ran.error().message);
    } else if (!*ran) {
      spdlog::debug("{}: run by another replica", job);
    }
  };
}

void purge_stale_uploads(const JobTargets& targets) {
  const auto& uploads = targets.config.uploads;
  auto purged = targets.registry.purge_stale_uploads(targets.clock.now() - uploads.max_age);
  if (!purged) {
    spdlog::warn("purging abandoned uploads failed: {}", purged.error().message);
  } else if (*purged > 0) {
    spdlog::info("purged {} abandoned uploads", *purged);
  }
}

}  // namespace

void flush_pull_statistics(lifecycle::RegistryPolicyImpl& policy) {
  if (auto flushed = policy.flush(); !flushed) {
    spdlog::warn("writing pull statistics failed (kept for the next try): {}",
                 flushed.error().message);
  }
}

core::Result<std::int64_t> prune_audit_log(meta::AuditStore& store, const core::Clock& clock,
                                           config::Duration retention) {
  if (retention <= config::Duration::zero()) {
    return 0;
  }
  return store.prune(clock.now() - retention);
}

void schedule_jobs(Maintenance& maintenance, const JobTargets& targets) {
  auto& store = targets.gc_store;
  const auto& clock = targets.clock;
  const auto& config = targets.config;
  maintenance.every("upload purge", config.uploads.purge_interval,
                    on_one_replica(store, clock, "upload purge", config.uploads.purge_interval,
                                   [targets](std::stop_token) { purge_stale_uploads(targets); }));
  const std::chrono::milliseconds token_purge_interval = std::chrono::hours(1);
  maintenance.every(
      "token purge", token_purge_interval,
      on_one_replica(store, clock, "token purge", token_purge_interval, [targets](std::stop_token) {
        auto purged = targets.accounts.purge_refresh_tokens(targets.clock.now());
        if (!purged) {
          spdlog::warn("purging expired refresh tokens failed: {}", purged.error().message);
        }
        if (targets.sessions == nullptr) {
          return;
        }
        if (auto ended = targets.sessions->purge(); !ended) {
          spdlog::warn("purging expired web UI sessions failed: {}", ended.error().message);
        }
      }));
  maintenance.every("pull statistics", config.stats.flush_interval,
                    [targets](std::stop_token) { flush_pull_statistics(targets.registry_policy); });
  maintenance.every("retention", config.retention.interval,
                    on_one_replica(store, clock, "retention", config.retention.interval,
                                   [targets](std::stop_token stop) {
                                     run_due_retention(targets, std::move(stop));
                                   }));
  // Each run also takes the "gc" lease, so one beside `berth gc` only reports that one is
  // running. The collections work from the metadata; the storage is listed for unknown files
  // only once per gc.sweep_interval, by a collection of its own.
  if (config.gc.interval > config::Duration::zero()) {
    auto collection = [targets](bool sweep) {
      return [targets, sweep](std::stop_token stop) {
        auto options = gc_options(targets.config);
        options.sweep_storage = sweep;
        options.stop = std::move(stop);
        options.started_by = "schedule";
        const auto* trigger = sweep ? "schedule, with the storage sweep" : "schedule";
        note_gc_finished(
            targets.registry, targets.clock,
            collect_garbage(targets.collector, options, trigger, targets.operations, targets.audit),
            trigger);
      };
    };
    maintenance.every(
        "garbage collection", config.gc.interval,
        on_one_replica(store, clock, "garbage collection", config.gc.interval, collection(false)));
    maintenance.every(
        "storage sweep", config.gc.sweep_interval,
        on_one_replica(store, clock, "storage sweep", config.gc.sweep_interval, collection(true)));
  }
  // This replica's coalesced failed logins whose minute has passed (audit/audit_log.hpp).
  if (targets.audit != nullptr) {
    maintenance.every("audit flush", std::chrono::seconds(10),
                      [audit = targets.audit](std::stop_token) { audit->flush(); });
  }
  if (targets.audit_store != nullptr && config.audit.retention > config::Duration::zero()) {
    const std::chrono::milliseconds interval = std::chrono::hours(1);
    maintenance.every(
        "audit prune", interval,
        on_one_replica(store, clock, "audit prune", interval, [targets](std::stop_token) {
          auto pruned =
              prune_audit_log(*targets.audit_store, targets.clock, targets.config.audit.retention);
          if (!pruned) {
            spdlog::warn("pruning the audit log failed: {}", pruned.error().message);
          } else if (*pruned > 0) {
            spdlog::info("pruned {} audit log entries", *pruned);
          }
        }));
  }
  // Every 10 s: tombstones that are left (a lease lapses in 60 s). Looking is one query; a
  // collection running meanwhile holds the lease and finishes its own.
  maintenance.every("tombstone check", std::chrono::seconds(10), [targets](std::stop_token stop) {
    auto left = targets.gc_store.tombstones();
    if (left && !left->empty()) {
      finish_tombstones(targets.collector, "tombstones left by a killed collection",
                        std::move(stop));
    }
  });
}

void note_retention_run(metrics::OperationsMetrics* operations, registry::Registry& registry,
                        const core::Clock& clock, const lifecycle::Retention::ScheduledRun& run) {
  if (operations != nullptr) {
    operations->retention_finished(run.outcome.has_value(),
                                   run.outcome ? run.outcome->deleted.tags.size() : 0,
                                   run.outcome ? run.outcome->deleted.manifests.size() : 0);
  }
  note_retention_finished(registry, clock, run);
}

}  // namespace berth::server
