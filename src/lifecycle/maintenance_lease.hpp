// MaintenanceLease: the "gc" lease of meta/gc_store.hpp, held by a maintenance command that must
// not run beside garbage collection (`berth check --repair` deletes bytes; `berth backup` copies
// bytes a collector would otherwise be free to delete). Only one holder at a time, across
// processes: a collector in the server waits for us, and we wait for it.
//
// acquire() polls until the lease is free (a running collection finishes, or a crashed holder's
// lease expires), then a background thread renews it every third of its ttl until release()
// or destruction. If a renewal ever fails (the database was unreachable for longer than the
// ttl and another holder took the lease), lost() turns true and stays true: the holder must
// stop doing what the lease protects.
//
// Other names serve the server's periodic jobs (schedule_lease.hpp): try_acquire() takes such a
// lease only if it is free, and keep() leaves it held for one more ttl after the job, so that
// no other replica runs the job again before its interval has passed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "meta/gc_store.hpp"

namespace berth::lifecycle {

// The name of the lease garbage collection holds.
inline constexpr std::string_view kGcLeaseName = "gc";

class MaintenanceLease {
 public:
  // `holder` names this process in the lease row (e.g. "berth-backup@host:pid").
  MaintenanceLease(meta::GcStore& store, const core::Clock& clock, std::string holder,
                   std::chrono::seconds ttl = std::chrono::seconds(60),
                   std::string name = std::string(kGcLeaseName));
  MaintenanceLease(const MaintenanceLease&) = delete;
  MaintenanceLease& operator=(const MaintenanceLease&) = delete;
  // Releases the lease if held.
  ~MaintenanceLease();

  // Blocks until the lease is ours. on_wait is called once, the first time it is held by
  // someone else (to tell the operator why nothing happens).
  [[nodiscard]] core::Result<void> acquire(const std::function<void()>& on_wait = {});
  // One attempt: true when the lease is ours now (and renewed from then on), false while
  // another holder has it.
  [[nodiscard]] core::Result<bool> try_acquire();
  // Stops renewing and renews once more instead of releasing: the lease stays ours for one
  // ttl from now, then lapses unless taken again.
  [[nodiscard]] core::Result<void> keep();
  // Stops renewing and gives the lease back.
  [[nodiscard]] core::Result<void> release();

  bool held() const { return held_; }
  // True once a renewal found the lease taken or failed for longer than the ttl.
  bool lost() const { return lost_.load(); }
  const std::string& holder() const { return holder_; }

 private:
  void renew_loop();
  void start_renewing();
  void stop_renewing();

  meta::GcStore& store_;
  const core::Clock& clock_;
  const std::string holder_;
  const std::chrono::seconds ttl_;
  const std::string name_;
  bool held_ = false;
  std::atomic<bool> lost_{false};

  // Guards stop_; stopped_ wakes the renewer early.
  std::mutex mutex_;
  std::condition_variable stopped_;
  bool stop_ = false;
  std::thread renewer_;
};

// "<what>@<host>:<pid> since <UTC time>", a holder name that tells an operator who holds the
// lease and since when: made when the work that takes the lease starts.
[[nodiscard]] std::string lease_holder_name(std::string_view what);

}  // namespace berth::lifecycle
