// run_on_one_replica (schedule_lease.hpp): a MaintenanceLease taken without waiting, kept after
// the run.
#include "lifecycle/schedule_lease.hpp"

#include <algorithm>

#include "lifecycle/maintenance_lease.hpp"

namespace berth::lifecycle {

std::string schedule_lease_name(std::string_view job) { return "schedule:" + std::string(job); }

core::Result<bool> run_on_one_replica(meta::GcStore& store, const core::Clock& clock,
                                      std::string_view job, std::string holder,
                                      std::chrono::milliseconds interval,
                                      const std::function<void()>& run) {
  // Leases count whole seconds; an interval below one still keeps others out for one.
  const auto ttl =
      std::max(std::chrono::ceil<std::chrono::seconds>(interval), std::chrono::seconds(1));
  MaintenanceLease lease(store, clock, std::move(holder), ttl, schedule_lease_name(job));
  auto ours = lease.try_acquire();
  if (!ours || !*ours) {
    return ours;
  }
  run();
  BERTH_TRY(lease.keep());
  return true;
}

}  // namespace berth::lifecycle
