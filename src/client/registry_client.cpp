#include "client/registry_client.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>

#include "client/upstream_trust.hpp"
#include "core/url_credentials.hpp"
#include "http/stream.hpp"

namespace berth::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using core::ErrorCode;
using core::Result;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
// Room for each read from the upstream's socket.
constexpr std::size_t kReadBuffer = 256 * 1024;
// Token responses are small JSON documents.
constexpr std::size_t kMaxTokenResponse = 64 * 1024;

std::unexpected<core::Error> unavailable(const Url& url, std::string_view what,
                                         const boost::system::error_code& ec) {
  return core::fail(ErrorCode::kUnavailable, "upstream " + std::string(url.tls ? "https" : "http") +
                                                 "://" + url.authority() + ": " +
                                                 std::string(what) + ": " + ec.message());
}

bool is_redirect(unsigned status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool same_origin(const Url& a, const Url& b) {
  return a.tls == b.tls && a.host == b.host && a.port == b.port;
}

// Location may be absolute or a path on the same server.
Result<Url> resolve_location(const Url& from, std::string_view location) {
  if (location.starts_with("/")) {
    Url next = from;
    next.target = std::string(location);
    return next;
  }
  return parse_url(location);
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(kUse);
}

}  // namespace

// ---------------------------------------------------------------------------- Response

class Response::Impl {
 public:
  Impl(http::PlainOrTlsStream stream, Url url, std::chrono::milliseconds read_timeout)
      : stream(std::move(stream)), url(std::move(url)), read_timeout(read_timeout) {
    parser.body_limit(boost::none);
    parser.header_limit(64 * 1024);
    // Beast reads at most the buffer's spare capacity per call: without room it reads a few
    // KiB per system call, and a blob costs tens of thousands of them.
    buffer.reserve(kReadBuffer);
  }

  http::PlainOrTlsStream stream;
  Url url;
  std::chrono::milliseconds read_timeout;
  asio::ip::address peer;
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
};

Response::Response(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Response::~Response() {
  boost::system::error_code ec;
  impl_->stream.tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
  impl_->stream.tcp().close();
}

unsigned Response::status() const { return impl_->parser.get().result_int(); }

const bhttp::response_header<>& Response::header() const { return impl_->parser.get().base(); }

std::string Response::header(bhttp::field field) const {
  return std::string(impl_->parser.get()[field]);
}

const asio::ip::address& Response::peer() const { return impl_->peer; }

std::optional<std::uint64_t> Response::content_length() const {
  auto length = impl_->parser.content_length();
  return length ? std::optional<std::uint64_t>(*length) : std::nullopt;
}

asio::awaitable<Result<std::size_t>> Response::read(std::span<std::byte> out) {
  auto& parser = impl_->parser;
  while (!parser.is_done()) {
    parser.get().body().data = out.data();
    parser.get().body().size = out.size();
    impl_->stream.tcp().expires_after(impl_->read_timeout);
    auto [ec, n] = co_await bhttp::async_read(impl_->stream, impl_->buffer, parser, kUse);
    if (ec == bhttp::error::need_buffer) {
      ec = {};
    }
    if (ec) {
      co_return unavailable(impl_->url, "reading the body", ec);
    }
    const std::size_t got = out.size() - parser.get().body().size;
    if (got > 0) {
      co_return got;
    }
  }
  co_return 0;
}

asio::awaitable<Result<std::string>> Response::read_all(std::size_t limit) {
  std::string body;
  std::vector<std::byte> piece(16 * 1024);
  for (;;) {
    auto got = co_await read(piece);
    if (!got) {
      co_return std::unexpected(got.error());
    }
    if (*got == 0) {
      co_return body;
    }
    if (body.size() + *got > limit) {
      co_return core::fail(ErrorCode::kTooLarge,
                           "upstream response larger than " + std::to_string(limit) + " bytes");
    }
    body.append(reinterpret_cast<const char*>(piece.data()), *got);
  }
}

// ---------------------------------------------------------------------------- RegistryClient

Result<std::unique_ptr<RegistryClient>> RegistryClient::make(ClientOptions options,
                                                             const core::Clock& clock) {
  if (core::has_url_credentials(options.url)) {
    return core::fail(ErrorCode::kInvalidRequest,
                      "the upstream URL " + core::without_url_credentials(options.url) +
                          " carries credentials: give them as the username and password instead");
  }
  auto base = parse_url(options.url);
  if (!base) {
    return std::unexpected(base.error());
  }
  base->target = "/";
  std::vector<Url> token_realms;
  for (const std::string& realm : options.token_realms) {
    auto parsed = parse_url(realm);
    if (!parsed || core::has_url_credentials(realm)) {
      return core::fail(ErrorCode::kInvalidRequest,
                        "token realm " + core::without_url_credentials(realm) +
                            ": expected an http:// or https:// URL without credentials");
    }
    token_realms.push_back(std::move(*parsed));
  }
  std::shared_ptr<asio::ssl::context> tls;
  if (base->tls) {
    tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1);
    tls->set_verify_mode(asio::ssl::verify_peer);
    boost::system::error_code ec;
    if (options.ca_file.empty()) {
      tls->set_default_verify_paths(ec);
    } else {
      tls->load_verify_file(options.ca_file.string(), ec);
    }
    if (ec) {
      return core::fail(
          ErrorCode::kInvalidRequest,
          "cannot load the CA certificates " +
              (options.ca_file.empty() ? std::string("of the system") : options.ca_file.string()) +
              ": " + ec.message());
    }
  }
  Url url = *base;
  return std::unique_ptr<RegistryClient>(new RegistryClient(
      std::move(options), std::move(url), std::move(token_realms), clock, std::move(tls)));
}

RegistryClient::RegistryClient(ClientOptions options, Url base, std::vector<Url> token_realms,
                               const core::Clock& clock, std::shared_ptr<asio::ssl::context> tls)
    : options_(std::move(options)),
      base_(std::move(base)),
      token_realms_(std::move(token_realms)),
      clock_(clock),
      tls_(std::move(tls)) {}

RegistryClient::Destination RegistryClient::destination(const Url& url,
                                                        bool upstream_on_loopback) const {
  return Destination{.named_by_upstream = !same_origin(url, base_),
                     .upstream_on_loopback = upstream_on_loopback};
}

RegistryClient::~RegistryClient() = default;

std::uint64_t RegistryClient::requests_sent() const {
  std::lock_guard lock(mutex_);
  return requests_sent_;
}

std::optional<std::string> RegistryClient::cached_authorization(const std::string& scope) {
  std::lock_guard lock(mutex_);
  if (basic_) {
    return basic_;
  }
  auto it = tokens_.find(scope);
  if (it == tokens_.end()) {
    return std::nullopt;
  }
  if (clock_.now() >= it->second.expires) {
    tokens_.erase(it);
    return std::nullopt;
  }
  return it->second.authorization;
}

asio::awaitable<Result<std::unique_ptr<Response>>> RegistryClient::exchange(
    const Url& url, bhttp::verb method, const std::string& accept, const std::string& authorization,
    Destination destination) {
  auto executor = co_await asio::this_coro::executor;
  {
    std::lock_guard lock(mutex_);
    ++requests_sent_;
  }
  tcp::resolver resolver(executor);
  auto [resolve_error, endpoints] = co_await resolver.async_resolve(url.host, url.port, kUse);
  if (resolve_error) {
    co_return unavailable(url, "resolving " + url.host, resolve_error);
  }
  if (destination.named_by_upstream) {
    // The addresses connected to are these: a second lookup could answer otherwise.
    std::vector<asio::ip::address> addresses;
    for (const auto& entry : endpoints) {
      addresses.push_back(entry.endpoint().address());
    }
    if (auto refused = refuse_destination(addresses, destination.upstream_on_loopback)) {
      co_return core::fail(ErrorCode::kUnavailable, "upstream " + base_.authority() +
                                                        " sent us to " + url.authority() +
                                                        ", refused: " + *refused);
    }
  }
  std::unique_ptr<Response::Impl> impl;
  if (url.tls) {
    if (!tls_) {
      co_return core::fail(ErrorCode::kUnavailable,
                           "upstream redirected to https://" + url.authority() +
                               ", but TLS is not set up for this upstream");
    }
    http::PlainOrTlsStream stream(executor, *tls_);
    impl = std::make_unique<Response::Impl>(std::move(stream), url, options_.read_timeout);
  } else {
    http::PlainOrTlsStream stream(executor);
    impl = std::make_unique<Response::Impl>(std::move(stream), url, options_.read_timeout);
  }
  auto& stream = impl->stream;
  stream.tcp().expires_after(options_.connect_timeout);
  auto [connect_error, endpoint] = co_await stream.tcp().async_connect(endpoints, kUse);
  if (connect_error) {
    co_return unavailable(url, "connect", connect_error);
  }
  impl->peer = endpoint.address();
  if (auto* tls = stream.tls()) {
    if (SSL_set_tlsext_host_name(tls->native_handle(), url.host.c_str()) != 1) {
      co_return core::fail(ErrorCode::kUnavailable, "upstream " + url.host + ": cannot set SNI");
    }
    tls->set_verify_callback(asio::ssl::host_name_verification(url.host));
    stream.tcp().expires_after(options_.connect_timeout);
    auto [handshake_error] = co_await tls->async_handshake(asio::ssl::stream_base::client, kUse);
    if (handshake_error) {
      co_return unavailable(url, "TLS handshake", handshake_error);
    }
  }
  bhttp::request<bhttp::empty_body> request(method, url.target, 11);
  request.set(bhttp::field::host, url.authority());
  request.set(bhttp::field::user_agent, options_.user_agent);
  request.set(bhttp::field::connection, "close");
  if (!accept.empty()) {
    request.set(bhttp::field::accept, accept);
  }
  if (!authorization.empty()) {
    request.set(bhttp::field::authorization, authorization);
  }
  stream.tcp().expires_after(options_.read_timeout);
  auto [write_error, written] = co_await bhttp::async_write(stream, request, kUse);
  if (write_error) {
    co_return unavailable(url, "sending the request", write_error);
  }
  if (method == bhttp::verb::head) {
    impl->parser.skip(true);
  }
  stream.tcp().expires_after(options_.read_timeout);
  auto [read_error, read] =
      co_await bhttp::async_read_header(stream, impl->buffer, impl->parser, kUse);
  if (read_error) {
    co_return unavailable(url, "reading the response", read_error);
  }
  co_return std::make_unique<Response>(std::move(impl));
}

asio::awaitable<Result<std::string>> RegistryClient::authorize(const Challenge& challenge,
                                                               const std::string& scope,
                                                               bool upstream_on_loopback) {
  const bool have_credentials = !options_.username.empty();
  if (challenge.scheme == "basic") {
    if (!have_credentials) {
      co_return core::fail(
          ErrorCode::kUnauthorized,
          "upstream " + base_.authority() + " asks for basic credentials and none are configured");
    }
    auto value = basic_authorization(options_.username, options_.password);
    std::lock_guard lock(mutex_);
    basic_ = value;
    co_return value;
  }
  if (challenge.scheme != "bearer") {
    co_return core::fail(ErrorCode::kUnauthorized, "upstream " + base_.authority() +
                                                       " asks for authentication scheme '" +
                                                       challenge.scheme + "', which Berth lacks");
  }
  // The challenge's scope, when given, is what the upstream wants for this request.
  std::string wanted = challenge.param("scope");
  if (wanted.empty()) {
    wanted = scope;
  }
  auto url = token_url(challenge, wanted);
  if (!url) {
    co_return std::unexpected(url.error());
  }
  std::string credentials;
  if (have_credentials) {
    if (!may_receive_credentials(base_, *url, token_realms_)) {
      co_return core::fail(ErrorCode::kUnauthorized,
                           "upstream " + base_.authority() + " sends us for a token to " +
                               std::string(url->tls ? "https://" : "http://") + url->authority() +
                               ", which is not the upstream's host nor in the proxy's "
                               "token_realms: the credentials are not sent there");
    }
    credentials = basic_authorization(options_.username, options_.password);
  }
  std::unique_ptr<Response> response;
  for (std::size_t hop = 0;; ++hop) {
    auto got = co_await exchange(*url, bhttp::verb::get, "application/json", credentials,
                                 destination(*url, upstream_on_loopback));
    if (!got) {
      co_return std::unexpected(got.error());
    }
    response = std::move(*got);
    if (!is_redirect(response->status()) || hop >= options_.max_redirects) {
      break;
    }
    auto next = resolve_location(*url, response->header(bhttp::field::location));
    if (!next) {
      co_return std::unexpected(next.error());
    }
    if (!same_origin(*next, *url)) {
      credentials.clear();
    }
    *url = std::move(*next);
  }
  if (response->status() != 200) {
    const auto code = response->status() == 401 || response->status() == 403
                          ? ErrorCode::kUnauthorized
                          : ErrorCode::kUnavailable;
    co_return core::fail(code, "upstream token endpoint " + url->authority() + " answered " +
                                   std::to_string(response->status()) +
                                   (have_credentials ? " for the configured credentials"
                                                     : " to an anonymous token request"));
  }
  auto body = co_await response->read_all(kMaxTokenResponse);
  if (!body) {
    co_return std::unexpected(body.error());
  }
  boost::system::error_code ec;
  auto json = boost::json::parse(*body, ec);
  if (ec || !json.is_object()) {
    co_return core::fail(ErrorCode::kUnavailable,
                         "upstream token endpoint " + url->authority() + " sent no JSON object");
  }
  const auto& object = json.as_object();
  std::string token;
  for (const char* key : {"token", "access_token"}) {
    if (const auto* value = object.if_contains(key); value != nullptr && value->is_string()) {
      token = std::string(value->as_string());
      break;
    }
  }
  if (token.empty()) {
    co_return core::fail(ErrorCode::kUnavailable,
                         "upstream token endpoint " + url->authority() + " sent no token");
  }
  // The spec's default lifetime is 60 s; renew a little early so a token never expires in
  // flight.
  std::int64_t lifetime = 60;
  if (const auto* value = object.if_contains("expires_in"); value != nullptr && value->is_int64()) {
    lifetime = std::max<std::int64_t>(value->as_int64(), 1);
  }
  const auto margin = std::min<std::int64_t>(30, lifetime / 5);
  std::string authorization = "Bearer " + token;
  {
    std::lock_guard lock(mutex_);
    tokens_[scope] =
        CachedToken{authorization, clock_.now() + std::chrono::seconds(lifetime - margin)};
  }
  co_return authorization;
}

asio::awaitable<Result<std::unique_ptr<Response>>> RegistryClient::send_once(
    const Request& request) {
  Url url = base_;
  url.target = request.target;
  std::string authorization = cached_authorization(request.scope).value_or("");
  bool authenticated = false;
  // The first answer comes from the upstream itself (url starts as base_).
  std::optional<bool> upstream_on_loopback;
  for (std::size_t hop = 0;; ++hop) {
    const bool upstream_host = same_origin(url, base_);
    const std::string sent_authorization = upstream_host ? authorization : std::string();
    auto response = co_await exchange(url, request.method, request.accept, sent_authorization,
                                      destination(url, upstream_on_loopback.value_or(false)));
    if (!response) {
      co_return std::unexpected(response.error());
    }
    if (!upstream_on_loopback) {
      upstream_on_loopback = address_kind((*response)->peer()) == AddressKind::kLoopback;
    }
    const unsigned status = (*response)->status();
    if (status == 401 && upstream_host && !authenticated) {
      auto challenge = parse_challenge((*response)->header(bhttp::field::www_authenticate));
      if (!challenge) {
        co_return std::move(*response);
      }
      auto granted = co_await authorize(*challenge, request.scope, *upstream_on_loopback);
      if (!granted) {
        co_return std::unexpected(granted.error());
      }
      authorization = std::move(*granted);
      authenticated = true;
      continue;
    }
    if (is_redirect(status) && hop < options_.max_redirects) {
      auto next = resolve_location(url, (*response)->header(bhttp::field::location));
      if (!next) {
        co_return std::unexpected(next.error());
      }
      url = std::move(*next);
      continue;
    }
    co_return std::move(*response);
  }
}

asio::awaitable<Result<std::unique_ptr<Response>>> RegistryClient::send(Request request) {
  std::chrono::milliseconds pause = options_.backoff;
  const int attempts = std::max(1, options_.attempts);
  for (int attempt = 1;; ++attempt) {
    auto response = co_await send_once(request);
    const bool last = attempt >= attempts;
    if (!response) {
      // Our credentials refused: asking again will not help.
      if (last || response.error().code == ErrorCode::kUnauthorized) {
        co_return response;
      }
    } else {
      const unsigned status = (*response)->status();
      if (last || !(status >= 500 || status == 429)) {
        co_return response;
      }
    }
    co_await sleep_for(pause);
    pause *= 2;
  }
}

}  // namespace berth::client
