// The server's core (see server.hpp for the shape): the io_contexts, one per I/O thread, that
// connections are spread over; the accept loops; the certificate reload timer; and shutdown,
// which closes the listeners, lets in-flight requests finish until the drain deadline, then
// closes every connection that is left.
//
// Each context keeps a set of raw pointers to its connections so stop() can close the idle ones
// and, at the drain deadline, every one. The set is touched only from that context's thread.
// Internal to the server (server.hpp is the interface).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "http/listener.hpp"
#include "http/server.hpp"
#include "http/tls_context.hpp"

namespace berth::http::detail {

class Connection;

// One io_context and what lives on it. `connections` is touched only from that context's thread.
struct ContextState {
  std::unique_ptr<asio::io_context> ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::unordered_set<Connection*> connections;
};

class ServerCore {
 public:
  ServerCore(ServerOptions options, Handler handler, BlockingPool& pool, AccessLog access_log);
  ~ServerCore();
  ServerCore(const ServerCore&) = delete;
  ServerCore& operator=(const ServerCore&) = delete;

  [[nodiscard]] IoResult<asio::ip::tcp::endpoint> listen();
  std::optional<asio::ip::tcp::endpoint> tls_endpoint() const { return tls_endpoint_; }
  const std::string& failed_listener() const { return failed_listener_; }
  void run();
  void stop();
  std::size_t connection_count() const { return connections_.load(); }
  std::uint64_t refused_connections() const { return refused_.load(); }

  const ServerOptions& options() const { return options_; }
  const Handler& handler() const { return handler_; }
  BlockingPool& pool() { return pool_; }
  const AccessLog& access_log() const { return access_log_; }
  bool stopping() const { return stopping_.load(); }

  // Called on the connection's own context thread.
  void connection_opened(ContextState& context, Connection* connection);
  void connection_closed(ContextState& context, Connection* connection);
  // Gives back what the accept loop took for a connection.
  void release_slot();

 private:
  asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor, bool tls);
  asio::awaitable<void> serve(ContextState& context, asio::ip::tcp::socket socket,
                              std::shared_ptr<asio::ssl::context> tls_context);
  // A connection accepted beyond max_connections: counted, warned of (at most once a minute),
  // answered 503 or closed.
  void refuse(ContextState& target, asio::ip::tcp::socket socket, bool tls);
  asio::awaitable<void> answer_unavailable(asio::ip::tcp::socket socket);
  asio::awaitable<void> reload_loop();
  void warn(const std::string& message) const;
  void stop_on_first_context();
  void force_close_all();

  ServerOptions options_;
  Handler handler_;
  BlockingPool& pool_;
  AccessLog access_log_;
  std::vector<std::unique_ptr<ContextState>> contexts_;
  // On contexts_[0], touched only from its thread once run() has started.
  std::vector<Acceptor> listeners_;
  std::optional<asio::steady_timer> drain_timer_;
  std::optional<asio::steady_timer> reload_timer_;
  // Set by listen() when TLS is configured; shared with the pool's reload checks.
  std::shared_ptr<TlsContextSource> tls_;
  std::optional<asio::ip::tcp::endpoint> tls_endpoint_;
  std::string failed_listener_;
  std::size_t next_context_ = 0;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> tearing_down_{false};
  // Open connections: taken by the accept loop, given back when the connection ends.
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::uint64_t> refused_{0};
  // 503 answers in flight, each on the context it was accepted onto.
  std::atomic<std::size_t> refusing_{0};
  // On contexts_[0]: the refusal warning's rate limit.
  std::optional<std::chrono::steady_clock::time_point> last_refusal_warning_;
  std::uint64_t refused_since_warning_ = 0;
};

}  // namespace berth::http::detail
