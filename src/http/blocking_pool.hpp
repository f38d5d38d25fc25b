// The bounded pool that runs everything that may block: file and database I/O, bcrypt.
// Event-loop code awaits offload(pool, fn): fn runs on a pool thread and the coroutine
// resumes on its own executor with fn's result (or its exception rethrown).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
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
  void join() {
    pool_.join();
  }

 private:
  boost::asio::thread_pool pool_;
};

// Runs fn() on the pool and resumes the awaiting coroutine on its own executor.
template <class Fn>
boost::asio::awaitable<std::invoke_result_t<Fn>> offload(BlockingPool& pool, Fn fn) {
  using R = std::invoke_result_t<Fn>;
  co_return co_await boost::asio::co_spawn(
      pool.executor(),
      [fn = std::move(fn)]() mutable -> boost::asio::awaitable<R> { co_return fn(); },
      boost::asio::use_awaitable);
}

}  // namespace berth::http
