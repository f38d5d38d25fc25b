// Maintenance: the server's background jobs (garbage collection, retention, purging abandoned
// uploads and expired refresh tokens, flushing pull statistics, finishing tombstones), and the
// pool they run on. That pool is their own, bounded, and apart from the one requests use, so a
// collection of any length never takes a thread a request needs; the admin API's collections
// and retention runs go to it too.
//
// Shutdown: shutdown(grace) starts no new run, lets the runs in progress (and jobs the admin
// API put on the pool) go on until `grace` has passed (the server gives it the drain timeout,
// the time requests get), then requests stop on the token every job was given. Jobs check it
// between safe steps (a collection between deletions, retention between projects) and return,
// leaving nothing half done. The pool's join() then returns soon after the deadline at most.
//
// Timer is a parameter for tests (see periodic_task.hpp). Not thread-safe: call everything but
// stop_token() on the control context's thread (or before it runs).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <list>
#include <stop_token>
#include <string>
#include <utility>

#include "http/blocking_pool.hpp"
#include "server/periodic_task.hpp"

namespace berth::server {

template <class Timer>
class BasicMaintenance {
 public:
  using Task = BasicPeriodicTask<Timer>;
  using Job = typename Task::Job;

  // `pool` runs the jobs; both it and `control` must outlive this.
  BasicMaintenance(boost::asio::io_context& control, http::BlockingPool& pool)
      : control_(control), pool_(pool), grace_timer_(control) {}
  BasicMaintenance(const BasicMaintenance&) = delete;
  BasicMaintenance& operator=(const BasicMaintenance&) = delete;

  // Adds a job run every `interval` (timed from the end of its previous run), on `on` (null:
  // the maintenance pool; a short job that must not wait behind a collection names another).
  // Before start().
  Task& every(std::string name, std::chrono::milliseconds interval, Job job,
              http::BlockingPool* on = nullptr) {
    return tasks_.emplace_back(control_, on != nullptr ? *on : pool_, std::move(name), interval,
                               stop_.get_token(), std::move(job));
  }
  void start() {
    for (auto& task : tasks_) {
      task.start();
    }
  }

  // See the top of this file. More calls change nothing.
  void shutdown(std::chrono::milliseconds grace) {
    if (shutting_down_) {
      return;
    }
    shutting_down_ = true;
    for (auto& task : tasks_) {
      task.stop();
    }
    grace_timer_.expires_after(grace);
    grace_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) {
        stop_.request_stop();
      }
    });
  }

  // For jobs run outside a task (the admin API's): shutdown() requests stop on it too.
  // Thread-safe.
  std::stop_token stop_token() const { return stop_.get_token(); }
  http::BlockingPool& pool() { return pool_; }
  const std::list<Task>& tasks() const { return tasks_; }

 private:
  boost::asio::io_context& control_;
  http::BlockingPool& pool_;
  std::stop_source stop_;
  Timer grace_timer_;
  // A list: tasks hold timers, which do not move.
  std::list<Task> tasks_;
  bool shutting_down_ = false;
};

using Maintenance = BasicMaintenance<boost::asio::steady_timer>;

}  // namespace berth::server
