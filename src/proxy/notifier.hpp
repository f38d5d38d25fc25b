// Notifier: lets coroutines running on any of the I/O threads wait for a condition that
// another thread makes true: the end of an upstream fetch they share (single flight), or a
// free slot under an upstream's concurrency limit.
//
// Asio has no cross-executor condition variable. A waiter parks on a timer of its own
// executor and registers a waker that posts the timer's cancellation to that executor (a timer
// may only be touched from its own thread). The timer also expires every `recheck` (a second
// unless a test says otherwise), and the condition is re-checked on every wake-up, so a lost
// or early wake-up costs at most that long, never a hang.
//
// A waker is registered only while its waiter is parked: the waiter removes it when it wakes,
// or when its coroutine is destroyed with its io_context. Wakers run under the mutex, so none
// can post to the executor of a waiter that is gone (they used to be left behind by every
// recheck, growing the list, and a later notify() posted to a destroyed io_context).
//
// Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>

namespace berth::proxy {

class Notifier {
 public:
  explicit Notifier(std::chrono::milliseconds recheck = std::chrono::seconds(1))
      : recheck_(recheck) {}
  // Awaits until ready() returns true. ready runs under the notifier's mutex, so it may also
  // claim what it found (take a slot).
  boost::asio::awaitable<void> wait(std::function<bool()> ready);
  // Runs change() under the mutex, then wakes every waiter to re-check.
  void notify(const std::function<void()>& change);
  // Waiters parked now. For tests that must know a waiter is parked.
  std::size_t waiting();

 private:
  class Registration;

  const std::chrono::milliseconds recheck_;
  std::mutex mutex_;
  std::uint64_t next_waker_ = 0;
  std::unordered_map<std::uint64_t, std::function<void()>> wakers_;
};

// One-shot event: set once, awaited by any number of coroutines.
class Event {
 public:
  explicit Event(std::chrono::milliseconds recheck = std::chrono::seconds(1))
      : notifier_(recheck) {}
  boost::asio::awaitable<void> wait();
  void set();
  std::size_t waiting() { return notifier_.waiting(); }

 private:
  Notifier notifier_;
  bool set_ = false;  // guarded by notifier_'s mutex
};

// At most `limit` holders at once; acquire() waits for a slot.
class Limiter {
 public:
  explicit Limiter(std::size_t limit) : limit_(limit) {}
  boost::asio::awaitable<void> acquire();
  void release();

 private:
  Notifier notifier_;
  std::size_t limit_;
  std::size_t in_use_ = 0;  // guarded by notifier_'s mutex
};

}  // namespace berth::proxy
