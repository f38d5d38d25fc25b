// One client connection of the server: its stream, its buffer, and the loop of requests on it.
//
// Life of a connection (all on the io_context it was accepted onto, so no strand and no lock):
//
//   idle read (idle_timeout) ──► header (read_timeout, header_limit) ──► handler(Exchange)
//        ▲                                │ malformed: 400/431, close                │
//        │                                ▼                                           ▼
//        └──── keep-alive ◄── drain a small unread body ◄── response (write_timeout) ◄┘
//
// The connection object lives in its coroutine's frame and registers itself with its context
// (server_core.hpp) so stop() can close it. Closing the socket is the only cancellation we use:
// every await in here is on that socket or on the blocking pool, and pool work always
// completes.
//
// When we answer and then close while the client may still be sending (an unread body, a
// malformed header), we shut down our side and read for a short while before closing
// ("lingering close"): closing with unread input makes the kernel send a reset, and the client
// then often never sees the response that explains why.
//
// TLS connections differ in three places only: the handshake comes first (under the read
// deadline, and counts as idle for stop()); file bodies are read on the pool and written
// through the TLS stream (exchange_impl.hpp); closing sends close_notify and waits, for the
// linger bound at most, for the peer's (which also reads away what the client was still
// sending).
// Internal to the server (server.hpp is the interface).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/status.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "http/server.hpp"
#include "http/server_core.hpp"
#include "http/stream.hpp"
#include "http/wire.hpp"

namespace berth::http::detail {

// How a request that never reaches a handler is answered: a status, and what the client got
// wrong (empty: the status's reason phrase says it all).
struct Refusal {
  bhttp::status status;
  std::string_view why;
};

class Connection {
 public:
  // `tls_context` is null for a plain connection.
  Connection(ServerCore& server, ContextState& context, tcp::socket socket,
             std::shared_ptr<asio::ssl::context> tls_context);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  asio::awaitable<void> serve();

  // stop() began: a connection waiting for its next request (or still shaking hands) goes now;
  // one in a request finishes it (its response says Connection: close).
  void on_stop();
  // The drain deadline passed.
  void force_close();

 private:
  friend class ExchangeImpl;

  asio::awaitable<bool> handshake();
  asio::awaitable<After> serve_one();
  // Answers a request that no handler may see, and logs it.
  asio::awaitable<void> refuse(Refusal refusal, Clock::time_point started);
  // Hands a well-formed request to the handler, and logs it.
  asio::awaitable<After> exchange(RequestParser& parser, Clock::time_point started);
  std::string request_id_of(const RequestHeader& request) const;
  asio::awaitable<void> write_plain(Refusal refusal, const std::string& request_id);
  asio::awaitable<void> close(bool linger);
  void log(const AccessRecord& record) const;

  ServerCore& server_;
  ContextState& context_;
  // Declared before the stream, which must not outlive it.
  std::shared_ptr<asio::ssl::context> tls_context_;
  PlainOrTlsStream stream_;
  beast::flat_buffer buffer_;
  std::string remote_;
  // The peer is one of ServerOptions::trusted_proxies: its X-Request-Id is kept.
  bool trusted_peer_ = false;
  bool idle_ = false;
  bool forced_ = false;
  bool socket_busy_ = false;
  // The TLS handshake completed, so closing owes the peer a close_notify.
  bool tls_established_ = false;
};

}  // namespace berth::http::detail
