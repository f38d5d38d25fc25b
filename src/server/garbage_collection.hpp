// Garbage collection as a server runs it, on its schedule, from the admin API and at start:
// the options from the configuration, and what each run removed, logged for operators.
#pragma once

#include <stop_token>
#include <string_view>

#include "audit/audit_log.hpp"
#include "config/config.hpp"
#include "core/error.hpp"
#include "lifecycle/garbage_collector.hpp"
#include "metrics/operations.hpp"

namespace berth::server {

[[nodiscard]] lifecycle::GcOptions gc_options(const config::Config& config);

// Runs a collection and logs what it removed; trigger says who asked ("schedule", "admin API").
// Another collector running is logged as such, not as a failure, and returned (kConflict).
// Runs that are not dry runs are counted in `operations` (if given) for /metrics. With an
// audit log, the run's start and end (with its figures) are audit entries too.
core::Result<lifecycle::GcReport> collect_garbage(lifecycle::GarbageCollector& collector,
                                                  const lifecycle::GcOptions& options,
                                                  std::string_view trigger,
                                                  metrics::OperationsMetrics* operations = nullptr,
                                                  audit::AuditLog* audit = nullptr);

// Finishes the tombstones a killed collector left (digests nobody may link until their bytes
// are gone) and logs the outcome.
void finish_tombstones(lifecycle::GarbageCollector& collector, std::string_view trigger,
                       std::stop_token stop);

}  // namespace berth::server
