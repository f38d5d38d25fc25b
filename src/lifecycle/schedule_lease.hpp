// One replica per interval for the server's periodic jobs (upload purge, token purge,
// retention, scheduled garbage collection). Every replica has the same schedule; before a run
// each asks for the job's lease ("schedule:<job>", a GcStore lease like garbage collection's
// "gc"). The replica that gets it runs the job, renewing the lease while it runs, and keeps it
// for one interval after the run: the others, finding it held, skip their turn. The holder's
// own next turn comes as its lease lapses, and renews it; a holder that stops (killed, shut
// down) lets it lapse, and the next replica whose turn comes runs the job from then on. So a
// job runs at most once per interval in the whole cluster, and never twice at the same time.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "meta/gc_store.hpp"

namespace berth::lifecycle {

// The lease name of a periodic job.
[[nodiscard]] std::string schedule_lease_name(std::string_view job);

// Runs `run` unless another holder ran `job` within `interval`: true when it ran, false when
// it was another's turn. `holder` names this process (lease_holder_name()).
[[nodiscard]] core::Result<bool> run_on_one_replica(meta::GcStore& store, const core::Clock& clock,
                                                    std::string_view job, std::string holder,
                                                    std::chrono::milliseconds interval,
                                                    const std::function<void()>& run);

}  // namespace berth::lifecycle
