// RegistryClient: Berth's outbound side, a client of another registry's HTTP API (Docker
// Hub, ghcr.io, a Distribution, another Berth), for the pull-through caches of proxy/.
//
// It sends GET and HEAD requests for manifests and blobs and hands back the response with its
// body still unread, so a blob streams through in pieces and memory stays bounded. On the way
// it does what every registry client must:
//  - authentication: on a 401 it reads the challenge. "Basic" gets the configured
//    credentials. "Bearer" starts the Docker token protocol: GET <realm>?service=&scope= with
//    the credentials as basic auth (none: an anonymous token), then the request again with the
//    token. Tokens are cached per scope until shortly before they expire;
//  - redirects (Docker Hub and ghcr.io send blob GETs to a CDN): followed, and the
//    Authorization header is dropped when the host changes, so a CDN never sees our token;
//  - where the upstream may send us and our credentials (client/upstream_trust.hpp): the
//    credentials go to its own host and the token realms the operator listed, and no redirect
//    or realm reaches a link-local address, nor a loopback one unless the upstream is there;
//  - retries: a request that failed to connect, was cut before its header, or got a 5xx or 429
//    is sent again (these are idempotent), after a pause that doubles each time. A response
//    whose body has begun is never retried here: the caller has seen bytes;
//  - TLS with peer verification against the system's CAs or a configured CA file, with SNI
//    and host name checking.
//
// One TCP connection per request (closed with the Response). Coroutines run on the caller's
// executor. Safe to use from several threads and coroutines at once: the token cache has its
// own mutex, everything else is per request.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "client/challenge.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace berth::client {

struct ClientOptions {
  // "https://registry-1.docker.io"; a path, if any, is ignored. Credentials in it are refused
  // (they go below), so the URL may be shown in messages and logs.
  std::string url;
  // Empty: anonymous (an anonymous token where the upstream offers one).
  std::string username;
  std::string password;
  // Token realms on hosts other than the upstream's that may receive the credentials, as URLs
  // (may_receive_credentials in client/upstream_trust.hpp).
  std::vector<std::string> token_realms;
  // PEM file of the CAs to trust; empty: the system's.
  std::filesystem::path ca_file;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  // Longest wait for the next bytes of a response.
  std::chrono::milliseconds read_timeout{std::chrono::seconds(60)};
  // Tries per request, the first included.
  int attempts = 3;
  // The first pause before a retry; it doubles for each one.
  std::chrono::milliseconds backoff{std::chrono::milliseconds(200)};
  std::size_t max_redirects = 5;
  std::string user_agent = "berth-proxy";
};

struct Request {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  // "/v2/library/alpine/manifests/3.20"
  std::string target;
  // The Accept header; empty: none.
  std::string accept;
  // The token scope this request needs: "repository:library/alpine:pull".
  std::string scope;
};

// A response whose body has not been read. Owns its connection. Not thread-safe.
class Response {
 public:
  class Impl;
  explicit Response(std::unique_ptr<Impl> impl);
  ~Response();
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;

  unsigned status() const;
  const boost::beast::http::response_header<>& header() const;
  std::string header(boost::beast::http::field field) const;
  std::optional<std::uint64_t> content_length() const;
  // The address that answered.
  const boost::asio::ip::address& peer() const;
  // Reads the next piece of the body into out; 0 at its end. A connection that closes or
  // stalls before the promised length is an error (kUnavailable).
  [[nodiscard]] boost::asio::awaitable<core::Result<std::size_t>> read(std::span<std::byte> out);
  // The whole body; kTooLarge above limit.
  [[nodiscard]] boost::asio::awaitable<core::Result<std::string>> read_all(std::size_t limit);

 private:
  std::unique_ptr<Impl> impl_;
};

class RegistryClient {
 public:
  // Fails (kInvalidRequest) for a bad URL (credentials in it included), a bad token realm
  // or an unreadable CA file.
  [[nodiscard]] static core::Result<std::unique_ptr<RegistryClient>> make(ClientOptions options,
                                                                          const core::Clock& clock);
  ~RegistryClient();
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  // Sends the request (authenticating, following redirects, retrying as above) and returns
  // the final response, whatever its status: 404 is for the caller to interpret. Errors are
  // failures to get any response (kUnavailable, message naming the upstream and the cause) and
  // a failed token request (kUnauthorized when the upstream refused our credentials).
  [[nodiscard]] boost::asio::awaitable<core::Result<std::unique_ptr<Response>>> send(
      Request request);

  const Url& base() const { return base_; }
  const ClientOptions& options() const { return options_; }
  // Requests that reached the upstream (each try, token requests included), for tests.
  std::uint64_t requests_sent() const;

 private:
  // Where a request goes: the upstream's own origin, or a place one of its answers named (a
  // redirect, a token realm), which refuse_destination() must allow.
  struct Destination {
    bool named_by_upstream = false;
    // Whether the upstream answered from a loopback address.
    bool upstream_on_loopback = false;
  };

  RegistryClient(ClientOptions options, Url base, std::vector<Url> token_realms,
                 const core::Clock& clock, std::shared_ptr<boost::asio::ssl::context> tls);

  boost::asio::awaitable<core::Result<std::unique_ptr<Response>>> send_once(const Request& request);
  boost::asio::awaitable<core::Result<std::unique_ptr<Response>>> exchange(
      const Url& url, boost::beast::http::verb method, const std::string& accept,
      const std::string& authorization, Destination destination);
  boost::asio::awaitable<core::Result<std::string>> authorize(const Challenge& challenge,
                                                              const std::string& scope,
                                                              bool upstream_on_loopback);
  Destination destination(const Url& url, bool upstream_on_loopback) const;
  std::optional<std::string> cached_authorization(const std::string& scope);

  ClientOptions options_;
  Url base_;
  std::vector<Url> token_realms_;
  const core::Clock& clock_;
  std::shared_ptr<boost::asio::ssl::context> tls_;

  struct CachedToken {
    std::string authorization;
    core::TimePoint expires;
  };
  mutable std::mutex mutex_;
  // Guarded by mutex_: "Bearer ..." per scope; basic_ once the upstream asked for Basic.
  std::map<std::string, CachedToken> tokens_;
  std::optional<std::string> basic_;
  std::uint64_t requests_sent_ = 0;
};

}  // namespace berth::client
