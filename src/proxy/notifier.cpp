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

asio::awaitable<void> Notifier::wait(std::function<bool()> ready) {
  auto executor = co_await asio::this_coro::executor;
  for (;;) {
    auto timer = std::make_shared<asio::steady_timer>(executor, recheck_);
    {
      std::lock_guard lock(mutex_);
      if (ready()) {
        co_return;
      }
      wakers_.push_back(
          [timer] { asio::post(timer->get_executor(), [timer] { timer->cancel(); }); });
    }
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void Notifier::notify(const std::function<void()>& change) {
  std::vector<std::function<void()>> wakers;
  {
    std::lock_guard lock(mutex_);
    change();
    wakers.swap(wakers_);
  }
  for (auto& wake : wakers) {
    wake();
  }
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
