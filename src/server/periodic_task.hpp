// Runs a blocking job every interval on the blocking pool, driven by a timer on the control
// context (never on a request loop). Used for purging abandoned uploads and expired refresh
// tokens.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>

#include "http/blocking_pool.hpp"

namespace berth::server {

class PeriodicTask {
 public:
  PeriodicTask(boost::asio::io_context& control, http::BlockingPool& pool,
               std::chrono::milliseconds interval, std::function<void()> job)
      : timer_(control), pool_(pool), interval_(interval), job_(std::move(job)) {}

  void start() { schedule(); }
  void stop() { timer_.cancel(); }

 private:
  void schedule() {
    timer_.expires_after(interval_);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) {
        return;
      }
      boost::asio::post(pool_.executor(), job_);
      schedule();
    });
  }

  boost::asio::steady_timer timer_;
  http::BlockingPool& pool_;
  std::chrono::milliseconds interval_;
  std::function<void()> job_;
};

}  // namespace berth::server
