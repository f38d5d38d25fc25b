// The Beast/Asio implementation of http::Server (see server.hpp for the shape): the core that
// owns the io_contexts, accepts, and shuts down (server_core.hpp), and the public face over it.
// The pieces live apart, as in Beast's advanced server:
//   listener.hpp       listening sockets;
//   connection.hpp     one client connection and its loop of requests;
//   exchange_impl.hpp  one request and its response;
//   wire.hpp           the small HTTP/1.1 helpers they share.
#include "http/server.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cstdio>
#include <exception>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include "http/connection.hpp"
#include "http/listener.hpp"
#include "http/server_core.hpp"
#include "http/wire.hpp"

namespace berth::http {
namespace detail {
namespace {

// Pause after a failed accept (EMFILE and friends) so we do not spin.
constexpr std::chrono::milliseconds kAcceptBackoff{100};
// What a connection beyond max_connections gets on plain HTTP.
constexpr std::string_view kUnavailable =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Retry-After: 5\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 44\r\n"
    "Connection: close\r\n"
    "\r\n"
    "Service Unavailable: too many connections.\r\n";
// Bounds of that answer: refused connections must cost little and go soon.
constexpr std::chrono::milliseconds kRefusalLinger{1000};
constexpr std::size_t kRefusalLingerBytes = 64 * 1024;
constexpr std::size_t kMaxRefusing = 64;
// Refusals are warned of at most this often.
constexpr std::chrono::seconds kRefusalWarningInterval{60};

}  // namespace

ServerCore::ServerCore(ServerOptions options, Handler handler, BlockingPool& pool,
                       AccessLog access_log)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      pool_(pool),
      access_log_(std::move(access_log)) {
  std::size_t threads = options_.io_threads;
  if (threads == 0) {
    threads = std::max(1u, std::thread::hardware_concurrency());
  }
  for (std::size_t i = 0; i < threads; ++i) {
    auto context = std::make_unique<ContextState>();
    context->ioc = std::make_unique<asio::io_context>(1);
    context->work.emplace(context->ioc->get_executor());
    contexts_.push_back(std::move(context));
  }
}

ServerCore::~ServerCore() {
  // Connections still in flight (run() never called, or a handler that never returned) are
  // destroyed with their io_context; they must not post anywhere while that happens.
  tearing_down_ = true;
  drain_timer_.reset();
  reload_timer_.reset();
  listeners_.clear();
  for (auto& context : contexts_) {
    context->work.reset();
  }
  for (auto& context : contexts_) {
    context->ioc.reset();
  }
}

void ServerCore::warn(const std::string& message) const {
  if (options_.warn) {
    options_.warn(message);
  } else {
    std::fprintf(stderr, "berth http: %s\n", message.c_str());
  }
}

IoResult<tcp::endpoint> ServerCore::listen() {
  const bool plain = !options_.listen.empty();
  if (!plain && !options_.tls) {
    return std::unexpected(make_error(ListenError::kNoListener));
  }
  if (options_.tls) {
    // Loaded first: a bad certificate must fail before anything is bound.
    auto source =
        TlsContextSource::load(options_.tls->certificate, options_.tls->key, options_.warn);
    if (!source) {
      warn("tls: " + source.error());
      return std::unexpected(make_error(ListenError::kTlsSetup));
    }
    tls_ = std::move(*source);
  }

  // Every acceptor is opened before any accept loop starts, so a failure leaves nothing behind.
  std::vector<Acceptor> opened;
  std::optional<tcp::endpoint> plain_endpoint;
  if (plain) {
    auto bound = open_acceptors(*contexts_[0]->ioc, options_.listen, false, opened);
    if (!bound) {
      failed_listener_ = options_.listen;
      return std::unexpected(bound.error());
    }
    plain_endpoint = *bound;
  }
  if (options_.tls) {
    auto bound = open_acceptors(*contexts_[0]->ioc, options_.tls->listen, true, opened);
    if (!bound) {
      failed_listener_ = options_.tls->listen;
      return std::unexpected(bound.error());
    }
    tls_endpoint_ = *bound;
  }

  auto& first = *contexts_[0]->ioc;
  for (auto& listener : opened) {
    listeners_.push_back(std::move(listener));
    asio::co_spawn(first, accept_loop(*listeners_.back().acceptor, listeners_.back().tls),
                   asio::detached);
  }
  if (tls_ && options_.tls->reload_check > std::chrono::milliseconds::zero()) {
    reload_timer_.emplace(first);
    asio::co_spawn(first, reload_loop(), asio::detached);
  }
  return plain_endpoint ? *plain_endpoint : *tls_endpoint_;
}

asio::awaitable<void> ServerCore::accept_loop(tcp::acceptor& acceptor, bool tls) {
  for (;;) {
    ContextState& target = *contexts_[next_context_++ % contexts_.size()];
    auto [ec, socket] = co_await acceptor.async_accept(*target.ioc, kUse);
    if (stopping() || !acceptor.is_open() || ec == asio::error::operation_aborted) {
      co_return;
    }
    if (ec) {
      asio::steady_timer backoff(acceptor.get_executor(), kAcceptBackoff);
      co_await backoff.async_wait(kUse);
      continue;
    }
    if (options_.max_connections != 0 && connections_.load() >= options_.max_connections) {
      refuse(target, std::move(socket), tls);
      continue;
    }
    // Taken here, on the accepting thread, so that a burst of accepts cannot overshoot the limit
    // before the connections register on their contexts; the connection gives it back.
    connections_.fetch_add(1);
    ErrorCode ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    // The context current at accept time serves this connection to its end.
    std::shared_ptr<asio::ssl::context> tls_context;
    if (tls) {
      tls_context = tls_->current();
    }
    asio::co_spawn(*target.ioc, serve(target, std::move(socket), std::move(tls_context)),
                   asio::detached);
  }
}

asio::awaitable<void> ServerCore::serve(ContextState& context, tcp::socket socket,
                                        std::shared_ptr<asio::ssl::context> tls_context) {
  std::optional<Connection> connection;
  try {
    connection.emplace(*this, context, std::move(socket), std::move(tls_context));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "berth http: setting up a connection failed: %s\n", e.what());
    release_slot();
    co_return;
  }
  try {
    co_await connection->serve();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "berth http: connection failed: %s\n", e.what());
  }
}

// On the first context (the accept loops' own).
void ServerCore::refuse(ContextState& target, tcp::socket socket, bool tls) {
  refused_.fetch_add(1);
  ++refused_since_warning_;
  const auto now = Clock::now();
  if (!last_refusal_warning_ || now - *last_refusal_warning_ >= kRefusalWarningInterval) {
    warn("refused " + std::to_string(refused_since_warning_) +
         " connection(s) since the last such warning: " + std::to_string(options_.max_connections) +
         " connections are open, the most http.max_connections allows (" +
         std::to_string(refused_.load()) + " refused since the start)");
    last_refusal_warning_ = now;
    refused_since_warning_ = 0;
  }
  // Plaintext would be garbage to a TLS client, and a handshake is what an overloaded server
  // can least afford; and past a few refusals in flight, a flood gets no courtesy either.
  if (tls || refusing_.load() >= kMaxRefusing) {
    ErrorCode ignored;
    socket.close(ignored);
    return;
  }
  refusing_.fetch_add(1);
  asio::co_spawn(*target.ioc, answer_unavailable(std::move(socket)), asio::detached);
}

// 503 with Retry-After, then a short lingering close so that a request already sent does not
// turn our close into a reset that destroys the answer (see connection.hpp).
asio::awaitable<void> ServerCore::answer_unavailable(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  stream.expires_after(kRefusalLinger);
  auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(kUnavailable), kUse);
  if (!write_ec) {
    ErrorCode ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    std::array<char, 4096> scratch;
    std::size_t discarded = 0;
    while (discarded < kRefusalLingerBytes) {
      auto [read_ec, n] = co_await stream.async_read_some(asio::buffer(scratch), kUse);
      if (read_ec) {
        break;
      }
      discarded += n;
    }
  }
  stream.close();
  refusing_.fetch_sub(1);
}

// Checks the certificate files every reload_check. The check reads files, so it runs on the
// pool; the timer lives on the first context and stop() cancels it.
asio::awaitable<void> ServerCore::reload_loop() {
  while (!stopping()) {
    reload_timer_->expires_after(options_.tls->reload_check);
    auto [ec] = co_await reload_timer_->async_wait(kUse);
    if (ec || stopping()) {
      co_return;
    }
    // The source is shared so that a check still running on the pool never outlives it.
    auto check = [tls = tls_] { tls->reload_if_changed(); };
    co_await offload(pool_, std::move(check));
  }
}

void ServerCore::run() {
  std::vector<std::thread> threads;
  threads.reserve(contexts_.size() - 1);
  for (std::size_t i = 1; i < contexts_.size(); ++i) {
    threads.emplace_back([context = contexts_[i].get()] { context->ioc->run(); });
  }
  contexts_[0]->ioc->run();
  for (auto& thread : threads) {
    thread.join();
  }
}

void ServerCore::stop() {
  if (stopping_.exchange(true)) {
    return;
  }
  asio::post(*contexts_[0]->ioc, [this] { stop_on_first_context(); });
  for (auto& context : contexts_) {
    asio::post(*context->ioc, [context = context.get()] {
      for (Connection* connection : context->connections) {
        connection->on_stop();
      }
      // From here the context runs until its last connection is gone.
      context->work.reset();
    });
  }
}

void ServerCore::stop_on_first_context() {
  for (auto& listener : listeners_) {
    ErrorCode ignored;
    listener.acceptor->close(ignored);
  }
  if (reload_timer_) {
    reload_timer_->cancel();
  }
  // A connection that ends after this check posts a cancel that runs after us, so no race.
  if (connections_.load() == 0) {
    return;
  }
  drain_timer_.emplace(*contexts_[0]->ioc, options_.drain_timeout);
  drain_timer_->async_wait([this](const ErrorCode& ec) {
    if (!ec) {
      force_close_all();
    }
  });
}

void ServerCore::force_close_all() {
  for (auto& context : contexts_) {
    asio::post(*context->ioc, [context = context.get()] {
      for (Connection* connection : context->connections) {
        connection->force_close();
      }
    });
  }
}

void ServerCore::connection_opened(ContextState& context, Connection* connection) {
  context.connections.insert(connection);
}

void ServerCore::connection_closed(ContextState& context, Connection* connection) {
  context.connections.erase(connection);
  release_slot();
}

void ServerCore::release_slot() {
  if (connections_.fetch_sub(1) == 1 && stopping() && !tearing_down_.load()) {
    // The last one out lets the first context stop waiting for the drain deadline.
    asio::post(*contexts_[0]->ioc, [this] {
      if (drain_timer_) {
        drain_timer_->cancel();
      }
    });
  }
}

}  // namespace detail

// ---------------------------------------------------------------------------- public face

class Server::Impl : public detail::ServerCore {
 public:
  using ServerCore::ServerCore;
};
Server::Server(ServerOptions options, Handler handler, BlockingPool& pool, AccessLog access_log)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), pool,
                                   std::move(access_log))) {}

Server::~Server() = default;

IoResult<asio::ip::tcp::endpoint> Server::listen() { return impl_->listen(); }

std::optional<asio::ip::tcp::endpoint> Server::tls_endpoint() const {
  return impl_->tls_endpoint();
}

const std::string& Server::failed_listener() const { return impl_->failed_listener(); }

void Server::run() { impl_->run(); }

void Server::stop() { impl_->stop(); }

std::size_t Server::connection_count() const { return impl_->connection_count(); }

std::uint64_t Server::refused_connections() const { return impl_->refused_connections(); }

std::string_view peer_address(std::string_view peer) {
  const auto colon = peer.rfind(':');
  return colon == std::string_view::npos ? peer : peer.substr(0, colon);
}

std::string Exchange::client_address() const { return std::string(peer_address(remote())); }

}  // namespace berth::http
