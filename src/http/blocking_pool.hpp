// A bounded pool of threads for work that may block: file and database I/O, bcrypt, and the
// maintenance jobs (garbage collection, retention, purges). Event-loop code awaits
// offload(pool, fn): fn runs on a pool thread and the coroutine resumes on its own executor
// with fn's result (or its exception rethrown).
//
// A server runs several, one per kind of work, so that one kind cannot take the threads
// another needs: requests' disk and database work, password hashing, maintenance. Each has a
// name for logs, and counts the jobs waiting for a thread and running (for /metrics and logs).
// Work posted straight to executor() (a strand over the pool) is not counted.
#pragma once

#include <atomic>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace berth::http {

class BlockingPool {
 public:
  explicit BlockingPool(std::size_t threads, std::string name = "blocking")
      : pool_(threads), threads_(threads), name_(std::move(name)) {}
  ~BlockingPool() { join(); }
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  boost::asio::thread_pool::executor_type executor() { return pool_.get_executor(); }
  // Waits for every job posted so far to end, and ends the threads.
  void join() { pool_.join(); }

  const std::string& name() const { return name_; }
  std::size_t threads() const { return threads_; }
  // Jobs posted and not yet started: how far behind the pool is.
  std::size_t queued() const { return queued_.load(std::memory_order_relaxed); }
  // Jobs running now (at most threads()).
  std::size_t running() const { return running_.load(std::memory_order_relaxed); }

  // Runs job() on a pool thread, counted in queued() and then running().
  template <class Job>
  void post(Job job) {
    queued_.fetch_add(1, std::memory_order_relaxed);
    boost::asio::post(pool_.get_executor(), [this, job = std::move(job)]() mutable {
      queued_.fetch_sub(1, std::memory_order_relaxed);
      running_.fetch_add(1, std::memory_order_relaxed);
      struct Done {
        std::atomic<std::size_t>& running;
        ~Done() { running.fetch_sub(1, std::memory_order_relaxed); }
      } done{running_};
      job();
    });
  }

 private:
  boost::asio::thread_pool pool_;
  const std::size_t threads_;
  const std::string name_;
  std::atomic<std::size_t> queued_{0};
  std::atomic<std::size_t> running_{0};
};

// Runs fn() on the pool and resumes the awaiting coroutine on its own executor with fn's
// result, or fn's exception rethrown.
//
// Written on async_initiate rather than co_spawn: a co_spawn starts a second coroutine
// machinery (its frame, its own thread of awaitables) for every call, and this runs for every
// database read and file operation of every request. Here a call costs one posted function
// each way.
//
// GCC 12 destroys twice an aggregate temporary (a lambda's closure, a brace-initialised struct)
// or a conditional's class temporary written inside a co_await expression. So when fn captures
// anything with a destructor (a string, a shared_ptr), name it before awaiting:
//   auto read = [store, key] { return store->get(key); };
//   auto result = co_await offload(pool, std::move(read));
// Captures of references, pointers and numbers are harmless either way.
template <class Fn>
boost::asio::awaitable<std::invoke_result_t<Fn>> offload(BlockingPool& pool, Fn fn) {
  using R = std::invoke_result_t<Fn>;
  using Slot = std::conditional_t<std::is_void_v<R>, bool, std::optional<R>>;
  // Both live in this coroutine's frame, which stays put until the handler resumes it.
  Slot result{};
  std::exception_ptr failure;
  auto initiate = [&pool, &fn, &result, &failure](auto handler) {
    // Keeps the caller's io_context running while it has nothing else to do.
    auto resume_on = boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                         boost::asio::execution::outstanding_work.tracked);
    pool.post([&fn, &result, &failure, handler = std::move(handler),
               resume_on = std::move(resume_on)]() mutable {
      try {
        if constexpr (std::is_void_v<R>) {
          fn();
        } else {
          result.emplace(fn());
        }
      } catch (...) {
        failure = std::current_exception();
      }
      boost::asio::post(resume_on, std::move(handler));
    });
  };
  co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void()>(
      initiate, boost::asio::use_awaitable);
  if (failure) {
    std::rethrow_exception(failure);
  }
  if constexpr (!std::is_void_v<R>) {
    co_return std::move(*result);
  }
}

}  // namespace berth::http
