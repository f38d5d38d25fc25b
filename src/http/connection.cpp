// A client connection of the server (connection.hpp): the TLS handshake, the loop of requests,
// the answers to requests that never reach a handler, and the (lingering) close.
#include "http/connection.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <limits>
#include <optional>
#include <utility>

#include "http/exchange_impl.hpp"

namespace berth::http::detail {
namespace {

// Bounds of a lingering close (see connection.hpp).
constexpr std::chrono::milliseconds kMaxLinger{2000};
constexpr std::uint64_t kMaxLingerBytes = 4 * 1024 * 1024;

// Why a request whose header parsed is refused before any handler sees it, if it is.
std::optional<Refusal> refusal(const RequestHeader& request, bool chunked) {
  if (request.find(bhttp::field::transfer_encoding) != request.end() &&
      (!chunked || request.find(bhttp::field::content_length) != request.end())) {
    // A transfer coding we cannot frame, or both framings at once: the request-smuggling
    // shapes of RFC 9112 6.1/6.3. Beast lets some of them through.
    return Refusal{bhttp::status::bad_request, "the body's framing is ambiguous or unsupported"};
  }
  // RFC 9112 3.2: HTTP/1.1 requires exactly one Host (HTTP/1.0 had none), and it must be a
  // host[:port]. Handlers build URLs from it (the token realm), so a malformed one stops here.
  const std::size_t hosts = request.count(bhttp::field::host);
  if (hosts > 1 || (hosts == 0 && request.version() >= 11)) {
    return Refusal{bhttp::status::bad_request, "an HTTP/1.1 request needs one Host header"};
  }
  if (hosts == 1 && !valid_host(request[bhttp::field::host])) {
    return Refusal{bhttp::status::bad_request, "the Host header is not a host[:port]"};
  }
  return std::nullopt;
}

// Counts a request in flight for its lifetime.
class InFlight {
 public:
  explicit InFlight(metrics::HttpMetrics* metrics) : metrics_(metrics) {
    if (metrics_ != nullptr) {
      metrics_->request_started();
    }
  }
  ~InFlight() {
    if (metrics_ != nullptr) {
      metrics_->request_ended();
    }
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  metrics::HttpMetrics* metrics_;
};

PlainOrTlsStream make_stream(tcp::socket socket, asio::ssl::context* tls_context) {
  if (tls_context != nullptr) {
    return PlainOrTlsStream(std::move(socket), *tls_context);
  }
  return PlainOrTlsStream(std::move(socket));
}

}  // namespace

Connection::Connection(ServerCore& server, ContextState& context, tcp::socket socket,
                       std::shared_ptr<asio::ssl::context> tls_context)
    : server_(server),
      context_(context),
      tls_context_(std::move(tls_context)),
      stream_(make_stream(std::move(socket), tls_context_.get())) {
  ErrorCode ec;
  const auto peer = stream_.tcp().socket().remote_endpoint(ec);
  remote_ = ec ? std::string("unknown") : format_endpoint(peer);
  trusted_peer_ = !ec && server_.options().trusted_proxies.contains(peer.address());
  server_.connection_opened(context_, this);
}

Connection::~Connection() { server_.connection_closed(context_, this); }

void Connection::on_stop() {
  if (idle_) {
    stream_.tcp().cancel();
  }
}

void Connection::force_close() {
  forced_ = true;
  if (socket_busy_) {
    // A pool thread is inside sendfile(2) on this descriptor: closing it now could hand the
    // number to another open(); shutting it down makes that call fail instead.
    ::shutdown(stream_.tcp().socket().native_handle(), SHUT_RDWR);
    return;
  }
  ErrorCode ec;
  stream_.tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.tcp().close();
}

void Connection::log(const AccessRecord& record) const {
  if (server_.access_log()) {
    server_.access_log()(record);
  }
}

asio::awaitable<bool> Connection::handshake() {
  PlainOrTlsStream::Tls* tls = stream_.tls();
  // Nothing has been asked yet, so stop() may close a connection still shaking hands.
  idle_ = true;
  stream_.tcp().expires_after(server_.options().read_timeout);
  auto [ec] = co_await tls->async_handshake(asio::ssl::stream_base::server, kUse);
  idle_ = false;
  tls_established_ = !ec;
  co_return !ec;
}

asio::awaitable<void> Connection::serve() {
  if (stream_.is_tls()) {
    bool ready = false;
    if (!server_.stopping()) {
      ready = co_await handshake();
    }
    if (!ready) {
      // A failed handshake leaves nothing to say to the peer.
      ErrorCode ec;
      stream_.tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
      stream_.tcp().close();
      co_return;
    }
  }
  bool linger = false;
  while (!server_.stopping()) {
    if (buffer_.size() == 0) {
      idle_ = true;
      stream_.tcp().expires_after(server_.options().idle_timeout);
      auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kFirstReadSize), kUse);
      idle_ = false;
      if (ec) {
        break;
      }
      buffer_.commit(n);
    }
    const After after = co_await serve_one();
    if (after != After::kKeepAlive) {
      linger = after == After::kLingerClose;
      break;
    }
  }
  co_await close(linger);
}

asio::awaitable<void> Connection::write_plain(Refusal refusal, const std::string& request_id) {
  const bhttp::status status = refusal.status;
  Response response{status, 11};
  response.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  response.set(kRequestIdHeader, request_id);
  response.set(bhttp::field::date, http_date());
  response.keep_alive(false);
  response.body() = std::string(bhttp::obsolete_reason(status));
  if (!refusal.why.empty()) {
    response.body() += ": " + std::string(refusal.why);
  }
  response.body() += "\n";
  response.prepare_payload();
  stream_.tcp().expires_after(server_.options().write_timeout);
  co_await bhttp::async_write(stream_, response, kUse);
}

asio::awaitable<After> Connection::serve_one() {
  const auto started = Clock::now();
  const auto& options = server_.options();
  RequestParser parser;
  parser.header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(options.header_limit, std::numeric_limits<std::uint32_t>::max())));
  // The body limit is the Exchange's business (a handler may raise it after seeing the header).
  parser.body_limit(boost::none);

  stream_.tcp().expires_after(options.read_timeout);
  auto [ec, n] = co_await bhttp::async_read_header(stream_, buffer_, parser, kUse);

  std::optional<Refusal> reject;
  if (ec == bhttp::error::header_limit) {
    reject = Refusal{bhttp::status::request_header_fields_too_large, ""};
  } else if (ec && is_protocol_error(ec)) {
    reject = Refusal{bhttp::status::bad_request, ""};
  } else if (ec) {
    co_return After::kClose;
  } else {
    reject = refusal(parser.get(), parser.chunked());
  }
  if (reject) {
    co_await refuse(*reject, started);
    co_return After::kLingerClose;
  }
  co_return co_await exchange(parser, started);
}

asio::awaitable<void> Connection::refuse(Refusal refusal, Clock::time_point started) {
  const std::string request_id = make_request_id();
  co_await write_plain(refusal, request_id);
  const auto duration =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
  if (metrics::HttpMetrics* metrics = server_.options().metrics) {
    metrics->record(metrics::RequestSample{.route = metrics::RouteClass::kOther,
                                           .method = bhttp::verb::unknown,
                                           .status = static_cast<unsigned>(refusal.status),
                                           .bytes_in = 0,
                                           .bytes_out = 0,
                                           .duration = duration});
  }
  log(AccessRecord{
      .method = {},
      .target = {},
      .status = static_cast<unsigned>(refusal.status),
      .bytes_in = 0,
      .bytes_out = 0,
      .duration = duration,
      .request_id = request_id,
      .user = {},
      .remote = remote_,
      .client = peer_address(remote_),
      .route = metrics::RouteClass::kOther,
      .repository = {},
      .user_agent = {},
  });
}

// The request's id: the one a trusted proxy sent, if it is one, else a new one.
std::string Connection::request_id_of(const RequestHeader& request) const {
  if (trusted_peer_) {
    const auto incoming = request[kRequestIdHeader];
    if (valid_request_id(incoming)) {
      return std::string(incoming);
    }
  }
  return make_request_id();
}

asio::awaitable<After> Connection::exchange(RequestParser& parser, Clock::time_point started) {
  metrics::HttpMetrics* metrics = server_.options().metrics;
  // Counted in flight until the end of this function, however it ends.
  InFlight in_flight(metrics);
  ExchangeImpl exchange(*this, parser, request_id_of(parser.get()));
  bool threw = false;
  try {
    co_await server_.handler()(exchange);
  } catch (const std::exception& e) {
    // The handler logs what it can; this is the last line of defence.
    std::fprintf(stderr, "berth http: handler threw for request %s: %s\n",
                 std::string(exchange.request_id()).c_str(), e.what());
    threw = true;
  } catch (...) {
    std::fprintf(stderr, "berth http: handler threw a non-exception for request %s\n",
                 std::string(exchange.request_id()).c_str());
    threw = true;
  }
  if (threw || !exchange.responded()) {
    exchange.mark_failed();
  }
  if (!exchange.responded()) {
    Response response{bhttp::status::internal_server_error, 11};
    response.set(bhttp::field::content_type, "text/plain; charset=utf-8");
    response.body() = "Internal Server Error\n";
    co_await exchange.respond(std::move(response));
  }
  const After after = co_await exchange.finish();

  exchange.end_metrics();

  const auto& request = parser.get();
  const auto duration =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
  if (metrics != nullptr) {
    metrics->record(metrics::RequestSample{.route = exchange.route(),
                                           .method = request.method(),
                                           .status = exchange.status(),
                                           .bytes_in = exchange.bytes_in(),
                                           .bytes_out = exchange.bytes_out(),
                                           .duration = duration});
  }
  if (!server_.access_log()) {
    co_return after;  // nothing below is needed: the User-Agent lookup is a scan of the fields
  }
  // Only a trusted proxy's request has a client other than the peer (and a string to hold it).
  std::string forwarded_client;
  std::string_view client = peer_address(remote_);
  if (trusted_peer_) {
    forwarded_client = exchange.client_address();
    client = forwarded_client;
  }
  log(AccessRecord{
      .method = request.method_string(),
      .target = request.target(),
      .status = exchange.status(),
      .bytes_in = exchange.bytes_in(),
      .bytes_out = exchange.bytes_out(),
      .duration = duration,
      .request_id = exchange.request_id(),
      .user = exchange.user(),
      .remote = remote_,
      .client = client,
      .route = exchange.route(),
      .repository = exchange.repository(),
      .user_agent = request[bhttp::field::user_agent],
  });
  co_return after;
}

asio::awaitable<void> Connection::close(bool linger) {
  ErrorCode ec;
  // Stop may close us now: we owe this client nothing more.
  idle_ = true;
  const auto deadline =
      Clock::now() + std::min<Clock::duration>(server_.options().read_timeout, kMaxLinger);
  bool closed_cleanly = false;
  if (tls_established_ && !forced_) {
    // close_notify, then wait for the peer's: it tells the client the response was complete,
    // and reading it leaves nothing unread that would make the kernel send a reset.
    stream_.tcp().expires_at(deadline);
    auto [shutdown_ec] = co_await stream_.tls()->async_shutdown(kUse);
    closed_cleanly = !shutdown_ec;
  }
  if (linger && !closed_cleanly && !forced_) {
    // On TLS the bytes read here are records we no longer decrypt; they only need reading.
    stream_.tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
    buffer_.consume(buffer_.size());
    std::uint64_t discarded = 0;
    while (discarded < kMaxLingerBytes && !forced_) {
      stream_.tcp().expires_at(deadline);
      auto [read_ec, n] =
          co_await stream_.tcp().async_read_some(buffer_.prepare(kFirstReadSize), kUse);
      if (read_ec) {
        break;
      }
      discarded += n;
    }
  }
  stream_.tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.tcp().close();
}

}  // namespace berth::http::detail
