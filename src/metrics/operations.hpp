// The metrics of what Berth does besides answering requests: garbage collection, retention
// runs, failed logins and lockouts. Counted by the code that runs them (server/), rendered at
// scrape time. Rare events, but the same lock-free instruments as the request path.
#pragma once

#include <chrono>
#include <cstdint>

#include "metrics/exposition.hpp"
#include "metrics/instruments.hpp"

namespace berth::metrics {

class OperationsMetrics {
 public:
  // A garbage collection finished (ok) or failed; a dry run is not a collection.
  void gc_finished(bool ok, std::chrono::milliseconds duration, std::uint64_t bytes_reclaimed,
                   std::uint64_t items_removed);
  void retention_finished(bool ok, std::uint64_t tags_deleted, std::uint64_t manifests_deleted);
  void login_failed() { login_failures_.add(); }
  void lockout() { lockouts_.add(); }

  void write(Exposition& out) const;

 private:
  Counter gc_runs_ok_;
  Counter gc_runs_failed_;
  Histogram gc_duration_;
  Counter gc_bytes_;
  Counter gc_items_;
  Counter retention_ok_;
  Counter retention_failed_;
  Counter retention_tags_;
  Counter retention_manifests_;
  Counter login_failures_;
  Counter lockouts_;
};

}  // namespace berth::metrics
