#include "proxy/notifier.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>

namespace berth::proxy {

namespace asio = boost::asio;

// Removes a parked waiter's waker when the waiter wakes or its coroutine is destroyed.
class Notifier::Registration {
 public:
  Registration(Notifier& notifier, std::uint64_t id) : notifier_(notifier), id_(id) {}
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  ~Registration() {
    std::lock_guard lock(notifier_.mutex_);
    notifier_.wakers_.erase(id_);
  }

 private:
  Notifier& notifier_;
  const std::uint64_t id_;
};

asio::awaitable<void> Notifier::wait(std::function<bool()> ready) {
  auto executor = co_await asio::this_coro::executor;
  for (;;) {
    auto timer = std::make_shared<asio::steady_timer>(executor, recheck_);
    std::uint64_t id = 0;
    {
      std::lock_guard lock(mutex_);
      if (ready()) {
        co_return;
      }
      id = next_waker_++;
      wakers_.emplace(id,
                      [timer] { asio::post(timer->get_executor(), [timer] { timer->cancel(); }); });
    }
    Registration registration(*this, id);
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void Notifier::notify(const std::function<void()>& change) {
  std::lock_guard lock(mutex_);
  change();
  // Under the mutex: a waiter removes its waker under it too, so every waker run here belongs
  // to a waiter still parked on a live executor. Posting only queues, so it is cheap.
  for (auto& [id, wake] : wakers_) {
    wake();
  }
  wakers_.clear();
}

std::size_t Notifier::waiting() {
  std::lock_guard lock(mutex_);
  return wakers_.size();
}

asio::awaitable<void> Event::wait() {
  std::function<bool()> ready = [this] { return set_; };
  co_await notifier_.wait(std::move(ready));
}

void Event::set() {
  notifier_.notify([this] { set_ = true; });
}

asio::awaitable<void> Limiter::acquire() {
  std::function<bool()> ready = [this] {
    if (in_use_ < limit_) {
      ++in_use_;
      return true;
    }
    return false;
  };
  co_await notifier_.wait(std::move(ready));
}

void Limiter::release() {
  notifier_.notify([this] { --in_use_; });
}

}  // namespace berth::proxy
