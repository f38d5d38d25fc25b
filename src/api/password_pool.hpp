// Password checks and hashes (bcrypt: tens to hundreds of milliseconds of CPU each, on
// purpose) run on their own small pool, apart from the blocking pool that serves every
// request's disk and database work. On the shared pool, 16 concurrent Basic logins made an
// unrelated bearer `tags/list` wait 1.5 s for a thread; here they wait for each other only.
//
// The pool is bounded twice: `threads` run, at most `max_waiting` more wait, and a job beyond
// that is refused at once (run() returns nullopt without running it), so that a flood of
// logins cannot build an unbounded queue of requests, each holding a connection, that the
// pool would take minutes to drain. The caller answers 429 with a Retry-After.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>

#include "http/blocking_pool.hpp"

namespace berth::api {

class PasswordPool {
 public:
  // threads >= 1.
  PasswordPool(std::size_t threads, std::size_t max_waiting)
      : pool_(threads), capacity_(threads + max_waiting) {}
  PasswordPool(const PasswordPool&) = delete;
  PasswordPool& operator=(const PasswordPool&) = delete;

  // Runs fn on the pool and resumes with its result (fn's exception rethrown), or returns
  // nullopt at once, without running fn, when the pool is full. Thread-safe.
  template <class Fn>
  boost::asio::awaitable<std::optional<std::invoke_result_t<Fn>>> run(Fn fn) {
    using R = std::invoke_result_t<Fn>;
    if (!admit()) {
      co_return std::nullopt;
    }
    const Admitted admitted(in_pool_);
    auto result = co_await http::offload(pool_, std::move(fn));
    co_return std::optional<R>(std::move(result));
  }

  // Jobs running or waiting now (for tests and metrics).
  std::size_t in_pool() const { return in_pool_.load(); }
  std::size_t capacity() const { return capacity_; }
  void join() { pool_.join(); }

 private:
  // Releases a place in the pool when the job that held it is done, whatever happened.
  class Admitted {
   public:
    explicit Admitted(std::atomic<std::size_t>& count) : count_(count) {}
    Admitted(const Admitted&) = delete;
    Admitted& operator=(const Admitted&) = delete;
    ~Admitted() { --count_; }

   private:
    std::atomic<std::size_t>& count_;
  };

  bool admit() {
    std::size_t now = in_pool_.load();
    do {
      if (now >= capacity_) {
        return false;
      }
    } while (!in_pool_.compare_exchange_weak(now, now + 1));
    return true;
  }

  http::BlockingPool pool_;
  const std::size_t capacity_;
  std::atomic<std::size_t> in_pool_{0};
};

}  // namespace berth::api
