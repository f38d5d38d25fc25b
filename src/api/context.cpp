#include "api/context.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/json.hpp>

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

std::string RequestContext::client_address() const { return ex.client_address(); }

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

namespace {

// Whether the error is a failure of the machine, whose message carries server paths and
// details for the operator rather than the client. A collection in progress and storage
// below storage.min_free are UNAVAILABLE too, but their messages are written for the client.
bool machine_failure(const core::Error& error) {
  if (error.is(core::ErrorReason::kBlobBeingCollected) ||
      error.is(core::ErrorReason::kStorageLow)) {
    return false;
  }
  return error.code == ErrorCode::kInternal || error.code == ErrorCode::kUnavailable;
}

// What the client reads of a failure of the machine.
std::string_view summary(const core::Error& error) {
  switch (error.reason) {
    case core::ErrorReason::kDiskFull:
      return "the registry's storage is full";
    case core::ErrorReason::kDatabaseBusy:
      return "the registry's database is busy";
    default:
      return error.code == ErrorCode::kUnavailable ? "the registry cannot store data right now"
                                                   : "internal error";
  }
}

}  // namespace

meta::EventOrigin RequestContext::event_origin() const {
  const auto& request = ex.request();
  return meta::EventOrigin{.actor = identity.anonymous() ? std::string() : identity.name,
                           .remote_addr = client_address(),
                           .user_agent = std::string(request[bhttp::field::user_agent]),
                           .request_id = std::string(ex.request_id()),
                           .method = std::string(request.method_string()),
                           .host = std::string(request[bhttp::field::host])};
}

asio::awaitable<void> RequestContext::fail(const core::Error& error) {
  if (error.is(core::ErrorReason::kQuotaExceeded) && repo) {
    auto event = registry::make_event(meta::event_type::kQuotaExceeded, *repo, clock_now(),
                                      [this] { return event_origin(); });
    event.detail_json = boost::json::serialize(boost::json::object{{"message", error.message}});
    registry().note_event(std::move(event));
  }
  if (machine_failure(error)) {
    // The details go to the log; the client gets the request id to quote.
    spdlog::error("request {} {} {}: {}", ex.request_id(), ex.request().method_string(),
                  ex.request().target(), error.message);
    core::Error shown{error.code,
                      std::string(summary(error)) +
                          "; the server log has details under request id " +
                          std::string(ex.request_id()),
                      {}};
    shown.retry_after = error.retry_after;
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

asio::awaitable<bool> RequestContext::pause_for_collection(CollectionWait& wait) {
  const auto now = std::chrono::steady_clock::now();
  if (now >= wait.deadline) {
    co_return false;
  }
  if (!wait.logged) {
    spdlog::info("request {}: waiting for garbage collection to finish deleting a digest it stores",
                 ex.request_id());
    wait.logged = true;
  }
  asio::steady_timer timer(
      co_await asio::this_coro::executor,
      std::min<std::chrono::steady_clock::duration>(wait.pause, wait.deadline - now));
  co_await timer.async_wait(asio::use_awaitable);
  wait.pause = std::min<std::chrono::milliseconds>(wait.pause * 2, std::chrono::seconds(1));
  co_return true;
}

asio::awaitable<void> RequestContext::method_not_allowed() {
  co_await method_not_allowed(allowed_methods(route.endpoint));
}

asio::awaitable<void> RequestContext::method_not_allowed(std::string_view allow) {
  const core::Error error{ErrorCode::kMethodNotAllowed,
                          std::string(ex.request().method_string()) + " is not allowed here" +
                              (allow.empty() ? "" : "; allowed: " + std::string(allow)),
                          {}};
  co_await ex.respond(error_response(error, ex.request().version(), keep_alive(), allow));
}

}  // namespace berth::api
