// Runs a maintenance job every interval on a pool, driven by a timer on the control context
// (never on a request loop). Used for garbage collection, retention, purging abandoned uploads
// and expired refresh tokens, flushing pull statistics and finishing tombstones.
//
// The next run is timed from the end of the previous one, so runs of one task never overlap
// however long one takes (a run used to be posted every interval whether or not the last had
// finished). stop() starts no new run; a run in progress goes on, and its job watches the stop
// token it is given to end early at a safe point (see Maintenance for when that is set).
//
// Timer is a parameter so that tests can drive time (a basic_waitable_timer on a manual clock);
// the server uses PeriodicTask, on asio::steady_timer. Not thread-safe: construct, start() and
// stop() on the control context's thread (or before it runs).
#pragma once

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <stop_token>
#include <string>
#include <utility>

#include "http/blocking_pool.hpp"

namespace berth::server {

template <class Timer>
class BasicPeriodicTask {
 public:
  // Called on a pool thread; returns early, leaving nothing half done, once stop is requested.
  using Job = std::function<void(std::stop_token)>;

  BasicPeriodicTask(boost::asio::io_context& control, http::BlockingPool& pool, std::string name,
                    std::chrono::milliseconds interval, std::stop_token stop, Job job)
      : control_(control),
        timer_(control),
        pool_(pool),
        name_(std::move(name)),
        interval_(interval),
        stop_(std::move(stop)),
        job_(std::move(job)) {}
  BasicPeriodicTask(const BasicPeriodicTask&) = delete;
  BasicPeriodicTask& operator=(const BasicPeriodicTask&) = delete;

  // The first run comes one interval from now.
  // The first run comes one interval from now: the timer is set here, not when the loop first
  // runs on the control context, which may be later.
  void start() {
    timer_.expires_after(interval_);
    boost::asio::co_spawn(control_, loop(), boost::asio::detached);
  }
  // No run starts from now on; one in progress goes on.
  void stop() {
    stopped_ = true;
    timer_.cancel();
  }

  const std::string& name() const { return name_; }
  // A run has been handed to the pool and has not ended.
  bool running() const { return running_; }
  // Runs that have ended.
  std::size_t runs() const { return runs_; }

 private:
  boost::asio::awaitable<void> loop() {
    while (!stopped_ && !stop_.stop_requested()) {
      auto [ec] = co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec || stopped_ || stop_.stop_requested()) {
        co_return;
      }
      running_ = true;
      auto run = [this] { job_(stop_); };
      try {
        co_await http::offload(pool_, std::move(run));
      } catch (const std::exception& e) {
        // Jobs log their own failures; this is the last line of defence, and the next run
        // still comes.
        spdlog::error("maintenance task {} failed: {}", name_, e.what());
      }
      running_ = false;
      ++runs_;
      timer_.expires_after(interval_);
    }
  }

  boost::asio::io_context& control_;
  Timer timer_;
  http::BlockingPool& pool_;
  const std::string name_;
  const std::chrono::milliseconds interval_;
  const std::stop_token stop_;
  const Job job_;
  bool stopped_ = false;
  bool running_ = false;
  std::size_t runs_ = 0;
};

using PeriodicTask = BasicPeriodicTask<boost::asio::steady_timer>;

}  // namespace berth::server
