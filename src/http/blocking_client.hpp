// A blocking HTTP/1.1 client with a small pool of keep-alive connections, plain or TLS, for
// callers that already run on a thread pool (the S3 blob store: BlobStore's methods are blocking
// by contract and called from http::BlockingPool). It knows requests, responses and sockets,
// nothing about what is being said.
//
// Why blocking rather than another coroutine client: its callers are blocking functions, and
// turning each of their calls into a round trip through an event loop buys nothing there. Every
// socket operation still has a deadline: a connection owns a private io_context, and each step
// (connect, handshake, write, read) runs as an Asio/Beast async operation on it under a
// beast::tcp_stream expiry, driven by the calling thread until it completes. So a server that
// stops answering costs one timeout, never a hung thread.
//
// Pool: connections whose response was read to its end, with keep-alive, go back to the pool
// (at most max_idle, each for at most idle_ttl). A request that fails on a reused connection
// before any byte of the response arrived is sent once more on a fresh one: the server may
// have closed the idle connection as we reused it, and then it never saw the request.
//
// TLS: peer verification against the system's CAs or a CA file, SNI and host name checks,
// TLS 1.2 or later.
//
// Thread-safe: send() may be called from any number of threads at once; a Response is used by
// one thread.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::http {

struct ClientTarget {
  bool tls = false;
  std::string host;
  std::string port;
};

struct BlockingClientOptions {
  // PEM file of the CAs to trust for TLS; empty: the system's.
  std::filesystem::path ca_file;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  // Longest wait for the next bytes while sending or receiving.
  std::chrono::milliseconds io_timeout{std::chrono::seconds(60)};
  // Idle keep-alive connections kept, and for how long.
  std::size_t max_idle = 16;
  std::chrono::milliseconds idle_ttl{std::chrono::seconds(10)};
};

struct ClientRequest {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  // Origin form, already percent-encoded: "/bucket/key?uploads".
  std::string target;
  // Host is added by the client; Content-Length too, from the body.
  std::vector<std::pair<std::string, std::string>> headers;
  // The body, as pieces sent one after the other (not copied: they must outlive send()).
  std::vector<std::span<const std::byte>> body;
};

// Why an exchange failed at the transport level: no connection, a reset, a timeout, bad TLS.
struct TransportError {
  boost::system::error_code code;
  // "connect 127.0.0.1:9002: Connection refused".
  std::string message;
};

template <class T>
using ClientResult = std::expected<T, TransportError>;

class ClientConnection;

// A response whose body has not been read yet. Owns its connection until destroyed; the
// connection returns to the pool only if the body was read to its end.
class ClientResponse {
 public:
  ClientResponse(ClientResponse&&) noexcept;
  ClientResponse& operator=(ClientResponse&&) noexcept;
  ~ClientResponse();

  unsigned status() const;
  // The header's value, empty if absent. Names are case-insensitive.
  std::string_view header(std::string_view name) const;
  std::optional<std::uint64_t> content_length() const;
  // Reads up to out.size() bytes of the body; 0 once it has ended.
  [[nodiscard]] ClientResult<std::size_t> read(std::span<std::byte> out);
  // The rest of the body, up to limit bytes (an error past that).
  [[nodiscard]] ClientResult<std::string> read_all(std::size_t limit);

 private:
  friend class BlockingClient;
  struct State;
  explicit ClientResponse(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class BlockingClient {
 public:
  // Fails with a sentence when the TLS context cannot be set up (an unreadable CA file).
  [[nodiscard]] static std::expected<std::shared_ptr<BlockingClient>, std::string> create(
      ClientTarget target, BlockingClientOptions options);
  ~BlockingClient();
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;

  const ClientTarget& target() const;
  // Sends the request and reads the response header. For HEAD, the response has no body.
  [[nodiscard]] ClientResult<ClientResponse> send(const ClientRequest& request);

  // Shared with the responses, which give their connection back to the pool.
  struct Impl;

 private:
  explicit BlockingClient(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace berth::http
