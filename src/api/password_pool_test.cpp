// Tests of the password pool's bound: jobs beyond its threads and queue are refused at once
// (without running), and a place frees up when a job ends. Jobs block on a latch the test
// holds, so what is "in the pool" is known exactly, with no timing involved.
#include "api/password_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <latch>
#include <optional>
#include <thread>
#include <vector>

namespace berth::api {
namespace {

namespace asio = boost::asio;

TEST(PasswordPool, JobsBeyondThreadsAndQueueAreRefusedWithoutRunning) {
  PasswordPool pool(2, 1);
  EXPECT_EQ(pool.capacity(), 3u);
  asio::io_context io;
  std::latch release(1);
  std::atomic<int> ran{0};
  std::vector<std::optional<std::optional<int>>> results(5);
  auto job = [&] {
    ++ran;
    release.wait();
    return 7;
  };
  auto submit = [&](std::size_t i) {
    asio::co_spawn(
        io, [&, i]() -> asio::awaitable<void> { results[i] = co_await pool.run(job); },
        asio::detached);
  };
  for (std::size_t i = 0; i < 5; ++i) {
    submit(i);
  }
  // Start all five; the two beyond capacity finish at once, refused.
  while (!(results[3] && results[4])) {
    io.run_one();
  }
  EXPECT_EQ(*results[3], std::nullopt);
  EXPECT_EQ(*results[4], std::nullopt);
  EXPECT_EQ(pool.in_pool(), 3u);
  release.count_down();
  while (pool.in_pool() > 0) {
    io.run_one();
  }
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(results[i]) << i;
    EXPECT_EQ(*results[i], 7) << i;
  }
  EXPECT_EQ(ran.load(), 3) << "a refused job ran";

  // With room again, a job runs.
  std::optional<std::optional<int>> after;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { after = co_await pool.run([] { return 8; }); },
      asio::detached);
  io.restart();
  io.run();
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, 8);
  pool.join();
}

TEST(PasswordPool, AJobThatThrowsGivesItsPlaceBack) {
  PasswordPool pool(1, 0);
  asio::io_context io;
  bool threw = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          (void)co_await pool.run([]() -> int { throw std::runtime_error("bcrypt failed"); });
        } catch (const std::runtime_error&) {
          threw = true;
        }
      },
      asio::detached);
  io.run();
  EXPECT_TRUE(threw);
  EXPECT_EQ(pool.in_pool(), 0u);
  pool.join();
}

}  // namespace
}  // namespace berth::api
