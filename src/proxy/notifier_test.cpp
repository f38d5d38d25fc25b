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
  Event event;
  std::atomic<int> woken{0};
  asio::io_context first;
  asio::io_context second;
  auto waiter = [&]() -> asio::awaitable<void> {
    co_await event.wait();
    ++woken;
  };
  asio::co_spawn(first, waiter(), asio::detached);
  asio::co_spawn(second, waiter(), asio::detached);
  std::thread a([&] { first.run(); });
  std::thread b([&] { second.run(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(woken.load(), 0);
  const auto set_at = std::chrono::steady_clock::now();
  event.set();
  a.join();
  b.join();
  EXPECT_EQ(woken.load(), 2);
  // Woken by the set, not by the one-second re-check.
  EXPECT_LT(std::chrono::steady_clock::now() - set_at, std::chrono::milliseconds(900));
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
