// The bounded pool that runs everything that may block: file and database I/O, bcrypt.
// Event-loop code awaits offload(pool, fn): fn runs on a pool thread and the coroutine
// resumes on its own executor with fn's result (or its exception rethrown).
#pragma once

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
#include <type_traits>
#include <utility>

namespace berth::http {

class BlockingPool {
 public:
  explicit BlockingPool(std::size_t threads) : pool_(threads) {}
  ~BlockingPool() { join(); }
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  boost::asio::thread_pool::executor_type executor() { return pool_.get_executor(); }
  void join() { pool_.join(); }

 private:
  boost::asio::thread_pool pool_;
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
    boost::asio::post(pool.executor(), [&fn, &result, &failure, handler = std::move(handler),
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
