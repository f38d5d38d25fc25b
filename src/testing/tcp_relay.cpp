#include "testing/tcp_relay.hpp"

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <list>
#include <thread>
#include <utility>

namespace berth::testing {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// One relayed connection: the caller's socket and ours to the target.
struct Pair {
  explicit Pair(asio::io_context& io) : outside(io), inside(io) {}
  void close() {
    boost::system::error_code ignored;
    outside.close(ignored);
    inside.close(ignored);
  }
  tcp::socket outside;
  tcp::socket inside;
};

asio::awaitable<void> pump(std::shared_ptr<Pair> pair, tcp::socket& from, tcp::socket& to) {
  std::array<char, 64 * 1024> buffer{};
  for (;;) {
    auto [read_error, n] =
        co_await from.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
    if (read_error) {
      break;
    }
    auto [write_error, written] = co_await asio::async_write(to, asio::buffer(buffer.data(), n),
                                                             asio::as_tuple(asio::use_awaitable));
    if (write_error) {
      break;
    }
  }
  pair->close();
}

}  // namespace

class TcpRelay::Impl {
 public:
  Impl(std::string host, std::uint16_t port)
      : target_(asio::ip::make_address(host), port),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io_, accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Impl() {
    io_.stop();
    thread_.join();
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::size_t accepted() const { return accepted_.load(); }

  // Runs on the relay's thread, where the sockets live, and returns when it has.
  void set_cut(bool cut) {
    std::promise<void> done;
    asio::post(io_, [&] {
      cut_ = cut;
      if (cut) {
        for (auto& weak : pairs_) {
          if (auto pair = weak.lock()) {
            pair->close();
          }
        }
        pairs_.clear();
      }
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  asio::awaitable<void> accept() {
    for (;;) {
      auto pair = std::make_shared<Pair>(io_);
      auto [error] =
          co_await acceptor_.async_accept(pair->outside, asio::as_tuple(asio::use_awaitable));
      if (error) {
        co_return;
      }
      ++accepted_;
      if (cut_) {
        pair->close();
        continue;
      }
      asio::co_spawn(io_, relay(std::move(pair)), asio::detached);
    }
  }

  asio::awaitable<void> relay(std::shared_ptr<Pair> pair) {
    auto [error] =
        co_await pair->inside.async_connect(target_, asio::as_tuple(asio::use_awaitable));
    if (error || cut_) {
      pair->close();
      co_return;
    }
    pairs_.remove_if([](const std::weak_ptr<Pair>& weak) { return weak.expired(); });
    pairs_.push_back(pair);
    asio::co_spawn(io_, pump(pair, pair->outside, pair->inside), asio::detached);
    asio::co_spawn(io_, pump(pair, pair->inside, pair->outside), asio::detached);
  }

  asio::io_context io_;
  const tcp::endpoint target_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<std::size_t> accepted_{0};
  // Touched on the relay's thread only.
  bool cut_ = false;
  std::list<std::weak_ptr<Pair>> pairs_;
};

TcpRelay::TcpRelay(std::string target_host, std::uint16_t target_port)
    : impl_(std::make_shared<Impl>(std::move(target_host), target_port)) {}
TcpRelay::~TcpRelay() = default;

std::uint16_t TcpRelay::port() const { return impl_->port(); }
std::size_t TcpRelay::accepted() const { return impl_->accepted(); }
void TcpRelay::cut() { impl_->set_cut(true); }
void TcpRelay::restore() { impl_->set_cut(false); }

}  // namespace berth::testing
