// Connection and Watchdog: request writing, response reading with the body streamed past
// SHA-256, and deadlines without a timer per operation.
#include "loadgen/http_connection.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <charconv>
#include <limits>

namespace berth::bench {
namespace {

namespace http = beast::http;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kSmallChunk = 64 * 1024;
constexpr std::size_t kLargeChunk = 512 * 1024;
constexpr std::size_t kErrorBodyLimit = 4096;

void append_number(std::string& out, std::uint64_t value) {
  char text[24];
  auto [end, ec] = std::to_chars(text, text + sizeof text, value);
  out.append(text, end);
}

}  // namespace

// ---- Watchdog

void Watchdog::start() {
  stopped_ = false;
  asio::co_spawn(timer_.get_executor(), loop(), asio::detached);
}

void Watchdog::stop() {
  stopped_ = true;
  timer_.cancel();
}

asio::awaitable<void> Watchdog::loop() {
  while (!stopped_) {
    timer_.expires_after(std::chrono::milliseconds(250));
    co_await timer_.async_wait(kUseTuple);
    if (stopped_) {
      break;
    }
    const auto now = Clock::now();
    for (Connection* connection : connections_) {
      connection->expire_if_late(now, cutoff_);
    }
  }
}

// ---- Connection

Connection::Connection(asio::io_context& io, asio::ip::tcp::endpoint endpoint, Watchdog* watchdog,
                       std::chrono::seconds timeout)
    : socket_(io), endpoint_(endpoint), watchdog_(watchdog), timeout_(timeout) {
  host_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  head_.reserve(1024);
  if (watchdog_ != nullptr) {
    watchdog_->add(this);
  }
}

Connection::~Connection() {
  if (watchdog_ != nullptr) {
    watchdog_->remove(this);
  }
}

void Connection::close() {
  ErrorCode ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  read_buffer_.clear();
  requests_on_connection_ = 0;
}

void Connection::set_authorization(std::string value, Clock::time_point expires) {
  authorization_ = std::move(value);
  authorization_expires_ = expires;
}

void Connection::expire_if_late(Clock::time_point now, Clock::time_point cutoff) {
  const bool in_flight = deadline_ != Clock::time_point::max();
  if ((now > deadline_ || (now > cutoff && in_flight)) && socket_.is_open()) {
    // Only the socket: the pending operation completes with an error and round_trip cleans up.
    timed_out_ = true;
    ErrorCode ignored;
    socket_.close(ignored);
  }
}

asio::awaitable<ErrorCode> Connection::connect() {
  if (socket_.is_open()) {
    co_return ErrorCode{};
  }
  deadline_ = Clock::now() + timeout_;
  auto [ec] = co_await socket_.async_connect(endpoint_, kUseTuple);
  deadline_ = Clock::time_point::max();
  if (ec) {
    close();
    co_return ec;
  }
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  ++connects_;
  co_return ErrorCode{};
}

std::span<std::byte> Connection::chunk_buffer(std::uint64_t wanted) {
  const std::size_t size = wanted > 4 * kSmallChunk ? kLargeChunk : kSmallChunk;
  if (chunk_size_ < size) {
    chunk_ = std::make_unique<std::byte[]>(size);
    chunk_size_ = size;
  }
  return {chunk_.get(), chunk_size_};
}

void Connection::consume_body(const std::byte* data, std::size_t size, const ReadOptions& options,
                              Response& out) {
  if (options.expect != nullptr && !out.mismatch) {
    out.mismatch = !blob_equals(*options.expect, out.body_bytes, data, size);
  }
  out.body_bytes += size;
  if (options.hash) {
    sha_.update(data, size);
  }
  const bool capture_error = out.status >= 300 && out.body.size() < kErrorBodyLimit;
  if (options.capture || capture_error) {
    const auto room = options.capture ? size : std::min(size, kErrorBodyLimit - out.body.size());
    out.body.append(reinterpret_cast<const char*>(data), room);
  }
}

asio::awaitable<ErrorCode> Connection::write_request(const Request& request) {
  head_.clear();
  const auto method = http::to_string(request.method);
  head_.append(method.data(), method.size());
  head_ += ' ';
  head_.append(request.target);
  head_ += " HTTP/1.1\r\nHost: ";
  head_ += host_;
  head_ += "\r\n";
  for (const auto& field : request.headers) {
    head_.append(field.name);
    head_ += ": ";
    head_.append(field.value);
    head_ += "\r\n";
  }
  const std::string_view authorization =
      request.authorization.empty() ? std::string_view(authorization_) : request.authorization;
  if (!authorization.empty()) {
    head_ += "Authorization: ";
    head_.append(authorization);
    head_ += "\r\n";
  }
  std::uint64_t length = 0;
  for (const auto& buffer : request.body) {
    length += buffer.size();
  }
  if (length > 0 || request.send_empty_length) {
    head_ += "Content-Length: ";
    append_number(head_, length);
    head_ += "\r\n";
  }
  head_ += "\r\n";
  gather_.clear();
  gather_.emplace_back(head_.data(), head_.size());
  gather_.insert(gather_.end(), request.body.begin(), request.body.end());
  auto [ec, written] = co_await asio::async_write(socket_, gather_, kUseTuple);
  co_return ec;
}

asio::awaitable<ErrorCode> Connection::read_response(const Request& request,
                                                     const ReadOptions& options, Response& out,
                                                     bool& nothing_received) {
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (request.method == http::verb::head) {
    parser.skip(true);
  }
  nothing_received = read_buffer_.size() == 0;
  auto [ec, n] = co_await http::async_read_header(socket_, read_buffer_, parser, kUseTuple);
  if (n > 0) {
    nothing_received = false;
  }
  if (ec) {
    co_return ec;
  }
  const auto& message = parser.get();
  out.status = message.result_int();
  if (auto it = message.find(http::field::location); it != message.end()) {
    out.location = it->value();
  }
  if (auto it = message.find("Docker-Content-Digest"); it != message.end()) {
    out.docker_content_digest = it->value();
  }
  if (auto it = message.find(http::field::link); it != message.end()) {
    out.link = it->value();
  }
  if (auto it = message.find(http::field::www_authenticate); it != message.end()) {
    out.www_authenticate = it->value();
  }
  if (auto it = message.find(http::field::content_length); it != message.end()) {
    std::uint64_t value = 0;
    auto text = it->value();
    if (std::from_chars(text.data(), text.data() + text.size(), value).ec == std::errc{}) {
      out.content_length = value;
    }
  }
  const bool keep_alive = parser.keep_alive();
  if (options.hash) {
    sha_.reset();
  }

  if (!parser.is_done()) {
    const auto length = parser.content_length();
    if (length && !parser.chunked()) {
      // The fast path: exactly *length bytes follow, read them straight from the socket.
      std::uint64_t remaining = *length;
      const auto buffered = read_buffer_.data();
      const auto take = std::min<std::uint64_t>(buffered.size(), remaining);
      consume_body(static_cast<const std::byte*>(buffered.data()), take, options, out);
      read_buffer_.consume(take);
      remaining -= take;
      const auto chunk = chunk_buffer(remaining);
      while (remaining > 0) {
        const auto want =
            static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), remaining));
        auto [read_ec, got] =
            co_await socket_.async_read_some(asio::buffer(chunk.data(), want), kUseTuple);
        if (read_ec) {
          co_return read_ec;
        }
        consume_body(chunk.data(), got, options, out);
        remaining -= got;
      }
    } else {
      const auto chunk = chunk_buffer(kLargeChunk);
      while (!parser.is_done()) {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        auto [read_ec, got] = co_await http::async_read(socket_, read_buffer_, parser, kUseTuple);
        if (read_ec && read_ec != http::error::need_buffer) {
          co_return read_ec;
        }
        consume_body(chunk.data(), chunk.size() - parser.get().body().size, options, out);
      }
    }
  }
  if (options.hash) {
    out.digest = Sha256::digest_text(sha_.finish());
  }
  if (!keep_alive) {
    close();
  }
  co_return ErrorCode{};
}

asio::awaitable<ErrorCode> Connection::round_trip(const Request& request,
                                                  const ReadOptions& options, Response& out) {
  for (int attempt = 0;; ++attempt) {
    out = Response{};
    timed_out_ = false;
    const bool reused = socket_.is_open() && requests_on_connection_ > 0;
    if (auto ec = co_await connect(); ec) {
      co_return ec;
    }
    deadline_ = Clock::now() + timeout_;
    auto ec = co_await write_request(request);
    bool nothing_received = true;
    if (!ec) {
      ec = co_await read_response(request, options, out, nothing_received);
    }
    deadline_ = Clock::time_point::max();
    if (!ec) {
      ++requests_on_connection_;
      co_return ec;
    }
    if (timed_out_) {
      ec = asio::error::timed_out;
    }
    close();
    // A kept-alive connection the server closed while idle fails before any byte of the
    // response arrives: that is not the request's fault, so try once more.
    const bool stale = reused && nothing_received && !timed_out_ &&
                       (ec == asio::error::eof || ec == http::error::end_of_stream ||
                        ec == asio::error::connection_reset || ec == asio::error::broken_pipe);
    if (!stale || attempt > 0) {
      co_return ec;
    }
  }
}

}  // namespace berth::bench
