#include "api/context.hpp"

#include <spdlog/spdlog.h>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include "api/errors.hpp"
#include "api/headers.hpp"

namespace berth::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using core::ErrorCode;

bool RequestContext::keep_alive() const {
  const auto& req = ex.request();
  bhttp::token_list connection(req[bhttp::field::connection]);
  auto has = [&](std::string_view token) {
    for (auto item : connection) {
      if (boost::beast::iequals(item, token)) {
        return true;
      }
    }
    return false;
  };
  return req.version() >= 11 ? !has("close") : has("keep-alive");
}

std::string RequestContext::client_address() const {
  std::string remote(ex.remote());
  // "1.2.3.4:5678" or "[::1]:5678": the address without the port.
  auto colon = remote.rfind(':');
  return colon == std::string::npos ? remote : remote.substr(0, colon);
}

core::Error RequestContext::passwords_busy() {
  return core::Error{ErrorCode::kTooManyRequests,
                     "the server is checking too many passwords at once; try again in a second",
                     {},
                     std::chrono::seconds(1)};
}

http::Response RequestContext::response(bhttp::status status) const {
  http::Response res{status, ex.request().version()};
  res.keep_alive(keep_alive());
  res.set(kApiVersionHeader, kApiVersion);
  return res;
}

asio::awaitable<void> RequestContext::send(http::Response res) {
  co_await ex.respond(std::move(res));
}

asio::awaitable<void> RequestContext::respond_text(bhttp::status status, std::string body) {
  auto res = response(status);
  res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(body);
  co_await send(std::move(res));
}

asio::awaitable<void> RequestContext::respond_json(bhttp::status status, std::string body) {
  auto res = response(status);
  res.set(bhttp::field::content_type, kJsonContentType);
  res.body() = std::move(body);
  co_await send(std::move(res));
}

asio::awaitable<void> RequestContext::fail(const core::Error& error) {
  if (error.code == ErrorCode::kInternal || error.code == ErrorCode::kUnavailable) {
    // Failures of the machine carry server paths and details for the operator: they go to
    // the log; the client gets the request id to quote.
    spdlog::error("request {} {} {}: {}", ex.request_id(), ex.request().method_string(),
                  ex.request().target(), error.message);
    core::Error shown{error.code,
                      std::string(error.code == ErrorCode::kUnavailable
                                      ? "the registry cannot store data right now"
                                      : "internal error") +
                          "; the server log has details under request id " +
                          std::string(ex.request_id()),
                      {}};
    co_return co_await ex.respond(error_response(shown, ex.request().version(), keep_alive()));
  }
  co_await ex.respond(error_response(error, ex.request().version(), keep_alive()));
}

asio::awaitable<void> RequestContext::fail(ErrorCode code, std::string message) {
  // A named local, not a braced temporary in the co_await: GCC 12 frees such a temporary's
  // string from inside the coroutine frame (ASan: bad-free; BaseTest.UnknownPaths...).
  const core::Error error{code, std::move(message), {}};
  co_await fail(error);
}

asio::awaitable<void> RequestContext::method_not_allowed() {
  co_await fail(ErrorCode::kMethodNotAllowed,
                std::string(ex.request().method_string()) + " is not allowed here");
}

}  // namespace berth::api
