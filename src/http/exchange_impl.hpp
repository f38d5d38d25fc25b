// One request and its response on a connection: the server's implementation of http::Exchange
// (server.hpp documents the contract). It reads the body through Beast's parser, or straight
// from the socket once the connection buffer holds none of it; it writes buffered responses,
// files (sendfile(2) on the blocking pool, or read there and encrypted on TLS) and streamed
// bodies; and after the response it decides whether the connection goes on.
// Internal to the server (server.hpp is the interface).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "http/connection.hpp"
#include "http/server.hpp"
#include "http/wire.hpp"

namespace berth::http::detail {

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

  ~ExchangeImpl() override { end_metrics(); }
  ExchangeImpl(const ExchangeImpl&) = delete;
  ExchangeImpl& operator=(const ExchangeImpl&) = delete;

  const RequestHeader& request() const override { return parser_.get(); }
  std::string_view remote() const override { return connection_.remote_; }
  std::string client_address() const override;
  std::string_view request_id() const override { return request_id_; }
  void set_user(std::string user) override { user_ = std::move(user); }
  void set_route(metrics::RouteClass route) override;
  // Kept only for the access log (a copy, allocated past 15 characters, on every /v2 request).
  void set_repository(std::string_view name) override {
    if (connection_.server_.access_log()) {
      repository_ = name;
    }
  }
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

  unsigned status() const override { return status_; }
  std::uint64_t bytes_in() const { return bytes_in_; }
  std::uint64_t bytes_out() const { return bytes_out_; }
  std::string_view user() const { return user_; }
  metrics::RouteClass route() const { return route_; }
  std::string_view repository() const { return repository_; }
  // Ends what set_route began in the metrics (the upload in flight).
  void end_metrics();

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
  // When the next body read must have completed: read_timeout from now, and no later than the
  // body's total deadline (ServerOptions::body_min_rate), which starts at the first read.
  Clock::time_point read_deadline();
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
  // The common start of respond_file, respond_stream and respond_async: the header with
  // Content-Length, and whether a body follows.
  enum class BodyStart { kWriteBody, kNoBody, kFailed };
  // Takes the header's fields (it is moved from).
  asio::awaitable<BodyStart> start_body(ResponseHeader& header, std::uint64_t length);

  Connection& connection_;
  RequestParser& parser_;
  std::string request_id_;
  std::string user_;
  std::string repository_;
  metrics::RouteClass route_ = metrics::RouteClass::kOther;
  // Counted in HttpMetrics' uploads in flight (until end_metrics).
  bool upload_counted_ = false;
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
  // When the body's first read began.
  std::optional<Clock::time_point> body_started_;
};

}  // namespace berth::http::detail
