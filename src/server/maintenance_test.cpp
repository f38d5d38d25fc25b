// Maintenance and its periodic tasks on a manual clock: runs of a task never overlap and are
// timed from the end of the previous one; shutdown starts no new run, lets the one in progress
// go on until the grace has passed, and then asks it to stop.
//
// The timers run on a clock the test moves (Asio's basic_waitable_timer takes any clock with a
// static now()); core::Clock, the fake clock of the rest of Berth, tells wall time and cannot
// drive Asio's timers.
#include "server/maintenance.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stop_token>

namespace berth::server {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Long enough never to matter on a loaded machine; reaching it means the test failed.
constexpr auto kPatience = 20s;

// A steady clock that moves only when told to. Static because Asio asks the clock type, not an
// object, for the time; each test starts it where the last left it, which is harmless.
struct ManualClock {
  using rep = std::int64_t;
  using period = std::milli;
  using duration = std::chrono::milliseconds;
  using time_point = std::chrono::time_point<ManualClock>;
  static constexpr bool is_steady = true;

  static time_point now() { return time_point(duration(now_ms.load())); }
  static void advance(duration by) { now_ms += by.count(); }

  static inline std::atomic<std::int64_t> now_ms{0};
};

// Asio waits for real time until a timer is due; on a manual clock "due" is known only by
// asking again, so it never waits more than a millisecond at a time.
struct ManualWaitTraits {
  static ManualClock::duration to_wait_duration(const ManualClock::duration& d) {
    return std::clamp(d, ManualClock::duration::zero(), ManualClock::duration(1));
  }
  static ManualClock::duration to_wait_duration(const ManualClock::time_point& t) {
    return to_wait_duration(t - ManualClock::now());
  }
};

using ManualTimer = asio::basic_waitable_timer<ManualClock, ManualWaitTraits>;
using TestMaintenance = BasicMaintenance<ManualTimer>;

// A job that runs until released or asked to stop, and says what happened.
class HeldJob {
 public:
  TestMaintenance::Job job() {
    return [this](std::stop_token stop) {
      // Before the lock: a callback for a stop already requested runs in this constructor.
      std::stop_callback wake(stop, [this] {
        std::lock_guard lock(mutex_);
        changed_.notify_all();
      });
      std::unique_lock lock(mutex_);
      ++started_;
      changed_.notify_all();
      changed_.wait(lock, [&] { return released_ || stop.stop_requested(); });
      stopped_by_token_ = stop.stop_requested();
      ++ended_;
      changed_.notify_all();
    };
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }
  int started() const {
    std::lock_guard lock(mutex_);
    return started_;
  }
  int ended() const {
    std::lock_guard lock(mutex_);
    return ended_;
  }
  bool stopped_by_token() const {
    std::lock_guard lock(mutex_);
    return stopped_by_token_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int started_ = 0;
  int ended_ = 0;
  bool released_ = false;
  bool stopped_by_token_ = false;
};

// Runs the control context on this thread until `done` holds (or the patience runs out).
bool drive(asio::io_context& control, const std::function<bool()>& done) {
  const auto give_up = std::chrono::steady_clock::now() + kPatience;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) {
      return false;
    }
    control.restart();
    control.run_for(2ms);
  }
  return true;
}

// Runs the control context until a timer due at the clock's now has fired: every timer due
// earlier has fired by then too (a sync point that needs no sleeping).
bool drive_to_now(asio::io_context& control) {
  ManualTimer probe(control);
  probe.expires_at(ManualClock::now());
  bool fired = false;
  probe.async_wait([&](const boost::system::error_code&) { fired = true; });
  return drive(control, [&] { return fired; });
}

// Waits until every job posted to the pool before now has run: the pool has one thread.
void drain_pool(http::BlockingPool& pool) {
  std::mutex mutex;
  std::condition_variable ran;
  bool done = false;
  pool.post([&] {
    std::lock_guard lock(mutex);
    done = true;
    ran.notify_all();
  });
  std::unique_lock lock(mutex);
  ASSERT_TRUE(ran.wait_for(lock, kPatience, [&] { return done; }));
}

// Regression: the timer was re-armed as soon as it fired, whether or not the run it had posted
// had ended, so a run longer than the interval (a big garbage collection) had the next ones
// queued behind it, or running beside it on a pool of more than one thread.
TEST(Maintenance, RunsOfATaskNeverOverlapAndAreTimedFromTheEndOfTheLast) {
  asio::io_context control;
  http::BlockingPool pool(1, "maintenance");
  TestMaintenance maintenance(control, pool);
  HeldJob held;
  auto& task = maintenance.every("gc", 10s, held.job());
  maintenance.start();

  ManualClock::advance(10s);
  ASSERT_TRUE(drive(control, [&] { return held.started() == 1; }));
  EXPECT_TRUE(task.running());

  // Five intervals pass while the run goes on.
  ManualClock::advance(50s);
  ASSERT_TRUE(drive_to_now(control));
  held.release();
  ASSERT_TRUE(drive(control, [&] { return task.runs() == 1; }));
  // Runs posted while the first was going on would have run by now, right after it.
  drain_pool(pool);
  EXPECT_EQ(held.started(), 1);
  EXPECT_FALSE(task.running());

  // The next run comes one interval after the first ended.
  ManualClock::advance(9s);
  ASSERT_TRUE(drive_to_now(control));
  drain_pool(pool);
  EXPECT_EQ(held.started(), 1);
  ManualClock::advance(1s);
  ASSERT_TRUE(drive(control, [&] { return held.started() == 2; }));
  ASSERT_TRUE(drive(control, [&] { return task.runs() == 2; }));
}

// Regression: shutdown waited for a collection of any length, whatever http.drain_timeout said.
TEST(Maintenance, ShutdownLetsARunGoOnUntilTheGraceThenStopsIt) {
  asio::io_context control;
  http::BlockingPool pool(1, "maintenance");
  TestMaintenance maintenance(control, pool);
  HeldJob held;
  HeldJob idle;
  auto& busy_task = maintenance.every("gc", 10s, held.job());
  auto& idle_task = maintenance.every("purge", 15s, idle.job());
  maintenance.start();
  ManualClock::advance(10s);
  ASSERT_TRUE(drive(control, [&] { return held.started() == 1; }));

  maintenance.shutdown(30s);
  ManualClock::advance(29s);
  ASSERT_TRUE(drive_to_now(control));
  EXPECT_FALSE(maintenance.stop_token().stop_requested()) << "the grace has not passed";
  EXPECT_EQ(held.ended(), 0);

  ManualClock::advance(1s);
  ASSERT_TRUE(drive(control, [&] { return busy_task.runs() == 1; }));
  EXPECT_TRUE(maintenance.stop_token().stop_requested());
  EXPECT_TRUE(held.stopped_by_token());
  drain_pool(pool);
  EXPECT_EQ(idle.started(), 0) << "no run starts once shutdown began";
  EXPECT_EQ(idle_task.runs(), 0u);
  // Every task's loop has ended: the control context has nothing left to do.
  control.restart();
  EXPECT_EQ(control.poll(), 0u);
  EXPECT_TRUE(control.stopped());
}

TEST(Maintenance, ARunThatEndsWithinTheGraceIsNotStopped) {
  asio::io_context control;
  http::BlockingPool pool(1, "maintenance");
  TestMaintenance maintenance(control, pool);
  HeldJob held;
  auto& task = maintenance.every("retention", 10s, held.job());
  maintenance.start();
  ManualClock::advance(10s);
  ASSERT_TRUE(drive(control, [&] { return held.started() == 1; }));

  maintenance.shutdown(30s);
  held.release();
  ASSERT_TRUE(drive(control, [&] { return task.runs() == 1; }));
  EXPECT_FALSE(held.stopped_by_token());
  EXPECT_FALSE(maintenance.stop_token().stop_requested());
}

}  // namespace
}  // namespace berth::server
