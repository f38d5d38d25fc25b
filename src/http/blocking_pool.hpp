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

// Runs fn() on the pool and resumes the awaiting coroutine on its own executor. fn's result
// travels in a std::optional because co_spawn needs a default-constructible result type, and
// std::expected<T, E> often is not.
//
// GCC 12 destroys twice an aggregate temporary (a lambda's closure, a brace-initialised struct)
// or a conditional's class temporary written inside a co_await expression. So when fn captures
// anything with a destructor (a string, a shared_ptr), name it before awaiting:
//   auto read = [store, key] { return store->get(key); };
//   auto result = co_await offload(pool, std::move(read));
// Captures of references, pointers and numbers are harmless either way. The tasks below are
// named for the same reason.
template <class Fn>
boost::asio::awaitable<std::invoke_result_t<Fn>> offload(BlockingPool& pool, Fn fn) {
  using R = std::invoke_result_t<Fn>;
  if constexpr (std::is_void_v<R>) {
    auto task = [fn = std::move(fn)]() mutable -> boost::asio::awaitable<void> {
      fn();
      co_return;
    };
    co_await boost::asio::co_spawn(pool.executor(), std::move(task), boost::asio::use_awaitable);
  } else {
    auto task = [fn = std::move(fn)]() mutable -> boost::asio::awaitable<std::optional<R>> {
      co_return std::optional<R>(fn());
    };
    auto result = co_await boost::asio::co_spawn(pool.executor(), std::move(task),
                                                 boost::asio::use_awaitable);
    co_return std::move(*result);
  }
}

}  // namespace berth::http
