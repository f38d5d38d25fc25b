// The load generator's HTTP/1.1 client: one keep-alive connection, driven by a coroutine.
//
// It is built to cost the client as little as possible per request:
// - the request header is formatted into a reused string and written together with the body
//   in one gathered write; the body is a list of buffers pointing at memory the caller owns
//   (the shared random data), so even a 1 GiB upload is never copied in user space;
// - a response with a Content-Length is read with Beast's parser for the header only; its
//   body is then read straight from the socket into a per-connection buffer, hashed with
//   SHA-256 and counted as it streams, and dropped (chunked bodies go through the parser);
// - no timer per operation: a Watchdog per io_context scans its connections every 250 ms and
//   closes those whose deadline has passed.
//
// Not thread-safe: a Connection, like its Watchdog, belongs to one io_context (one thread).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "loadgen/blob_data.hpp"
#include "loadgen/sha256.hpp"

namespace berth::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
using ErrorCode = boost::system::error_code;
using Clock = std::chrono::steady_clock;

struct HeaderField {
  std::string_view name;
  std::string_view value;
};

struct Request {
  beast::http::verb method = beast::http::verb::get;
  std::string_view target;
  std::span<const HeaderField> headers = {};
  // Sent as is after the header; Content-Length is their total size.
  std::span<const asio::const_buffer> body = {};
  // Send "Content-Length: 0" when there is no body (POST, PUT and PATCH need it).
  bool send_empty_length = false;
  // Sent instead of the connection's Authorization (Connection::set_authorization).
  std::string_view authorization = {};
};

struct ReadOptions {
  // Keep the body in Response::body (manifests, JSON). Error bodies (status >= 300) are kept
  // up to 4 KiB regardless.
  bool capture = false;
  // Compute Response::digest over the body while it streams.
  bool hash = false;
  // Compare the body while it streams with these bytes (Response::mismatch says if it
  // differed). As strict as the digest and five times cheaper than SHA-256 for the client.
  const Blob* expect = nullptr;
};

struct Response {
  unsigned status = 0;
  std::uint64_t body_bytes = 0;
  std::optional<std::uint64_t> content_length;
  std::string body;
  std::string digest;     // "sha256:..." when ReadOptions::hash
  bool mismatch = false;  // with ReadOptions::expect: a byte differed, or the body was longer
  std::string location;
  std::string docker_content_digest;
  std::string link;
  std::string www_authenticate;
};

class Connection;

// Closes connections whose current request has run past its deadline, and at `cutoff` those
// with any request in flight (the end of a run bounded by time).
class Watchdog {
 public:
  explicit Watchdog(asio::io_context& io) : timer_(io) {}
  void set_cutoff(Clock::time_point cutoff) { cutoff_ = cutoff; }
  void start();
  void stop();
  void add(Connection* connection) { connections_.insert(connection); }
  void remove(Connection* connection) { connections_.erase(connection); }

 private:
  asio::awaitable<void> loop();

  asio::steady_timer timer_;
  std::unordered_set<Connection*> connections_;
  Clock::time_point cutoff_ = Clock::time_point::max();
  bool stopped_ = false;
};

class Connection {
 public:
  Connection(asio::io_context& io, asio::ip::tcp::endpoint endpoint, Watchdog* watchdog,
             std::chrono::seconds timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Opens the connection if it is not open. Errors close it again.
  asio::awaitable<ErrorCode> connect();
  // Sends one request and reads its whole response into `out`. On a connection the server
  // closed while it was idle, retries once on a new connection. Any error closes the
  // connection; the next request reconnects.
  asio::awaitable<ErrorCode> round_trip(const Request& request, const ReadOptions& options,
                                        Response& out);
  void close();
  bool is_open() const { return socket_.is_open(); }
  // The Authorization header value sent with every request that does not bring its own (empty:
  // none), as a client keeps its credentials or token; `expires` is when a token runs out.
  void set_authorization(std::string value, Clock::time_point expires = Clock::time_point::max());
  const std::string& authorization() const { return authorization_; }
  Clock::time_point authorization_expires() const { return authorization_expires_; }
  std::uint64_t connects() const { return connects_; }
  const std::string& host() const { return host_; }

  // For the Watchdog: ends the request in flight if its deadline (or `cutoff`) has passed.
  void expire_if_late(Clock::time_point now, Clock::time_point cutoff);

 private:
  asio::awaitable<ErrorCode> write_request(const Request& request);
  asio::awaitable<ErrorCode> read_response(const Request& request, const ReadOptions& options,
                                           Response& out, bool& nothing_received);
  void consume_body(const std::byte* data, std::size_t size, const ReadOptions& options,
                    Response& out);
  std::span<std::byte> chunk_buffer(std::uint64_t wanted);

  asio::ip::tcp::socket socket_;
  asio::ip::tcp::endpoint endpoint_;
  Watchdog* watchdog_;
  std::chrono::seconds timeout_;
  std::string host_;
  std::string head_;
  std::vector<asio::const_buffer> gather_;
  beast::flat_buffer read_buffer_;
  std::unique_ptr<std::byte[]> chunk_;
  std::size_t chunk_size_ = 0;
  Sha256 sha_;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool timed_out_ = false;
  std::uint64_t requests_on_connection_ = 0;
  std::uint64_t connects_ = 0;
  std::string authorization_;
  Clock::time_point authorization_expires_ = Clock::time_point::max();
};

}  // namespace berth::bench
