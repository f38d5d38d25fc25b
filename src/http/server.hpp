// The HTTP/1.1 server: Boost.Beast on Asio coroutines. It knows connections, requests,
// streaming bodies, limits and deadlines, and nothing about registries.
//
// Shape: one io_context per I/O thread (one per core), each connection lives on one of them,
// so a connection's code never runs on two threads at once and needs no strand. Anything
// that may block (disk, database, bcrypt) is posted to the BlockingPool and awaited.
//
// Per connection: keep-alive; a header limit; a read deadline on every read (slow clients
// are cut off); a total deadline on the header and, growing with what has arrived, on the body
// (trickling clients are cut off); an idle deadline between requests. Request bodies are read
// by the handler in pieces into its own buffer, so memory per connection is bounded. At most
// max_connections are open at once; beyond, new connections are refused and counted. File
// responses go out with sendfile(2), called on the blocking pool so a cold page cache never
// stalls the loop.
//
// TLS: an optional second listener speaks HTTPS (see tls_context.hpp for the protocol policy and
// certificate reloading). Both listeners feed the same connection code through
// PlainOrTlsStream; on TLS the handshake runs under the read deadline, file bodies are read on
// the blocking pool and encrypted (sendfile cannot encrypt), and closing sends close_notify.
//
// Shutdown: stop() closes the listeners, closes idle connections, lets in-flight requests
// finish until the drain deadline, then cancels what is left.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "http/blocking_pool.hpp"
#include "metrics/http_metrics.hpp"
#include "util/ip_networks.hpp"

namespace berth::http {

namespace asio = boost::asio;
namespace beast = boost::beast;

using RequestHeader = beast::http::request_header<>;
using ResponseHeader = beast::http::response_header<>;
using Response = beast::http::response<beast::http::string_body>;
using ErrorCode = boost::system::error_code;

template <class T>
using IoResult = std::expected<T, ErrorCode>;

// What the access log needs to know about one finished request.
struct AccessRecord {
  std::string_view method;
  std::string_view target;
  unsigned status = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::chrono::microseconds duration{0};
  std::string_view request_id;
  std::string_view user;
  std::string_view remote;
  // The client's IP address (Exchange::client_address): the peer's, or the client a trusted
  // proxy forwarded for.
  std::string_view client{};
  // What the handler said the request was (Exchange::set_route), and its repository if any.
  metrics::RouteClass route = metrics::RouteClass::kOther;
  std::string_view repository{};
  std::string_view user_agent{};
};

// The address of a peer "1.2.3.4:5678" or "[::1]:5678", without the port.
[[nodiscard]] std::string_view peer_address(std::string_view peer);

// One request and its response, handed to the Handler. Lives until the handler returns.
// Not thread-safe: use it only from the handler's coroutine.
class Exchange {
 public:
  virtual ~Exchange() = default;

  virtual const RequestHeader& request() const = 0;
  // "ip:port" of the peer.
  virtual std::string_view remote() const = 0;
  // The client's IP address, without the port: the peer's, or, when the peer is a trusted
  // proxy (ServerOptions::trusted_proxies), the client its X-Forwarded-For names
  // (forwarded_for.hpp). What logins are throttled by and audits record. Not pure, so that
  // test doubles need not say: by default the address of remote().
  virtual std::string client_address() const;
  // This request's id, sent back as X-Request-Id: the one a trusted proxy sent
  // (ServerOptions::trusted_proxies), else a random one.
  virtual std::string_view request_id() const = 0;
  // Who made the request, for the access log.
  virtual void set_user(std::string user) = 0;
  // What the request asks for, for the metrics and the access log. Not pure, so that test
  // doubles need not say.
  virtual void set_route(metrics::RouteClass /*route*/) {}
  // The repository the request names, for the access log.
  virtual void set_repository(std::string_view /*name*/) {}
  // True when the request came over the TLS listener, e.g. to build absolute URLs with
  // "https". Not pure, so that test doubles of plain exchanges need not say.
  virtual bool secure() const { return false; }

  // ---- request body
  // The declared Content-Length, or nullopt for chunked / none.
  virtual std::optional<std::uint64_t> content_length() const = 0;
  // True unless the request has no body at all (no Content-Length > 0 and not chunked).
  virtual bool has_body() const = 0;
  // Body bytes that have arrived and can be read without waiting (an estimate: it counts
  // framing and, over TLS, encrypted bytes). 0 means the next read_body would wait.
  virtual std::size_t body_bytes_ready() = 0;
  // Caps the body; reading more fails with beast::http::error::body_limit. Set it before the
  // first read. The server default caps at ServerOptions::default_body_limit.
  virtual void set_body_limit(std::optional<std::uint64_t> limit) = 0;
  // Reads the next piece of the body into out; returns 0 at the end of the body. Sends
  // "100 Continue" first if the client asked for it. Errors: timeout, peer gone, limit,
  // malformed chunking. After an error the connection is closed after the response.
  virtual asio::awaitable<IoResult<std::size_t>> read_body(std::span<std::byte> out) = 0;
  // Reads the whole body, failing with body_limit above `limit` bytes.
  virtual asio::awaitable<IoResult<std::string>> read_body_string(std::size_t limit) = 0;

  // ---- response: exactly one of these, once.
  // Sends a buffered response. Content-Length is computed from the body unless the response
  // already has one (HEAD answers). For HEAD requests only the header is written.
  virtual asio::awaitable<void> respond(Response response) = 0;
  // Sends `length` bytes of fd from `offset` after the header, with sendfile(2) (on TLS the
  // bytes are read on the blocking pool and encrypted). The header gets Content-Length =
  // length. For HEAD only the header is written. The fd stays owned by the caller and must stay
  // open until this returns.
  virtual asio::awaitable<void> respond_file(ResponseHeader header, int fd, std::uint64_t offset,
                                             std::uint64_t length) = 0;
  // Like respond_file, for sources without a file descriptor: read_at(offset, out) is called
  // on the blocking pool and returns bytes read (0 means the source ended early: the
  // connection is then closed, since the promised length cannot be met).
  // Build read_at as a named variable and std::move it in: a lambda written inside the
  // co_await expression is destroyed twice by GCC 12 (see offload() in blocking_pool.hpp).
  using ReadAt = std::function<IoResult<std::size_t>(std::uint64_t offset, std::span<std::byte>)>;
  virtual asio::awaitable<void> respond_stream(ResponseHeader header, std::uint64_t offset,
                                               std::uint64_t length, ReadAt read_at) = 0;
  // Like respond_stream, for a source that produces its bytes on the event loop (a body
  // arriving from another server): next(out) is awaited on this connection's executor and
  // returns how many bytes it put into out. 0 or an error means the source ended early: the
  // connection is then closed, since the promised length cannot be met. Returns true when all
  // `length` bytes were written (for HEAD: when the header was), false otherwise; the source
  // may then go on without a reader. Name `next` before awaiting (see respond_stream).
  using NextPiece = std::function<asio::awaitable<IoResult<std::size_t>>(std::span<std::byte>)>;
  virtual asio::awaitable<bool> respond_async(ResponseHeader header, std::uint64_t length,
                                              NextPiece next) = 0;
  virtual bool responded() const = 0;
  // The status of the response once its header is written (whichever of the calls above wrote
  // it), 0 before: what the audit log records of a request, however its handler answered.
  virtual unsigned status() const = 0;
};

using Handler = std::function<asio::awaitable<void>(Exchange&)>;
// Called once per request after its response, concurrently from every I/O thread; the
// record's views live only for the call.
using AccessLog = std::function<void(const AccessRecord&)>;

// The HTTPS listener.
struct TlsOptions {
  // "host:port", as ServerOptions::listen.
  std::string listen;
  // PEM: the server certificate followed by any intermediates.
  std::filesystem::path certificate;
  // PEM, unencrypted.
  std::filesystem::path key;
  // How often the two files are checked for a change (then loaded for new connections).
  // Zero turns reloading off.
  std::chrono::milliseconds reload_check{std::chrono::seconds(5)};
};

struct ServerOptions {
  // "host:port"; "[::1]:5000" for IPv6; port 0 picks a free port. Empty: no plain HTTP
  // listener (then `tls` must be set).
  std::string listen = "0.0.0.0:5000";
  std::optional<TlsOptions> tls;
  // Receives problems worth an operator's attention that are not errors of a call: a failed
  // TLS setup in listen(), a certificate reload that failed. Called from any thread.
  std::function<void(std::string)> warn;
  std::size_t io_threads = 0;  // 0: one per core
  std::size_t header_limit = 64 * 1024;
  std::uint64_t default_body_limit = 4 * 1024 * 1024;
  // Longest wait for the next bytes of a request (header or body) once it has started; also
  // the longest a whole header may take.
  std::chrono::milliseconds read_timeout{std::chrono::seconds(60)};
  // The body's total deadline: read_timeout from its first read, plus one second for every
  // body_min_rate bytes that have arrived. A client must keep up this average rate (after the
  // first read_timeout), so one that trickles a byte now and then is cut off, while a large
  // upload is never cut off however long it takes as long as it moves: holding a connection
  // costs bandwidth. 0: no total deadline (only read_timeout between reads).
  std::uint64_t body_min_rate = 1024;
  // Connections open at once, kept-alive ones included. A connection accepted beyond it is
  // answered 503 with Retry-After (plain HTTP; on TLS, where answering would cost a handshake,
  // it is closed), counted in refused_connections() and warned of (at most once a minute).
  // 0: no limit.
  std::size_t max_connections = 4096;
  // Longest wait for the next bytes when writing a response.
  std::chrono::milliseconds write_timeout{std::chrono::seconds(60)};
  // Longest wait for a new request on a kept-alive connection.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(120)};
  // How long stop() lets in-flight requests run before cancelling them.
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(30)};
  // Where requests are counted (/metrics); null: nowhere. Must outlive the server.
  metrics::HttpMetrics* metrics = nullptr;
  // Peers whose X-Request-Id is kept (a reverse proxy that sets it); from any other peer the
  // header is ignored and a new id made.
  util::IpNetworks trusted_proxies;
};

class Server {
 public:
  Server(ServerOptions options, Handler handler, BlockingPool& pool, AccessLog access_log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the TLS certificate (if any), binds and listens on every configured listener, or
  // on none. Returns the plain listener's bound endpoint (useful with port 0), or the TLS one
  // when plain HTTP is off. Why TLS setup failed (which file, what is wrong with it) goes to
  // ServerOptions::warn; the error code only says what kind of failure it was.
  [[nodiscard]] IoResult<asio::ip::tcp::endpoint> listen();
  // The TLS listener's bound endpoint, once listen() succeeded with TLS configured.
  std::optional<asio::ip::tcp::endpoint> tls_endpoint() const;
  // After listen() failed to open a listener: its "host:port" (an error message names it).
  const std::string& failed_listener() const;
  // Runs the I/O threads; returns after stop() has drained (or cancelled) every connection.
  void run();
  // Begins a graceful shutdown. Safe to call from any thread or a signal handler's context
  // (it only posts work), more than once.
  void stop();
  // Number of open connections (for tests and /metrics).
  std::size_t connection_count() const;
  // Connections refused since the start because max_connections were open (for /metrics).
  std::uint64_t refused_connections() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::http
