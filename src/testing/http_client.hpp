// A small blocking HTTP/1.1 client for tests that drive a server over loopback.
//
//   berth::testing::HttpClient client("127.0.0.1", port);
//   auto r = client.get("/v2/");
//   EXPECT_EQ(r.status, 200);
//   EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
//
// It keeps one keep-alive connection and opens a new one when the server closed the old
// (connects() counts them, so tests can check reuse). Request bodies can be a string or a
// generator of pieces, sent with Content-Length or chunked; Expect: 100-continue is supported.
// RawConnection sends arbitrary bytes and reads whatever comes back, for malformed-request and
// slow-client tests.
//
// Both speak TLS when given TlsClientOptions:
//
//   berth::testing::HttpClient client("127.0.0.1", tls_port, {.ca_file = ca.string()});
//   EXPECT_EQ(client.get("/").status, 200);
//   EXPECT_EQ(client.tls_session()->alpn, "http/1.1");
//
// Network failures and timeouts throw HttpClientError; HTTP error statuses do not.
// Not thread-safe: one client per thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::testing {

class HttpClientError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Header fields in order, duplicates kept; names compare case-insensitively.
class HttpHeaders {
 public:
  using Field = std::pair<std::string, std::string>;

  HttpHeaders() = default;
  HttpHeaders(std::initializer_list<Field> fields) : fields_(fields) {}

  // Appends (keeps earlier fields of the same name).
  void add(std::string name, std::string value);
  // Replaces every field of that name.
  void set(std::string name, std::string value);
  void remove(std::string_view name);
  bool contains(std::string_view name) const;
  // The first value of that name.
  std::optional<std::string> get(std::string_view name) const;
  std::vector<std::string> get_all(std::string_view name) const;

  std::size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }

 private:
  std::vector<Field> fields_;
};

struct HttpResponse {
  unsigned status = 0;
  std::string reason;
  // 10 or 11.
  unsigned version = 11;
  HttpHeaders headers;
  std::string body;
  // The server closes the connection after this response (Connection: close, or HTTP/1.0).
  bool closes_connection = false;
  // "100 Continue" responses seen before this one.
  unsigned continues = 0;

  // The first value of a header, "" when absent.
  std::string header(std::string_view name) const { return headers.get(name).value_or(""); }
  bool has_header(std::string_view name) const { return headers.contains(name); }
};

// How a client speaks TLS. It trusts only `ca_file` (no system store), checks that the server's
// certificate names the host it connects to (an IP literal must be an IP SAN), and presents no
// certificate of its own.
struct TlsClientOptions {
  // PEM file of the certificate authority (or authorities) to trust.
  std::string ca_file{};
  // Checked against the certificate (and sent as SNI) instead of the host connected to.
  std::optional<std::string> server_name{};
  // false: accept any certificate (for tests about something other than trust).
  bool verify = true;
  // Protocol bounds as OpenSSL version numbers (TLS1_2_VERSION, ...); 0: the library's.
  int min_version = 0;
  int max_version = 0;
  // OpenSSL cipher list for TLS 1.2 and older (e.g. "DEFAULT:@SECLEVEL=0" to allow TLS 1.1);
  // empty: the library's default.
  std::string ciphers{};
};

// What a TLS connection agreed on.
struct TlsSession {
  // "TLSv1.3", "TLSv1.2".
  std::string version;
  // The ALPN protocol the server chose; empty when it chose none.
  std::string alpn;
  // The server certificate's serial number in upper-case hex, and its subject.
  std::string peer_serial;
  std::string peer_subject;
};

// Produces the next piece of a request body; an empty string ends the body.
using BodySource = std::function<std::string()>;

struct RequestOptions {
  // Deadline for the whole exchange (connect, send, receive); unset: the client's default
  // (HttpClient::set_timeout, 30 s unless changed).
  std::optional<std::chrono::milliseconds> timeout;
  // Send the body with Transfer-Encoding: chunked (one chunk per piece).
  bool chunked = false;
  // A string body is sent in pieces of this size (one chunk each when chunked).
  std::size_t piece_size = 64 * 1024;
  // Send Expect: 100-continue, and the body only after "100 Continue" arrives. When the
  // server answers with a final status instead, the body is not sent and the connection is
  // dropped afterwards.
  bool expect_continue = false;
  // Body limit for the response; beyond it the request throws.
  std::uint64_t response_body_limit = 1ull << 32;
};

class HttpClient {
 public:
  HttpClient(std::string host, std::uint16_t port);
  // Every connection is TLS. A failed handshake (untrusted certificate, wrong name, no common
  // protocol version) throws HttpClientError from the request that needed the connection.
  HttpClient(std::string host, std::uint16_t port, TlsClientOptions tls);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request. Content-Length is added for a body (or for an empty body on POST, PUT
  // and PATCH) unless `headers` already has Content-Length or Transfer-Encoding: tests may
  // lie on purpose. Host is added unless given.
  HttpResponse request(std::string_view method, std::string_view target,
                       const HttpHeaders& headers = {}, std::string_view body = {},
                       const RequestOptions& options = {});
  // Streams a body from `source`. With content_length the pieces must add up to it (sent
  // as-is, so a test can fall short on purpose); without, the body is chunked.
  HttpResponse request_stream(std::string_view method, std::string_view target,
                              const HttpHeaders& headers, BodySource source,
                              std::optional<std::uint64_t> content_length,
                              const RequestOptions& options = {});

  HttpResponse get(std::string_view target, const HttpHeaders& headers = {}) {
    return request("GET", target, headers);
  }
  HttpResponse head(std::string_view target, const HttpHeaders& headers = {}) {
    return request("HEAD", target, headers);
  }
  HttpResponse del(std::string_view target, const HttpHeaders& headers = {}) {
    return request("DELETE", target, headers);
  }
  HttpResponse put(std::string_view target, std::string_view body,
                   const HttpHeaders& headers = {}) {
    return request("PUT", target, headers, body);
  }
  HttpResponse post(std::string_view target, std::string_view body,
                    const HttpHeaders& headers = {}) {
    return request("POST", target, headers, body);
  }
  HttpResponse patch(std::string_view target, std::string_view body,
                     const HttpHeaders& headers = {}) {
    return request("PATCH", target, headers, body);
  }

  // Sent with every request unless the request names the same header (e.g. Authorization).
  void set_default_headers(HttpHeaders headers) { default_headers_ = std::move(headers); }
  // Deadline of requests whose options do not name one.
  void set_timeout(std::chrono::milliseconds timeout) { default_timeout_ = timeout; }
  // Connections from then on come from this local address (e.g. "127.0.0.2", for a test that
  // needs a second client address); empty: the system's choice.
  void set_source_address(std::string address) {
    source_address_ = std::move(address);
    drop();
  }

  // Drops the kept-alive connection (after a close_notify on TLS); the next request opens a
  // new one.
  void close();
  // Whether a connection is currently held open.
  bool connected() const;
  // The held connection's TLS parameters; nullopt when there is none or it is plain.
  std::optional<TlsSession> tls_session() const;
  // How many TCP connections this client has opened.
  std::size_t connects() const { return connects_; }

  const std::string& host() const { return host_; }
  std::uint16_t port() const { return port_; }

 private:
  class Impl;
  struct Body;
  HttpResponse perform(std::string_view method, std::string_view target, const HttpHeaders& headers,
                       Body& body, const RequestOptions& options);

  // Closes without a TLS close_notify: after errors, or when the server already closed.
  void drop();

  std::string host_;
  std::uint16_t port_;
  std::optional<TlsClientOptions> tls_;
  HttpHeaders default_headers_;
  std::chrono::milliseconds default_timeout_{std::chrono::seconds(30)};
  std::string source_address_;
  std::size_t connects_ = 0;
  std::unique_ptr<Impl> impl_;
};

// One connection that sends whatever bytes it is given.
class RawConnection {
 public:
  // receive_buffer > 0 shrinks the socket's receive buffer (SO_RCVBUF) before connecting, to
  // make the server's writes block: a reader slower than any server buffer.
  RawConnection(const std::string& host, std::uint16_t port, int receive_buffer = 0);
  // Over TLS: the handshake is done here, and throws HttpClientError when it fails.
  RawConnection(const std::string& host, std::uint16_t port, const TlsClientOptions& tls,
                int receive_buffer = 0);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Throws HttpClientError when the bytes cannot be written (e.g. the server closed).
  void send(std::string_view bytes, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads one HTTP response (skipping "100 Continue" unless keep_continue). `head_request`
  // says the response has no body whatever its Content-Length. Throws on timeout or close.
  HttpResponse read_response(std::chrono::milliseconds timeout = std::chrono::seconds(10),
                             bool head_request = false, bool keep_continue = false);
  // Returns whatever arrives until the server closes the connection or `timeout` passes;
  // closed() then says which.
  std::string read_until_close(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads and discards until the server closes (true) or `timeout` passes (false).
  bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True once a read saw the end of the stream (EOF, close_notify or reset).
  bool closed() const { return closed_; }
  // The connection's TLS parameters; nullopt when it is plain.
  std::optional<TlsSession> tls_session() const;
  // Closes our side.
  void close();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  bool closed_ = false;
};

// Sends `bytes` on a fresh connection and returns everything the server sends back until it
// closes (or `timeout` passes).
std::string raw_exchange(const std::string& host, std::uint16_t port, std::string_view bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Parses the first response in `bytes` (from a raw exchange). Throws when there is none.
HttpResponse parse_response(std::string_view bytes, bool head_request = false);

}  // namespace berth::testing
