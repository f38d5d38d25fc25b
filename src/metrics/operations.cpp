#include "metrics/operations.hpp"

namespace berth::metrics {

void OperationsMetrics::gc_finished(bool ok, std::chrono::milliseconds duration,
                                    std::uint64_t bytes_reclaimed, std::uint64_t items_removed) {
  (ok ? gc_runs_ok_ : gc_runs_failed_).add();
  gc_duration_.observe_us(static_cast<std::uint64_t>(duration.count()) * 1000);
  gc_bytes_.add(bytes_reclaimed);
  gc_items_.add(items_removed);
}

void OperationsMetrics::retention_finished(bool ok, std::uint64_t tags_deleted,
                                           std::uint64_t manifests_deleted) {
  (ok ? retention_ok_ : retention_failed_).add();
  retention_tags_.add(tags_deleted);
  retention_manifests_.add(manifests_deleted);
}

void OperationsMetrics::write(Exposition& out) const {
  out.family("berth_gc_runs_total", "counter",
             "Garbage collections run by this server, by result (ok or failed).");
  out.sample("berth_gc_runs_total", {{"result", "ok"}}, gc_runs_ok_.value());
  out.sample("berth_gc_runs_total", {{"result", "failed"}}, gc_runs_failed_.value());
  out.family("berth_gc_duration_seconds", "histogram", "Duration of garbage collections.");
  out.histogram("berth_gc_duration_seconds", {}, gc_duration_);
  out.family("berth_gc_reclaimed_bytes_total", "counter",
             "Bytes of blob storage freed by garbage collection.");
  out.sample("berth_gc_reclaimed_bytes_total", {}, gc_bytes_.value());
  out.family("berth_gc_removed_items_total", "counter",
             "Manifests, links, blobs and files removed by garbage collection.");
  out.sample("berth_gc_removed_items_total", {}, gc_items_.value());
  out.family("berth_retention_runs_total", "counter",
             "Retention runs of a project, by result (ok or failed).");
  out.sample("berth_retention_runs_total", {{"result", "ok"}}, retention_ok_.value());
  out.sample("berth_retention_runs_total", {{"result", "failed"}}, retention_failed_.value());
  out.family("berth_retention_deleted_tags_total", "counter", "Tags deleted by retention.");
  out.sample("berth_retention_deleted_tags_total", {}, retention_tags_.value());
  out.family("berth_retention_deleted_manifests_total", "counter",
             "Manifests deleted by retention.");
  out.sample("berth_retention_deleted_manifests_total", {}, retention_manifests_.value());
  out.family("berth_login_failures_total", "counter",
             "Failed logins (wrong password, unknown user, refused while locked out).");
  out.sample("berth_login_failures_total", {}, login_failures_.value());
  out.family("berth_login_lockouts_total", "counter",
             "Lockouts: an address or a user at an address reached its failure limit.");
  out.sample("berth_login_lockouts_total", {}, lockouts_.value());
}

}  // namespace berth::metrics
