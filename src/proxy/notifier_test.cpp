#include "proxy/notifier.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <thread>

namespace berth::proxy {
namespace {

namespace asio = boost::asio;

TEST(Event, WakesWaitersOnOtherThreads) {
  // No recheck within the test: only set() can wake the waiters.
  Event event(std::chrono::hours(1));
  std::atomic<int> woken{0};
  asio::io_context first;
  asio::io_context second;
  auto waiter = [&]() -> asio::awaitable<void> {
    co_await event.wait();
    ++woken;
  };
  asio::co_spawn(first, waiter(), asio::detached);
  asio::co_spawn(second, waiter(), asio::detached);
  // Bounded, so that a lost wake-up fails the test instead of hanging it.
  std::thread a([&] { first.run_for(std::chrono::seconds(60)); });
  std::thread b([&] { second.run_for(std::chrono::seconds(60)); });
  while (event.waiting() < 2) {
    std::this_thread::yield();
  }
  EXPECT_EQ(woken.load(), 0) << "a waiter went on before the event was set";
  event.set();
  a.join();
  b.join();
  EXPECT_EQ(woken.load(), 2);
}

TEST(Notifier, RecheckFindsAConditionMadeTrueWithoutANotify) {
  // Before the notifier: the waker the recheck leaves behind holds a timer of `io`.
  asio::io_context io;
  Notifier notifier(std::chrono::milliseconds(1));
  std::atomic<bool> ready{false};
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await notifier.wait([&] { return ready.load(); });
        done = true;
      },
      asio::detached);
  io.run_one();  // parks the waiter
  ASSERT_FALSE(done);
  ready = true;  // and no notify()
  io.run_for(std::chrono::seconds(60));
  EXPECT_TRUE(done);
}

// Regression: every recheck left its waker behind, so the list grew while a waiter waited,
// and a notify() after the waiter's io_context was gone posted to it (a use after free that
// AddressSanitizer caught in a proxy test).
TEST(Notifier, OnlyParkedWaitersHaveWakers) {
  Notifier notifier(std::chrono::milliseconds(1));
  {
    asio::io_context io;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { co_await notifier.wait([] { return false; }); },
        asio::detached);
    io.run_for(std::chrono::milliseconds(50));  // dozens of rechecks
    EXPECT_EQ(notifier.waiting(), 1u) << "one waiter parked, one waker";
  }  // the io_context goes, and the parked coroutine with it
  EXPECT_EQ(notifier.waiting(), 0u);
  notifier.notify([] {});  // wakes nobody, touches nothing that is gone
  EXPECT_EQ(notifier.waiting(), 0u);
}

TEST(Event, WaitAfterSetReturnsAtOnce) {
  Event event;
  event.set();
  asio::io_context io;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await event.wait();
        done = true;
      },
      asio::detached);
  io.run();
  EXPECT_TRUE(done);
}

TEST(Limiter, AdmitsAtMostTheLimit) {
  Limiter limiter(2);
  asio::io_context io;
  int inside = 0;
  int most = 0;
  int finished = 0;
  for (int i = 0; i < 6; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await limiter.acquire();
          ++inside;
          most = std::max(most, inside);
          asio::steady_timer timer(io, std::chrono::milliseconds(10));
          co_await timer.async_wait(asio::use_awaitable);
          --inside;
          limiter.release();
          ++finished;
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(finished, 6);
  EXPECT_EQ(most, 2);
}

}  // namespace
}  // namespace berth::proxy
