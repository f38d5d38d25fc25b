// The exchange of one request (exchange_impl.hpp): reading the body, writing the response,
// and finishing (draining a small unread body to keep the connection).
#include "http/exchange_impl.hpp"

#include <sys/sendfile.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <exception>
#include <stdexcept>
#include <utility>
#include <variant>
#include <vector>

#include "http/forwarded_for.hpp"

namespace berth::http::detail {
namespace {

// An unread request body up to this size is read and dropped to keep the connection.
constexpr std::uint64_t kMaxDrain = 64 * 1024;
constexpr std::size_t kDrainPiece = 16 * 1024;
// One sendfile(2) call on the pool moves at most this much.
constexpr std::uint64_t kSendfilePiece = 4 * 1024 * 1024;
constexpr std::size_t kStreamBuffer = 256 * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr double kMaxEarnedSeconds = 365.0 * 24 * 3600;

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

}  // namespace

// ---------------------------------------------------------------------------- request body

Clock::time_point ExchangeImpl::read_deadline() {
  const auto now = Clock::now();
  const auto& o = options();
  const auto next_bytes = now + o.read_timeout;
  if (o.body_min_rate == 0) {
    return next_bytes;
  }
  if (!body_started_) {
    body_started_ = now;
  }
  // The seconds the bytes so far have earned, capped (at a year) so that the sum below cannot
  // overflow; a body that has earned that much is past any deadline worth having.
  const double earned = std::min(
      static_cast<double>(bytes_in_) / static_cast<double>(o.body_min_rate), kMaxEarnedSeconds);
  const auto whole_body =
      *body_started_ + o.read_timeout +
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(earned));
  return std::min(next_bytes, whole_body);
}

asio::awaitable<IoResult<std::size_t>> ExchangeImpl::read_piece(std::span<std::byte> out) {
  if (!direct_left_ && can_read_directly()) {
    direct_left_ = *parser_.content_length_remaining();
  }
  if (direct_left_) {
    if (*direct_left_ == 0) {
      co_return 0;
    }
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), *direct_left_));
    connection_.stream_.tcp().expires_at(read_deadline());
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
    connection_.stream_.tcp().expires_at(read_deadline());
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
  header.set(kRequestIdHeader, request_id_);
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
  // Named, not compared inside the condition: GCC 12 miscompiles a co_await there.
  const BodyStart start = co_await start_body(header, length);
  if (start != BodyStart::kWriteBody) {
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

}  // namespace berth::http::detail

namespace berth::http::detail {

std::string ExchangeImpl::client_address() const {
  std::string peer = Exchange::client_address();
  if (!connection_.trusted_peer_) {
    return peer;
  }
  // Several X-Forwarded-For fields are one list, in order (RFC 9110 5.3).
  std::string forwarded;
  const auto& fields = request();
  for (auto [it, end] = fields.equal_range("X-Forwarded-For"); it != end; ++it) {
    if (!forwarded.empty()) {
      forwarded += ',';
    }
    forwarded += it->value();
  }
  return forwarded_client(forwarded, connection_.server_.options().trusted_proxies)
      .value_or(std::move(peer));
}

void ExchangeImpl::set_route(metrics::RouteClass route) {
  route_ = route;
  metrics::HttpMetrics* metrics = options().metrics;
  const auto method = parser_.get().method();
  // An upload is a request carrying blob bytes: POST (a monolithic one), PATCH and PUT, with a
  // body (a mount, the POST that starts a chunked upload and a closing PUT carry none).
  const bool carries_blob =
      (method == bhttp::verb::post || method == bhttp::verb::patch || method == bhttp::verb::put) &&
      has_body();
  if (metrics != nullptr && route == metrics::RouteClass::kUpload && carries_blob &&
      !upload_counted_) {
    upload_counted_ = true;
    metrics->upload_started();
  }
}

void ExchangeImpl::end_metrics() {
  if (upload_counted_) {
    upload_counted_ = false;
    options().metrics->upload_ended();
  }
}

}  // namespace berth::http::detail
