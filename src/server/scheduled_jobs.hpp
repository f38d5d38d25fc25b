// The periodic jobs of a server: purging abandoned uploads, expired refresh tokens and web UI
// sessions, writing
// pull statistics, retention, garbage collection and finishing a killed collector's tombstones.
// Every replica schedules the same jobs; each but the pull statistics (each replica's own, and
// added to what is recorded) and the tombstone check runs on one replica per interval
// (lifecycle/schedule_lease.hpp).
#pragma once

#include "audit/audit_log.hpp"
#include "auth/ui_sessions.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "lifecycle/garbage_collector.hpp"
#include "lifecycle/registry_policy_impl.hpp"
#include "lifecycle/retention.hpp"
#include "meta/account_store.hpp"
#include "meta/gc_store.hpp"
#include "metrics/operations.hpp"
#include "registry/registry.hpp"
#include "server/maintenance.hpp"

namespace berth::server {

// What the jobs work on; everything outlives the maintenance that runs them.
struct JobTargets {
  const config::Config& config;
  const core::Clock& clock;
  registry::Registry& registry;
  meta::AccountStore& accounts;
  meta::GcStore& gc_store;
  lifecycle::RegistryPolicyImpl& registry_policy;
  lifecycle::Retention& retention;
  lifecycle::GarbageCollector& collector;
  // Null: no sessions to purge.
  auth::UiSessions* sessions = nullptr;
  // Where collections and retention runs are counted (/metrics); null: nowhere.
  metrics::OperationsMetrics* operations = nullptr;
  // Null: no audit log (no entries for the jobs' runs, nothing to prune).
  audit::AuditLog* audit = nullptr;
  meta::AuditStore* audit_store = nullptr;
};

// Deletes the audit entries older than `retention` (0: none); how many went.
core::Result<std::int64_t> prune_audit_log(meta::AuditStore& store, const core::Clock& clock,
                                           config::Duration retention);

// Adds every job to maintenance (before its start()).
void schedule_jobs(Maintenance& maintenance, const JobTargets& targets);

// What a finished retention run of a project, scheduled or started through the API, is counted
// in and told to: /metrics (when `operations` is given) and the retention_finished event.
void note_retention_run(metrics::OperationsMetrics* operations, registry::Registry& registry,
                        const core::Clock& clock, const lifecycle::Retention::ScheduledRun& run);

// Writes the pull statistics counted since the last flush; a failure keeps them for the next.
void flush_pull_statistics(lifecycle::RegistryPolicyImpl& policy);

}  // namespace berth::server
