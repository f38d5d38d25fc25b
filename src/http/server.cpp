// The Beast/Asio implementation of http::Server (see server.hpp for the shape).
//
// Life of a connection (all on the io_context it was accepted onto, so no strand and no lock):
//
//   idle read (idle_timeout) ──► header (read_timeout, header_limit) ──► handler(Exchange)
//        ▲                                │ malformed: 400/431, close                │
//        │                                ▼                                           ▼
//        └──── keep-alive ◄── drain a small unread body ◄── response (write_timeout) ◄┘
//
// The connection object lives in its coroutine's frame; each context keeps a set of raw
// pointers to its connections so stop() can close the idle ones and, at the drain deadline,
// every one. Closing the socket is the only cancellation we use: every await in here is on that
// socket or on the blocking pool, and pool work always completes.
//
// When we answer and then close while the client may still be sending (an unread body, a
// malformed header), we shut down our side and read for a short while before closing
// ("lingering close"): closing with unread input makes the kernel send a reset, and the client
// then often never sees the response that explains why.
//
// TLS connections differ in three places only: the handshake comes first (under the read
// deadline, and counts as idle for stop()); file bodies are read on the pool and written
// through the TLS stream; closing sends close_notify and waits, for the linger bound at most,
// for the peer's (which also reads away what the client was still sending).
#include "http/server.hpp"

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <exception>
#include <limits>
#include <random>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "http/listen_address.hpp"
#include "http/stream.hpp"
#include "http/tls_context.hpp"

namespace berth::http {

namespace {

namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using RequestParser = bhttp::request_parser<bhttp::buffer_body>;

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// Size of the read that waits for the first byte of a request.
constexpr std::size_t kFirstReadSize = 16 * 1024;
// An unread request body up to this size is read and dropped to keep the connection.
constexpr std::uint64_t kMaxDrain = 64 * 1024;
constexpr std::size_t kDrainPiece = 16 * 1024;
// One sendfile(2) call on the pool moves at most this much.
constexpr std::uint64_t kSendfilePiece = 4 * 1024 * 1024;
constexpr std::size_t kStreamBuffer = 256 * 1024;
// Bounds of a lingering close (see the top comment).
constexpr std::chrono::milliseconds kMaxLinger{2000};
constexpr std::uint64_t kMaxLingerBytes = 4 * 1024 * 1024;
// Pause after a failed accept (EMFILE and friends) so we do not spin.
constexpr std::chrono::milliseconds kAcceptBackoff{100};
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

std::string make_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t bits = rng();
  std::string id(16, '0');
  for (char& c : id) {
    c = kHex[bits & 0xf];
    bits >>= 4;
  }
  return id;
}

std::string http_date() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[64];
  const std::size_t n = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &utc);
  return std::string(text, n);
}

std::string format_endpoint(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const std::string port = std::to_string(endpoint.port());
  if (address.is_v6()) {
    return "[" + address.to_string() + "]:" + port;
  }
  return address.to_string() + ":" + port;
}

bool has_token(beast::string_view list, beast::string_view token) {
  for (const auto& item : bhttp::token_list{list}) {
    if (beast::iequals(item, token)) {
      return true;
    }
  }
  return false;
}

// Statuses that never carry a body (RFC 9110 6.4.1).
bool bodiless_status(unsigned status) {
  return status / 100 == 1 || status == 204 || status == 304;
}

// Errors in the request bytes themselves (as opposed to the peer going away or a deadline):
// the client deserves a 4xx for these, and may still be sending.
bool is_protocol_error(const ErrorCode& ec) {
  if (ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category()) {
    return false;
  }
  return ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message &&
         ec != bhttp::error::need_more && ec != bhttp::error::need_buffer;
}

struct SendResult {
  ssize_t sent = 0;
  int error = 0;
};

// Runs on the blocking pool: the file's pages may not be in memory.
SendResult send_file_piece(int socket_fd, int file_fd, std::uint64_t offset, std::size_t count) {
  for (;;) {
    off_t position = static_cast<off_t>(offset);
    const ssize_t n = ::sendfile(socket_fd, file_fd, &position, count);
    if (n >= 0) {
      return {n, 0};
    }
    if (errno != EINTR) {
      return {-1, errno};
    }
  }
}

// Runs on the blocking pool: file bodies for TLS connections, which cannot use sendfile(2).
IoResult<std::size_t> read_file_piece(int fd, std::uint64_t offset, std::span<std::byte> out) {
  for (;;) {
    const ssize_t n = ::pread(fd, out.data(), out.size(), static_cast<off_t>(offset));
    if (n >= 0) {
      return static_cast<std::size_t>(n);
    }
    if (errno != EINTR) {
      return std::unexpected(ErrorCode(errno, boost::system::system_category()));
    }
  }
}

// Why listen() failed, beyond what a system error code can say.
enum class ListenError {
  kNoListener = 1,
  kTlsSetup,
};

class ListenErrorCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "berth.http.listen"; }
  std::string message(int value) const override {
    switch (static_cast<ListenError>(value)) {
      case ListenError::kNoListener:
        return "no listener configured (neither plain HTTP nor TLS)";
      case ListenError::kTlsSetup:
        return "the TLS certificate and key could not be loaded";
    }
    return "unknown listen error";
  }
};

ErrorCode make_error(ListenError error) {
  static const ListenErrorCategory category;
  return ErrorCode(static_cast<int>(error), category);
}

class Connection;
class ServerCore;

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

  [[nodiscard]] IoResult<tcp::endpoint> listen();
  std::optional<tcp::endpoint> tls_endpoint() const { return tls_endpoint_; }
  void run();
  void stop();
  std::size_t connection_count() const { return connections_.load(); }

  const ServerOptions& options() const { return options_; }
  const Handler& handler() const { return handler_; }
  BlockingPool& pool() { return pool_; }
  const AccessLog& access_log() const { return access_log_; }
  bool stopping() const { return stopping_.load(); }

  // Called on the connection's own context thread.
  void connection_opened(ContextState& context, Connection* connection);
  void connection_closed(ContextState& context, Connection* connection);

 private:
  struct Listener {
    std::unique_ptr<tcp::acceptor> acceptor;
    bool tls = false;
  };

  // Opens every acceptor for one "host:port" text; nothing is accepted yet.
  [[nodiscard]] IoResult<tcp::endpoint> bind(const std::string& text, bool tls,
                                             std::vector<Listener>& out);
  asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, bool tls);
  asio::awaitable<void> serve(ContextState& context, tcp::socket socket,
                              std::shared_ptr<asio::ssl::context> tls_context);
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
  std::vector<Listener> listeners_;
  std::optional<asio::steady_timer> drain_timer_;
  std::optional<asio::steady_timer> reload_timer_;
  // Set by listen() when TLS is configured; shared with the pool's reload checks.
  std::shared_ptr<TlsContextSource> tls_;
  std::optional<tcp::endpoint> tls_endpoint_;
  std::size_t next_context_ = 0;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> tearing_down_{false};
  std::atomic<std::size_t> connections_{0};
};

enum class After { kKeepAlive, kClose, kLingerClose };

class Connection {
 public:
  // `tls_context` is null for a plain connection.
  Connection(ServerCore& server, ContextState& context, tcp::socket socket,
             std::shared_ptr<asio::ssl::context> tls_context)
      : server_(server),
        context_(context),
        tls_context_(std::move(tls_context)),
        stream_(make_stream(std::move(socket), tls_context_.get())) {
    ErrorCode ec;
    const auto peer = stream_.tcp().socket().remote_endpoint(ec);
    remote_ = ec ? std::string("unknown") : format_endpoint(peer);
    server_.connection_opened(context_, this);
  }
  ~Connection() { server_.connection_closed(context_, this); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  asio::awaitable<void> serve();

  // stop() began: a connection waiting for its next request (or still shaking hands) goes now;
  // one in a request finishes it (its response says Connection: close).
  void on_stop() {
    if (idle_) {
      stream_.tcp().cancel();
    }
  }

  // The drain deadline passed.
  void force_close() {
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

 private:
  friend class ExchangeImpl;

  static PlainOrTlsStream make_stream(tcp::socket socket, asio::ssl::context* tls_context) {
    if (tls_context != nullptr) {
      return PlainOrTlsStream(std::move(socket), *tls_context);
    }
    return PlainOrTlsStream(std::move(socket));
  }

  asio::awaitable<bool> handshake();
  asio::awaitable<After> serve_one();
  asio::awaitable<void> write_plain(bhttp::status status, const std::string& request_id);
  asio::awaitable<void> close(bool linger);
  void log(const AccessRecord& record) const {
    if (server_.access_log()) {
      server_.access_log()(record);
    }
  }

  ServerCore& server_;
  ContextState& context_;
  // Declared before the stream, which must not outlive it.
  std::shared_ptr<asio::ssl::context> tls_context_;
  PlainOrTlsStream stream_;
  beast::flat_buffer buffer_;
  std::string remote_;
  bool idle_ = false;
  bool forced_ = false;
  bool socket_busy_ = false;
  // The TLS handshake completed, so closing owes the peer a close_notify.
  bool tls_established_ = false;
};

class ExchangeImpl final : public Exchange {
 public:
  ExchangeImpl(Connection& connection, RequestParser& parser, std::string request_id)
      : connection_(connection),
        parser_(parser),
        request_id_(std::move(request_id)),
        body_limit_(connection.server_.options().default_body_limit) {
    const auto& request = parser_.get();
    expects_continue_ =
        request.version() >= 11 && beast::iequals(request[bhttp::field::expect], "100-continue");
  }

  const RequestHeader& request() const override { return parser_.get(); }
  std::string_view remote() const override { return connection_.remote_; }
  std::string_view request_id() const override { return request_id_; }
  void set_user(std::string user) override { user_ = std::move(user); }
  bool secure() const override { return connection_.tls_context_ != nullptr; }

  std::optional<std::uint64_t> content_length() const override {
    if (parser_.chunked()) {
      return std::nullopt;
    }
    const auto length = parser_.content_length();
    return length ? std::optional<std::uint64_t>(*length) : std::nullopt;
  }
  bool has_body() const override { return parser_.chunked() || content_length().value_or(0) > 0; }
  std::size_t body_bytes_ready() override {
    ErrorCode ec;
    const std::size_t in_kernel = connection_.stream_.tcp().socket().available(ec);
    return connection_.buffer_.size() + (ec ? 0 : in_kernel);
  }
  void set_body_limit(std::optional<std::uint64_t> limit) override { body_limit_ = limit; }

  asio::awaitable<IoResult<std::size_t>> read_body(std::span<std::byte> out) override;
  asio::awaitable<IoResult<std::string>> read_body_string(std::size_t limit) override;

  asio::awaitable<void> respond(Response response) override;
  asio::awaitable<void> respond_file(ResponseHeader header, int fd, std::uint64_t offset,
                                     std::uint64_t length) override;
  asio::awaitable<void> respond_stream(ResponseHeader header, std::uint64_t offset,
                                       std::uint64_t length, ReadAt read_at) override;
  asio::awaitable<bool> respond_async(ResponseHeader header, std::uint64_t length,
                                      NextPiece next) override;
  bool responded() const override { return responded_; }

  // The handler threw or did not answer: whatever it left behind, this connection ends.
  void mark_failed() { failed_ = true; }
  // After the response: drains a small unread body, says whether the connection goes on.
  asio::awaitable<After> finish();

  unsigned status() const { return status_; }
  std::uint64_t bytes_in() const { return bytes_in_; }
  std::uint64_t bytes_out() const { return bytes_out_; }
  std::string_view user() const { return user_; }

 private:
  const ServerOptions& options() const { return connection_.server_.options(); }
  bool is_head() const { return parser_.get().method() == bhttp::verb::head; }
  IoResult<std::size_t> fail(ErrorCode ec) {
    body_error_ = ec;
    return std::unexpected(ec);
  }
  void begin_response() {
    if (responded_) {
      throw std::logic_error("http: a response was already sent for this request");
    }
    responded_ = true;
  }
  bool can_drain() const;
  bool decide_keep_alive() const;
  void prepare_header(ResponseHeader& header);
  template <class Body>
  asio::awaitable<bool> write_header(bhttp::response<Body>& response);
  asio::awaitable<IoResult<std::size_t>> read_piece(std::span<std::byte> out);
  // Whether the rest of the body can be read straight from the socket into the caller's
  // buffer (see direct_left_).
  bool can_read_directly() const {
    if (connection_.stream_.is_tls() || parser_.chunked() || connection_.buffer_.size() != 0) {
      return false;
    }
    const auto remaining = parser_.content_length_remaining();
    return parser_.is_header_done() && remaining && *remaining > 0;
  }
  bool body_done() const { return direct_left_ ? *direct_left_ == 0 : parser_.is_done(); }
  std::optional<std::uint64_t> body_remaining() const {
    if (direct_left_) {
      return direct_left_;
    }
    const auto remaining = parser_.content_length_remaining();
    return remaining ? std::optional<std::uint64_t>(*remaining) : std::nullopt;
  }
  asio::awaitable<void> send_file(int fd, std::uint64_t offset, std::uint64_t length);
  asio::awaitable<bool> wait_writable();
  asio::awaitable<void> copy_body(std::uint64_t offset, std::uint64_t length,
                                  const ReadAt& read_at);
  // The common start of respond_stream and respond_async: the header with Content-Length, and
  // whether a body follows.
  enum class BodyStart { kWriteBody, kNoBody, kFailed };
  // Takes the header's fields (it is moved from).
  asio::awaitable<BodyStart> start_body(ResponseHeader& header, std::uint64_t length);

  Connection& connection_;
  RequestParser& parser_;
  std::string request_id_;
  std::string user_;
  std::optional<std::uint64_t> body_limit_;
  ErrorCode body_error_;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
  unsigned status_ = 0;
  bool expects_continue_ = false;
  bool continue_sent_ = false;
  bool responded_ = false;
  bool keep_alive_ = false;
  // The response could not be written completely: the stream is in an unknown state.
  bool broken_ = false;
  bool failed_ = false;
  // A Content-Length body is read past Beast's parser once the connection buffer holds none of
  // it: straight from the socket into the caller's buffer, in reads as large as that buffer.
  // Through the parser every byte was copied twice, in reads no larger than the connection
  // buffer (16 KiB). nullopt until then; afterwards the bytes still to come.
  std::optional<std::uint64_t> direct_left_;
};

// ---------------------------------------------------------------------------- request body

asio::awaitable<IoResult<std::size_t>> ExchangeImpl::read_piece(std::span<std::byte> out) {
  if (!direct_left_ && can_read_directly()) {
    direct_left_ = *parser_.content_length_remaining();
  }
  if (direct_left_) {
    if (*direct_left_ == 0) {
      co_return 0;
    }
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), *direct_left_));
    connection_.stream_.tcp().expires_after(options().read_timeout);
    auto [ec, n] =
        co_await connection_.stream_.tcp().async_read_some(asio::buffer(out.data(), want), kUse);
    if (ec == asio::error::eof) {
      ec = bhttp::error::partial_message;  // what the parser says of a body cut short
    }
    if (ec) {
      co_return fail(ec);
    }
    *direct_left_ -= n;
    bytes_in_ += n;
    co_return n;
  }
  auto& body = parser_.get().body();
  for (;;) {
    if (parser_.is_done()) {
      co_return 0;
    }
    body.data = out.data();
    body.size = out.size();
    connection_.stream_.tcp().expires_after(options().read_timeout);
    auto [ec, consumed] =
        co_await bhttp::async_read_some(connection_.stream_, connection_.buffer_, parser_, kUse);
    const std::size_t got = out.size() - body.size;
    body.data = nullptr;
    body.size = 0;
    if (ec == bhttp::error::need_buffer) {
      ec = {};
    }
    if (ec) {
      co_return fail(ec);
    }
    bytes_in_ += got;
    // A read may consume only chunk framing; the body has not ended until the parser says so.
    if (got > 0) {
      co_return got;
    }
  }
}

asio::awaitable<IoResult<std::size_t>> ExchangeImpl::read_body(std::span<std::byte> out) {
  if (body_error_) {
    co_return std::unexpected(body_error_);
  }
  if (out.empty()) {
    co_return std::unexpected(ErrorCode(asio::error::invalid_argument));
  }
  if (body_done()) {
    co_return 0;
  }
  const auto declared = content_length();
  if (body_limit_ && declared && *declared > *body_limit_) {
    co_return fail(bhttp::error::body_limit);
  }
  if (expects_continue_ && !continue_sent_ && !responded_) {
    continue_sent_ = true;
    connection_.stream_.tcp().expires_after(options().write_timeout);
    auto [ec, n] = co_await asio::async_write(connection_.stream_, asio::buffer(kContinue), kUse);
    if (ec) {
      broken_ = true;
      co_return fail(ec);
    }
  }
  std::size_t want = out.size();
  if (body_limit_) {
    // Ask for one byte past the limit so a body that is exactly at the limit still ends
    // cleanly while one that goes past is caught.
    const std::uint64_t room = *body_limit_ > bytes_in_ ? *body_limit_ - bytes_in_ : 0;
    if (room < want) {
      want = static_cast<std::size_t>(room) + 1;
    }
  }
  auto got = co_await read_piece(out.first(want));
  if (!got) {
    co_return got;
  }
  if (body_limit_ && bytes_in_ > *body_limit_) {
    co_return fail(bhttp::error::body_limit);
  }
  co_return got;
}

asio::awaitable<IoResult<std::string>> ExchangeImpl::read_body_string(std::size_t limit) {
  constexpr std::size_t kPiece = 64 * 1024;
  std::string out;
  if (const auto declared = content_length()) {
    if (*declared > limit) {
      co_return std::unexpected(fail(bhttp::error::body_limit).error());
    }
    out.reserve(static_cast<std::size_t>(*declared));
  }
  for (;;) {
    const std::size_t room = limit - out.size();
    const std::size_t piece = room >= kPiece ? kPiece : room + 1;
    const std::size_t old_size = out.size();
    out.resize(old_size + piece);
    auto got =
        co_await read_body(std::span(reinterpret_cast<std::byte*>(out.data() + old_size), piece));
    if (!got) {
      co_return std::unexpected(got.error());
    }
    out.resize(old_size + *got);
    if (*got == 0) {
      // Callers keep these strings (the manifest cache does): hand back no spare capacity.
      out.shrink_to_fit();
      co_return out;
    }
    if (out.size() > limit) {
      co_return std::unexpected(fail(bhttp::error::body_limit).error());
    }
  }
}

// ---------------------------------------------------------------------------- response

bool ExchangeImpl::can_drain() const {
  if (body_done()) {
    return true;
  }
  // The client waits for "100 Continue" before sending; it will not come, so neither will
  // the body, and we cannot tell its bytes from the next request's.
  if (expects_continue_ && !continue_sent_) {
    return false;
  }
  if (parser_.chunked()) {
    return false;
  }
  const auto remaining = body_remaining();
  return remaining && *remaining <= kMaxDrain;
}

bool ExchangeImpl::decide_keep_alive() const {
  return !failed_ && !body_error_ && !connection_.server_.stopping() &&
         parser_.get().keep_alive() && can_drain();
}

void ExchangeImpl::prepare_header(ResponseHeader& header) {
  header.version(parser_.get().version() == 10 ? 10 : 11);
  bool keep_alive = decide_keep_alive();
  if (has_token(header[bhttp::field::connection], "close")) {
    keep_alive = false;
  }
  // Written by hand: keep_alive(bool) lives on message, and these are bare headers.
  if (!keep_alive) {
    header.set(bhttp::field::connection, "close");
  } else if (header.version() == 10) {
    header.set(bhttp::field::connection, "keep-alive");
  }
  keep_alive_ = keep_alive;
  header.set("X-Request-Id", request_id_);
  if (header.find(bhttp::field::date) == header.end()) {
    header.set(bhttp::field::date, http_date());
  }
  status_ = header.result_int();
}

template <class Body>
asio::awaitable<bool> ExchangeImpl::write_header(bhttp::response<Body>& response) {
  bhttp::response_serializer<Body> serializer{response};
  connection_.stream_.tcp().expires_after(options().write_timeout);
  auto [ec, n] = co_await bhttp::async_write_header(connection_.stream_, serializer, kUse);
  if (ec) {
    broken_ = true;
    co_return false;
  }
  co_return true;
}

asio::awaitable<void> ExchangeImpl::respond(Response response) {
  begin_response();
  prepare_header(response.base());
  const bool bodiless = bodiless_status(status_);
  if (!bodiless && response.find(bhttp::field::content_length) == response.end() &&
      !response.chunked()) {
    response.prepare_payload();
  }
  if (is_head() || bodiless) {
    co_await write_header(response);
    co_return;
  }
  connection_.stream_.tcp().expires_after(options().write_timeout);
  auto [ec, n] = co_await bhttp::async_write(connection_.stream_, response, kUse);
  if (ec) {
    broken_ = true;
    co_return;
  }
  bytes_out_ += response.body().size();
}

asio::awaitable<void> ExchangeImpl::respond_file(ResponseHeader header, int fd,
                                                 std::uint64_t offset, std::uint64_t length) {
  begin_response();
  bhttp::response<bhttp::empty_body> response{std::move(header)};
  prepare_header(response.base());
  const bool bodiless = bodiless_status(status_);
  if (!bodiless) {
    response.content_length(length);
  }
  if (!co_await write_header(response) || is_head() || bodiless || length == 0) {
    co_return;
  }
  if (connection_.stream_.is_tls()) {
    // sendfile(2) would bypass the encryption.
    const ReadAt read_at = [fd](std::uint64_t at, std::span<std::byte> out) {
      return read_file_piece(fd, at, out);
    };
    co_await copy_body(offset, length, read_at);
    co_return;
  }
  co_await send_file(fd, offset, length);
}

asio::awaitable<bool> ExchangeImpl::wait_writable() {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(connection_.stream_.get_executor(), options().write_timeout);
  auto result =
      co_await (connection_.stream_.tcp().socket().async_wait(tcp::socket::wait_write, kUse) ||
                timer.async_wait(kUse));
  if (result.index() != 0) {
    co_return false;
  }
  const auto [ec] = std::get<0>(result);
  co_return !ec;
}

asio::awaitable<void> ExchangeImpl::send_file(int fd, std::uint64_t offset, std::uint64_t length) {
  auto& socket = connection_.stream_.tcp().socket();
  ErrorCode ec;
  socket.non_blocking(true, ec);
  if (ec) {
    broken_ = true;
    co_return;
  }
  const int socket_fd = socket.native_handle();
  std::uint64_t position = offset;
  std::uint64_t left = length;
  while (left > 0) {
    const auto count = static_cast<std::size_t>(std::min(left, kSendfilePiece));
    connection_.socket_busy_ = true;
    auto send = [socket_fd, fd, position, count] {
      return send_file_piece(socket_fd, fd, position, count);
    };
    const SendResult result = co_await offload(connection_.server_.pool(), std::move(send));
    connection_.socket_busy_ = false;
    if (connection_.forced_) {
      broken_ = true;
      co_return;
    }
    if (result.sent > 0) {
      const auto sent = static_cast<std::uint64_t>(result.sent);
      position += sent;
      left -= sent;
      bytes_out_ += sent;
      continue;
    }
    if (result.sent < 0 && (result.error == EAGAIN || result.error == EWOULDBLOCK)) {
      if (!co_await wait_writable()) {
        broken_ = true;
        co_return;
      }
      continue;
    }
    // 0: the file is shorter than promised; otherwise the peer reset or a real I/O error.
    // Either way the promised length cannot be met.
    broken_ = true;
    co_return;
  }
}

asio::awaitable<ExchangeImpl::BodyStart> ExchangeImpl::start_body(ResponseHeader& header,
                                                                  std::uint64_t length) {
  begin_response();
  bhttp::response<bhttp::empty_body> response{std::move(header)};
  prepare_header(response.base());
  const bool bodiless = bodiless_status(status_);
  if (!bodiless) {
    response.content_length(length);
  }
  if (!co_await write_header(response)) {
    co_return BodyStart::kFailed;
  }
  if (is_head() || bodiless || length == 0) {
    co_return BodyStart::kNoBody;
  }
  co_return BodyStart::kWriteBody;
}

asio::awaitable<void> ExchangeImpl::respond_stream(ResponseHeader header, std::uint64_t offset,
                                                   std::uint64_t length, ReadAt read_at) {
  // Named, not compared inside the condition: GCC 12 miscompiles a co_await there.
  const BodyStart start = co_await start_body(header, length);
  if (start == BodyStart::kWriteBody) {
    co_await copy_body(offset, length, read_at);
  }
}

asio::awaitable<bool> ExchangeImpl::respond_async(ResponseHeader header, std::uint64_t length,
                                                  NextPiece next) {
  const BodyStart start = co_await start_body(header, length);
  if (start != BodyStart::kWriteBody) {
    co_return start == BodyStart::kNoBody;
  }
  std::vector<std::byte> buffer(
      static_cast<std::size_t>(std::min<std::uint64_t>(length, kStreamBuffer)));
  std::uint64_t left = length;
  while (left > 0) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buffer.size()));
    const std::span<std::byte> out(buffer.data(), want);
    IoResult<std::size_t> got = co_await next(out);
    if (!got || *got == 0) {
      broken_ = true;
      co_return false;
    }
    const std::size_t n = std::min(*got, want);
    connection_.stream_.tcp().expires_after(options().write_timeout);
    auto [ec, written] =
        co_await asio::async_write(connection_.stream_, asio::buffer(buffer.data(), n), kUse);
    if (ec) {
      broken_ = true;
      co_return false;
    }
    left -= n;
    bytes_out_ += n;
  }
  co_return true;
}

// Reads on the pool, writes through the stream (plain or TLS), one buffer at a time.
asio::awaitable<void> ExchangeImpl::copy_body(std::uint64_t offset, std::uint64_t length,
                                              const ReadAt& read_at) {
  std::vector<std::byte> buffer(
      static_cast<std::size_t>(std::min<std::uint64_t>(length, kStreamBuffer)));
  std::uint64_t position = offset;
  std::uint64_t left = length;
  while (left > 0) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buffer.size()));
    IoResult<std::size_t> got;
    auto read = [&read_at, position, data = buffer.data(), want] {
      return read_at(position, std::span(data, want));
    };
    try {
      got = co_await offload(connection_.server_.pool(), std::move(read));
    } catch (const std::exception&) {
      got = std::unexpected(boost::system::errc::make_error_code(boost::system::errc::io_error));
    }
    if (!got || *got == 0) {
      broken_ = true;
      co_return;
    }
    const std::size_t n = std::min(*got, want);
    connection_.stream_.tcp().expires_after(options().write_timeout);
    auto [ec, written] =
        co_await asio::async_write(connection_.stream_, asio::buffer(buffer.data(), n), kUse);
    if (ec) {
      broken_ = true;
      co_return;
    }
    position += n;
    left -= n;
    bytes_out_ += n;
  }
}

asio::awaitable<After> ExchangeImpl::finish() {
  const bool unread = !body_done();
  const bool body_unusable = body_error_ && !is_protocol_error(body_error_);
  if (broken_ || body_unusable) {
    co_return After::kClose;
  }
  if (failed_) {
    co_return unread ? After::kLingerClose : After::kClose;
  }
  if (!keep_alive_ || !can_drain()) {
    co_return unread ? After::kLingerClose : After::kClose;
  }
  if (unread) {
    std::vector<std::byte> scratch(kDrainPiece);
    while (!body_done()) {
      if (!co_await read_piece(scratch)) {
        co_return After::kClose;
      }
    }
  }
  co_return After::kKeepAlive;
}

// ---------------------------------------------------------------------------- connection

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

asio::awaitable<void> Connection::write_plain(bhttp::status status, const std::string& request_id) {
  Response response{status, 11};
  response.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  response.set("X-Request-Id", request_id);
  response.set(bhttp::field::date, http_date());
  response.keep_alive(false);
  response.body() = std::string(bhttp::obsolete_reason(status)) + "\n";
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

  std::optional<bhttp::status> reject;
  if (ec == bhttp::error::header_limit) {
    reject = bhttp::status::request_header_fields_too_large;
  } else if (ec && is_protocol_error(ec)) {
    reject = bhttp::status::bad_request;
  } else if (ec) {
    co_return After::kClose;
  } else if (const auto& request = parser.get();
             request.find(bhttp::field::transfer_encoding) != request.end() &&
             (!parser.chunked() || request.find(bhttp::field::content_length) != request.end())) {
    // A transfer coding we cannot frame, or both framings at once: the request-smuggling
    // shapes of RFC 9112 6.1/6.3. Beast lets some of them through.
    reject = bhttp::status::bad_request;
  }
  if (reject) {
    const std::string request_id = make_request_id();
    co_await write_plain(*reject, request_id);
    log(AccessRecord{
        .method = {},
        .target = {},
        .status = static_cast<unsigned>(*reject),
        .bytes_in = 0,
        .bytes_out = 0,
        .duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started),
        .request_id = request_id,
        .user = {},
        .remote = remote_,
    });
    co_return After::kLingerClose;
  }

  ExchangeImpl exchange(*this, parser, make_request_id());
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

  const auto& request = parser.get();
  log(AccessRecord{
      .method = request.method_string(),
      .target = request.target(),
      .status = exchange.status(),
      .bytes_in = exchange.bytes_in(),
      .bytes_out = exchange.bytes_out(),
      .duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started),
      .request_id = exchange.request_id(),
      .user = exchange.user(),
      .remote = remote_,
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

// ---------------------------------------------------------------------------- server

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
  std::vector<Listener> opened;
  std::optional<tcp::endpoint> plain_endpoint;
  if (plain) {
    auto bound = bind(options_.listen, false, opened);
    if (!bound) {
      return std::unexpected(bound.error());
    }
    plain_endpoint = *bound;
  }
  if (options_.tls) {
    auto bound = bind(options_.tls->listen, true, opened);
    if (!bound) {
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

IoResult<tcp::endpoint> ServerCore::bind(const std::string& text, bool tls,
                                         std::vector<Listener>& out) {
  auto address = parse_listen_address(text);
  if (!address) {
    return std::unexpected(ErrorCode(asio::error::invalid_argument));
  }
  auto& first = *contexts_[0]->ioc;
  std::vector<tcp::endpoint> endpoints;
  ErrorCode ec;
  const auto literal = asio::ip::make_address(address->host, ec);
  if (!ec) {
    endpoints.emplace_back(literal, address->port);
  } else {
    // A name ("localhost"): resolving may block, which is fine here, before run().
    tcp::resolver resolver(first);
    const auto results =
        resolver.resolve(address->host, std::to_string(address->port), tcp::resolver::passive, ec);
    if (ec) {
      return std::unexpected(ec);
    }
    for (const auto& entry : results) {
      endpoints.push_back(entry.endpoint());
    }
  }

  std::optional<tcp::endpoint> bound;
  ErrorCode first_error;
  for (auto endpoint : endpoints) {
    if (bound && endpoint.port() == 0) {
      // Port 0 on a name with several addresses: every listener shares the first's port.
      endpoint.port(bound->port());
    }
    auto acceptor = std::make_unique<tcp::acceptor>(first);
    ErrorCode step;
    acceptor->open(endpoint.protocol(), step);
    if (!step) {
      acceptor->set_option(asio::socket_base::reuse_address(true), step);
    }
    if (!step && endpoint.address().is_v6() && endpoints.size() > 1) {
      acceptor->set_option(asio::ip::v6_only(true), step);
    }
    if (!step) {
      acceptor->bind(endpoint, step);
    }
    if (!step) {
      acceptor->listen(asio::socket_base::max_listen_connections, step);
    }
    if (step) {
      if (!first_error) {
        first_error = step;
      }
      continue;
    }
    const auto local = acceptor->local_endpoint(step);
    if (step) {
      if (!first_error) {
        first_error = step;
      }
      continue;
    }
    if (!bound) {
      bound = local;
    }
    out.push_back(Listener{.acceptor = std::move(acceptor), .tls = tls});
  }
  if (!bound) {
    if (!first_error) {
      first_error =
          boost::system::errc::make_error_code(boost::system::errc::address_not_available);
    }
    return std::unexpected(first_error);
  }
  return *bound;
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
  Connection connection(*this, context, std::move(socket), std::move(tls_context));
  try {
    co_await connection.serve();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "berth http: connection failed: %s\n", e.what());
  }
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
  connections_.fetch_add(1);
}

void ServerCore::connection_closed(ContextState& context, Connection* connection) {
  context.connections.erase(connection);
  if (connections_.fetch_sub(1) == 1 && stopping() && !tearing_down_.load()) {
    // The last one out lets the first context stop waiting for the drain deadline.
    asio::post(*contexts_[0]->ioc, [this] {
      if (drain_timer_) {
        drain_timer_->cancel();
      }
    });
  }
}

}  // namespace

// ---------------------------------------------------------------------------- public face

class Server::Impl : public ServerCore {
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

void Server::run() { impl_->run(); }

void Server::stop() { impl_->stop(); }

std::size_t Server::connection_count() const { return impl_->connection_count(); }

}  // namespace berth::http
