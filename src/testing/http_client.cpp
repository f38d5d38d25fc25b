// The blocking test client (see http_client.hpp). Each connection owns a private io_context;
// every operation is started asynchronously and the context is run until it completes, so a
// beast::tcp_stream deadline can bound it. Nothing here is meant to be fast. TLS goes through
// the server's own PlainOrTlsStream, with a context (trusted CA, protocol bounds) made per
// connection.
#include "testing/http_client.hpp"

#include <openssl/bn.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/error_code.hpp>
#include <cerrno>
#include <cstdio>

#include "http/stream.hpp"

namespace berth::testing {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;
using Stream = berth::http::PlainOrTlsStream;

constexpr std::chrono::milliseconds kDefaultTimeout{std::chrono::seconds(30)};

bool iequal(std::string_view a, std::string_view b) {
  return beast::iequals(beast::string_view(a.data(), a.size()),
                        beast::string_view(b.data(), b.size()));
}

bool is_disconnect(const ErrorCode& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == bhttp::error::partial_message || ec == asio::error::connection_aborted ||
         ec == asio::ssl::error::stream_truncated;
}

std::shared_ptr<asio::ssl::context> make_client_context(const TlsClientOptions& tls) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX* native = context->native_handle();
  ErrorCode ec;
  if (!tls.ca_file.empty()) {
    context->load_verify_file(tls.ca_file, ec);
    if (ec) {
      throw HttpClientError("tls: load CA file " + tls.ca_file + ": " + ec.message());
    }
  }
  if ((tls.min_version != 0 && SSL_CTX_set_min_proto_version(native, tls.min_version) != 1) ||
      (tls.max_version != 0 && SSL_CTX_set_max_proto_version(native, tls.max_version) != 1)) {
    throw HttpClientError("tls: bad protocol version bounds");
  }
  if (!tls.ciphers.empty() && SSL_CTX_set_cipher_list(native, tls.ciphers.c_str()) != 1) {
    throw HttpClientError("tls: bad cipher list " + tls.ciphers);
  }
  return context;
}

std::string peer_serial(X509* certificate) {
  BIGNUM* number = ASN1_INTEGER_to_BN(X509_get_serialNumber(certificate), nullptr);
  if (number == nullptr) {
    return {};
  }
  char* hex = BN_bn2hex(number);
  std::string out = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  BN_free(number);
  return out;
}

std::string peer_subject(X509* certificate) {
  char* text = X509_NAME_oneline(X509_get_subject_name(certificate), nullptr, 0);
  std::string out = text != nullptr ? text : "";
  OPENSSL_free(text);
  return out;
}

HttpResponse to_response(bhttp::response<bhttp::string_body>&& message, unsigned continues) {
  HttpResponse out;
  out.status = message.result_int();
  out.reason = std::string(message.reason());
  out.version = message.version();
  for (const auto& field : message) {
    out.headers.add(std::string(field.name_string()), std::string(field.value()));
  }
  out.closes_connection = !message.keep_alive();
  out.continues = continues;
  out.body = std::move(message.body());
  return out;
}

// One TCP connection whose operations block the caller until they finish or a deadline passes.
class Link {
 public:
  Link(const std::string& host, std::uint16_t port, Clock::time_point deadline,
       int receive_buffer = 0, const TlsClientOptions* tls = nullptr,
       const std::string& source_address = {})
      : tls_context_(tls != nullptr ? make_client_context(*tls) : nullptr),
        stream_(make_stream(ioc_, tls_context_.get())) {
    ErrorCode ec;
    std::vector<tcp::endpoint> endpoints;
    const auto address = asio::ip::make_address(host, ec);
    if (!ec) {
      endpoints.emplace_back(address, port);
    } else {
      tcp::resolver resolver(ioc_);
      const auto results = resolver.resolve(host, std::to_string(port), ec);
      if (ec) {
        throw HttpClientError("resolve " + host + ": " + ec.message());
      }
      for (const auto& entry : results) {
        endpoints.push_back(entry.endpoint());
      }
    }
    for (const auto& endpoint : endpoints) {
      if (!source_address.empty()) {
        // A test that needs a second client address: any of 127.0.0.0/8 reaches the server.
        stream_.tcp().socket().close(ec);
        stream_.tcp().socket().open(endpoint.protocol(), ec);
        if (!ec) {
          stream_.tcp().socket().bind(tcp::endpoint(asio::ip::make_address(source_address, ec), 0),
                                      ec);
        }
        if (ec) {
          throw HttpClientError("bind to " + source_address + ": " + ec.message());
        }
      }
      if (receive_buffer > 0) {
        // Set before connecting so the advertised window starts small.
        stream_.tcp().socket().close(ec);
        stream_.tcp().socket().open(endpoint.protocol(), ec);
        if (!ec) {
          stream_.tcp().socket().set_option(asio::socket_base::receive_buffer_size(receive_buffer),
                                            ec);
        }
        if (ec) {
          throw HttpClientError("socket setup: " + ec.message());
        }
      }
      auto [connect_ec, unused] = run(deadline, [&](auto handler) {
        stream_.tcp().async_connect(endpoint,
                                    [handler](const ErrorCode& e) mutable { handler(e, 0); });
      });
      ec = connect_ec;
      if (!ec) {
        break;
      }
    }
    if (ec) {
      throw HttpClientError("connect to " + host + ":" + std::to_string(port) + ": " +
                            ec.message());
    }
    ErrorCode ignored;
    stream_.tcp().socket().set_option(tcp::no_delay(true), ignored);
    if (tls != nullptr) {
      handshake(*tls, tls->server_name.value_or(host), deadline);
    }
  }

  // Starts op(handler) and runs the context until handler(ec, n) was called.
  template <class Op>
  std::pair<ErrorCode, std::size_t> run(Clock::time_point deadline, Op&& op) {
    ErrorCode result;
    std::size_t transferred = 0;
    bool done = false;
    stream_.tcp().expires_at(deadline);
    op([&](const ErrorCode& ec, std::size_t n) {
      result = ec;
      transferred = n;
      done = true;
    });
    ioc_.restart();
    while (!done && ioc_.run_one() > 0) {
    }
    if (!done) {
      return {asio::error::operation_aborted, 0};
    }
    return {result, transferred};
  }

  ErrorCode write(std::string_view bytes, Clock::time_point deadline) {
    return run(deadline,
               [&](auto handler) {
                 asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()), handler);
               })
        .first;
  }

  template <class ConstBuffers>
  ErrorCode write_buffers(const ConstBuffers& buffers, Clock::time_point deadline) {
    return run(deadline, [&](auto handler) { asio::async_write(stream_, buffers, handler); }).first;
  }

  // Reads one response, skipping interim 100 responses unless keep_continue. Errors are
  // returned, with `received` saying whether any byte of a response had arrived.
  ErrorCode read_response(HttpResponse& out, Clock::time_point deadline, bool head_request,
                          bool keep_continue, std::uint64_t body_limit, bool& received) {
    unsigned continues = 0;
    received = false;
    for (;;) {
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(body_limit);
      parser.header_limit(1024 * 1024);
      if (head_request) {
        parser.skip(true);
      }
      const std::size_t buffered = buffer_.size();
      auto [ec, n] = run(
          deadline, [&](auto handler) { bhttp::async_read(stream_, buffer_, parser, handler); });
      if (n > 0 || buffered > 0 || parser.got_some()) {
        received = true;
      }
      if (ec) {
        return ec;
      }
      if (parser.get().result_int() == 100 && !keep_continue) {
        ++continues;
        continue;
      }
      out = to_response(parser.release(), continues);
      return {};
    }
  }

  // Whether the kept connection still looks usable: open, nothing unexpected buffered, and
  // the server has not closed its side (a peek that does not block). On TLS anything that
  // arrived unasked (a close_notify) also counts as closed.
  bool alive() {
    if (!stream_.tcp().socket().is_open() || buffer_.size() > 0) {
      return false;
    }
    if (auto* tls = stream_.tls(); tls != nullptr && SSL_pending(tls->native_handle()) > 0) {
      return false;
    }
    char byte = 0;
    const ssize_t n =
        ::recv(stream_.tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  void close() {
    ErrorCode ignored;
    stream_.tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.tcp().close();
  }

  // Sends close_notify and waits (until `deadline`) for the server's before closing.
  void close_gracefully(Clock::time_point deadline) {
    if (auto* tls = stream_.tls(); tls != nullptr && stream_.tcp().socket().is_open()) {
      run(deadline, [&](auto handler) {
        tls->async_shutdown([handler](const ErrorCode& e) mutable { handler(e, 0); });
      });
    }
    close();
  }

  std::optional<TlsSession> tls_session() {
    auto* tls = stream_.tls();
    if (tls == nullptr) {
      return std::nullopt;
    }
    SSL* ssl = tls->native_handle();
    TlsSession out;
    out.version = SSL_get_version(ssl);
    const unsigned char* alpn = nullptr;
    unsigned int alpn_length = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_length);
    if (alpn != nullptr) {
      out.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_length);
    }
    if (X509* certificate = SSL_get1_peer_certificate(ssl)) {
      out.peer_serial = peer_serial(certificate);
      out.peer_subject = peer_subject(certificate);
      X509_free(certificate);
    }
    return out;
  }

  Stream& stream() { return stream_; }
  beast::flat_buffer& buffer() { return buffer_; }

 private:
  static Stream make_stream(asio::io_context& ioc, asio::ssl::context* tls_context) {
    if (tls_context != nullptr) {
      return Stream(ioc, *tls_context);
    }
    return Stream(ioc);
  }

  void handshake(const TlsClientOptions& tls, const std::string& name, Clock::time_point deadline) {
    SSL* ssl = stream_.tls()->native_handle();
    ErrorCode ec;
    asio::ip::make_address(name, ec);
    const bool is_address = !ec;
    if (tls.verify) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      const int set = is_address ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                                 : X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
      if (set != 1) {
        throw HttpClientError("tls: cannot verify against name " + name);
      }
      SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
    } else {
      SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    }
    // SNI carries names only, never addresses (RFC 6066 3).
    if (!is_address && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) {
      throw HttpClientError("tls: cannot set SNI " + name);
    }
    static constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    // Unlike most of OpenSSL, 0 means success here.
    if (SSL_set_alpn_protos(ssl, kAlpn, sizeof kAlpn) != 0) {
      throw HttpClientError("tls: cannot offer ALPN");
    }
    auto [handshake_ec, unused] = run(deadline, [&](auto handler) {
      stream_.tls()->async_handshake(asio::ssl::stream_base::client,
                                     [handler](const ErrorCode& e) mutable { handler(e, 0); });
    });
    if (handshake_ec) {
      close();
      throw HttpClientError("tls handshake with " + name + ": " + handshake_ec.message());
    }
  }

  asio::io_context ioc_{1};
  // Declared before the stream, which must not outlive it.
  std::shared_ptr<asio::ssl::context> tls_context_;
  Stream stream_;
  beast::flat_buffer buffer_;
};

std::string chunk_header(std::size_t size) {
  char text[32];
  const int n = std::snprintf(text, sizeof text, "%zx\r\n", size);
  return std::string(text, static_cast<std::size_t>(n));
}

}  // namespace

// ---------------------------------------------------------------------------- HttpHeaders

void HttpHeaders::add(std::string name, std::string value) {
  fields_.emplace_back(std::move(name), std::move(value));
}

void HttpHeaders::set(std::string name, std::string value) {
  remove(name);
  add(std::move(name), std::move(value));
}

void HttpHeaders::remove(std::string_view name) {
  std::erase_if(fields_, [&](const Field& field) { return iequal(field.first, name); });
}

bool HttpHeaders::contains(std::string_view name) const { return get(name).has_value(); }

std::optional<std::string> HttpHeaders::get(std::string_view name) const {
  for (const auto& field : fields_) {
    if (iequal(field.first, name)) {
      return field.second;
    }
  }
  return std::nullopt;
}

std::vector<std::string> HttpHeaders::get_all(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& field : fields_) {
    if (iequal(field.first, name)) {
      values.push_back(field.second);
    }
  }
  return values;
}

// ---------------------------------------------------------------------------- HttpClient

class HttpClient::Impl {
 public:
  std::unique_ptr<Link> link;
};

// What to send as the body: a string (can be replayed on a fresh connection) or a generator
// (only if it has not been called yet).
struct HttpClient::Body {
  bool present = false;
  std::string_view text;
  bool is_text = true;
  BodySource stream;
  bool stream_started = false;
  std::optional<std::uint64_t> content_length;
};

HttpClient::HttpClient(std::string host, std::uint16_t port)
    : host_(std::move(host)), port_(port), impl_(std::make_unique<Impl>()) {}

HttpClient::HttpClient(std::string host, std::uint16_t port, TlsClientOptions tls)
    : host_(std::move(host)), port_(port), tls_(std::move(tls)), impl_(std::make_unique<Impl>()) {}

HttpClient::~HttpClient() = default;

void HttpClient::close() {
  if (impl_->link) {
    impl_->link->close_gracefully(Clock::now() + std::chrono::seconds(5));
    impl_->link.reset();
  }
}

void HttpClient::drop() {
  if (impl_->link) {
    impl_->link->close();
    impl_->link.reset();
  }
}

bool HttpClient::connected() const { return impl_->link != nullptr; }

std::optional<TlsSession> HttpClient::tls_session() const {
  if (!impl_->link) {
    return std::nullopt;
  }
  return impl_->link->tls_session();
}

HttpResponse HttpClient::request(std::string_view method, std::string_view target,
                                 const HttpHeaders& headers, std::string_view body,
                                 const RequestOptions& options) {
  Body source;
  const bool method_wants_length = method == "POST" || method == "PUT" || method == "PATCH";
  source.present = !body.empty() || method_wants_length || options.chunked;
  source.text = body;
  source.content_length = body.size();
  return perform(method, target, headers, source, options);
}

HttpResponse HttpClient::request_stream(std::string_view method, std::string_view target,
                                        const HttpHeaders& headers, BodySource source,
                                        std::optional<std::uint64_t> content_length,
                                        const RequestOptions& options) {
  Body body;
  body.present = true;
  body.is_text = false;
  body.stream = std::move(source);
  body.content_length = content_length;
  return perform(method, target, headers, body, options);
}

HttpResponse HttpClient::perform(std::string_view method, std::string_view target,
                                 const HttpHeaders& headers, Body& body,
                                 const RequestOptions& options) {
  const auto deadline = Clock::now() + options.timeout.value_or(default_timeout_);
  const std::string what = std::string(method) + " " + std::string(target);

  bhttp::request<bhttp::empty_body> request;
  const auto verb = bhttp::string_to_verb(beast::string_view(method.data(), method.size()));
  if (verb != bhttp::verb::unknown) {
    request.method(verb);
  } else {
    request.method_string(beast::string_view(method.data(), method.size()));
  }
  request.target(beast::string_view(target.data(), target.size()));
  request.version(11);
  for (const auto& [name, value] : default_headers_) {
    if (!headers.contains(name)) {
      request.insert(name, value);
    }
  }
  for (const auto& [name, value] : headers) {
    request.insert(name, value);
  }
  if (!headers.contains("Host") && !default_headers_.contains("Host")) {
    request.set(bhttp::field::host, host_ + ":" + std::to_string(port_));
  }
  // A caller-supplied framing header is sent as-is: tests lie about lengths on purpose.
  const bool caller_framing =
      headers.contains("Content-Length") || headers.contains("Transfer-Encoding");
  bool chunked = false;
  if (caller_framing) {
    const auto te = headers.get("Transfer-Encoding");
    chunked = te && te->find("chunked") != std::string::npos;
  } else if (body.present) {
    chunked = options.chunked || !body.content_length;
    if (chunked) {
      request.set(bhttp::field::transfer_encoding, "chunked");
    } else {
      request.set(bhttp::field::content_length, std::to_string(*body.content_length));
    }
  }
  const bool expect_continue = options.expect_continue && body.present;
  if (expect_continue && !headers.contains("Expect")) {
    request.set(bhttp::field::expect, "100-continue");
  }
  const bool head_request = method == "HEAD";

  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    if (impl_->link && impl_->link->alive()) {
      reused = true;
    } else {
      drop();
      const TlsClientOptions* tls = tls_ ? &*tls_ : nullptr;
      impl_->link = std::make_unique<Link>(host_, port_, deadline, 0, tls, source_address_);
      ++connects_;
    }
    Link& link = *impl_->link;

    // Any failure before a byte of the answer arrived, on a connection the server may have
    // just closed as idle, is retried once on a fresh one if the body can be sent again.
    const auto retryable = [&](bool received) {
      return attempt == 0 && reused && !received && (body.is_text || !body.stream_started);
    };
    const auto fail = [&](std::string_view step, const ErrorCode& ec) -> HttpResponse {
      drop();
      throw HttpClientError(what + ": " + std::string(step) + ": " + ec.message());
    };

    bhttp::request_serializer<bhttp::empty_body> serializer{request};
    auto [header_ec, header_n] = link.run(deadline, [&](auto handler) {
      bhttp::async_write_header(link.stream(), serializer, handler);
    });
    if (header_ec) {
      if (retryable(false)) {
        drop();
        continue;
      }
      return fail("send header", header_ec);
    }

    HttpResponse response;
    bool received = false;
    if (expect_continue) {
      // Wait for the interim answer; a final one means the body is not wanted.
      HttpResponse interim;
      const ErrorCode ec = link.read_response(interim, deadline, head_request, true,
                                              options.response_body_limit, received);
      if (ec) {
        if (is_disconnect(ec) && retryable(received)) {
          drop();
          continue;
        }
        return fail("read 100-continue", ec);
      }
      if (interim.status != 100) {
        interim.closes_connection = true;
        drop();
        return interim;
      }
      response.continues = 1;
    }

    ErrorCode write_ec;
    if (body.present) {
      std::size_t text_offset = 0;
      const auto next_piece = [&]() -> std::string {
        if (body.is_text) {
          const std::size_t n = std::min(options.piece_size, body.text.size() - text_offset);
          std::string piece(body.text.substr(text_offset, n));
          text_offset += n;
          return piece;
        }
        body.stream_started = true;
        return body.stream();
      };
      for (;;) {
        const std::string piece = next_piece();
        if (piece.empty()) {
          break;
        }
        if (chunked) {
          const std::string size_line = chunk_header(piece.size());
          const std::array<asio::const_buffer, 3> buffers{
              asio::buffer(size_line), asio::buffer(piece), asio::buffer("\r\n", 2)};
          write_ec = link.write_buffers(buffers, deadline);
        } else {
          write_ec = link.write(piece, deadline);
        }
        if (write_ec) {
          break;
        }
      }
      if (!write_ec && chunked) {
        write_ec = link.write("0\r\n\r\n", deadline);
      }
    }

    // Even when the body could not be sent, the server may have answered (413, 401...).
    const unsigned continues = response.continues;
    const ErrorCode read_ec = link.read_response(response, deadline, head_request, false,
                                                 options.response_body_limit, received);
    if (read_ec) {
      if (is_disconnect(read_ec) && retryable(received)) {
        drop();
        continue;
      }
      if (write_ec) {
        return fail("send body", write_ec);
      }
      return fail("read response", read_ec);
    }
    response.continues += continues;
    if (write_ec) {
      drop();
    } else if (response.closes_connection) {
      close();
    }
    return response;
  }
}

// ---------------------------------------------------------------------------- raw

class RawConnection::Impl {
 public:
  Impl(const std::string& host, std::uint16_t port, int receive_buffer, const TlsClientOptions* tls)
      : link(host, port, Clock::now() + kDefaultTimeout, receive_buffer, tls) {}
  Link link;
};

RawConnection::RawConnection(const std::string& host, std::uint16_t port, int receive_buffer)
    : impl_(std::make_unique<Impl>(host, port, receive_buffer, nullptr)) {}

RawConnection::RawConnection(const std::string& host, std::uint16_t port,
                             const TlsClientOptions& tls, int receive_buffer)
    : impl_(std::make_unique<Impl>(host, port, receive_buffer, &tls)) {}

std::optional<TlsSession> RawConnection::tls_session() const { return impl_->link.tls_session(); }

RawConnection::~RawConnection() = default;

void RawConnection::send(std::string_view bytes, std::chrono::milliseconds timeout) {
  const ErrorCode ec = impl_->link.write(bytes, Clock::now() + timeout);
  if (ec) {
    throw HttpClientError("raw send: " + ec.message());
  }
}

HttpResponse RawConnection::read_response(std::chrono::milliseconds timeout, bool head_request,
                                          bool keep_continue) {
  HttpResponse response;
  bool received = false;
  const ErrorCode ec = impl_->link.read_response(response, Clock::now() + timeout, head_request,
                                                 keep_continue, 1ull << 32, received);
  if (ec) {
    if (is_disconnect(ec)) {
      closed_ = true;
    }
    throw HttpClientError("raw read response: " + ec.message());
  }
  return response;
}

std::string RawConnection::read_until_close(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto& buffer = impl_->link.buffer();
  std::string data(static_cast<const char*>(buffer.data().data()), buffer.size());
  buffer.consume(buffer.size());
  char chunk[16 * 1024];
  while (!closed_) {
    auto [ec, n] = impl_->link.run(deadline, [&](auto handler) {
      impl_->link.stream().async_read_some(asio::buffer(chunk), handler);
    });
    data.append(chunk, n);
    if (ec) {
      if (is_disconnect(ec)) {
        closed_ = true;
      }
      break;
    }
  }
  return data;
}

bool RawConnection::wait_closed(std::chrono::milliseconds timeout) {
  read_until_close(timeout);
  return closed_;
}

void RawConnection::close() { impl_->link.close(); }

std::string raw_exchange(const std::string& host, std::uint16_t port, std::string_view bytes,
                         std::chrono::milliseconds timeout) {
  RawConnection connection(host, port);
  connection.send(bytes, timeout);
  return connection.read_until_close(timeout);
}

HttpResponse parse_response(std::string_view bytes, bool head_request) {
  if (bytes.empty()) {
    // Beast asserts on put_eof() before any header byte; an empty answer is an error here.
    throw HttpClientError("no response: the connection closed without sending anything");
  }
  bhttp::response_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.body_limit(boost::none);
  if (head_request) {
    parser.skip(true);
  }
  ErrorCode ec;
  std::size_t offset = 0;
  while (!parser.is_done()) {
    const std::size_t used =
        parser.put(asio::buffer(bytes.data() + offset, bytes.size() - offset), ec);
    offset += used;
    if (ec == bhttp::error::need_more && offset == bytes.size()) {
      ec = {};
      parser.put_eof(ec);
      break;
    }
    if (ec && ec != bhttp::error::need_more) {
      break;
    }
  }
  if (ec || !parser.is_done()) {
    throw HttpClientError("parse response: " + (ec ? ec.message() : std::string("incomplete")));
  }
  return to_response(parser.release(), 0);
}

}  // namespace berth::testing
