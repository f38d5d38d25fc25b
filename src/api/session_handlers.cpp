#include "api/session_handlers.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>

#include "api/errors.hpp"
#include "api/json_body.hpp"
#include "api/session_gate.hpp"
#include "auth/ui_sessions.hpp"

namespace berth::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
namespace json = boost::json;
using core::ErrorCode;

namespace {

constexpr std::size_t kMaxBodyBytes = 16 * 1024;

// The body of every answer: GET's, and POST's on success.
json::object session_json(bool access_control, const auth::Identity* user,
                          const std::string* csrf_token) {
  json::object out{{"access_control", access_control},
                   {"signed_in", user != nullptr},
                   {"version", BERTH_VERSION}};
  out["user"] = user == nullptr
                    ? json::value(nullptr)
                    : json::value(json::object{{"name", user->name}, {"admin", user->admin}});
  out["csrf_token"] = csrf_token == nullptr ? json::value(nullptr) : json::value(*csrf_token);
  return out;
}

asio::awaitable<void> reply(RequestContext& ctx, json::object body,
                            std::optional<std::string> cookie = {}) {
  auto response = ctx.response(bhttp::status::ok);
  response.set(bhttp::field::content_type, "application/json; charset=utf-8");
  response.set(bhttp::field::cache_control, "no-store");
  if (cookie) {
    response.set(bhttp::field::set_cookie, *cookie);
  }
  response.body() = json::serialize(body);
  co_await ctx.send(std::move(response));
}

// GET: 200 always. A cookie whose session ended is answered "signed out" and forgotten.
asio::awaitable<void> current(RequestContext& ctx) {
  auth::UiSessions* sessions = ctx.services().sessions;
  const std::string secret = request_cookie(ctx.ex.request(), kSessionCookie);
  if (!ctx.access().enabled() || sessions == nullptr || secret.empty()) {
    co_return co_await reply(ctx, session_json(ctx.access().enabled(), nullptr, nullptr));
  }
  auto resumed = co_await ctx.blocking([&] { return sessions->resume(secret); });
  if (!resumed && resumed.error().code != ErrorCode::kUnauthorized) {
    co_return co_await ctx.fail(resumed.error());
  }
  if (!resumed) {
    co_return co_await reply(ctx, session_json(true, nullptr, nullptr),
                             expired_session_cookie(ctx.ex.secure()));
  }
  ctx.ex.set_user(resumed->identity.display());
  co_await reply(ctx, session_json(true, &resumed->identity, &resumed->csrf_token));
}

struct SignIn {
  std::string username;
  std::string password;
};

// The body of a sign-in; on failure answers 400 and returns nullopt. JSON only: a form on
// another site can post url-encoded or multipart bodies without asking, not JSON.
asio::awaitable<std::optional<SignIn>> sign_in_body(RequestContext& ctx) {
  const auto type = ctx.ex.request()[bhttp::field::content_type];
  const auto media = type.substr(0, type.find(';'));
  if (!boost::beast::iequals(media, "application/json")) {
    co_await ctx.fail(ErrorCode::kInvalidRequest,
                      "sign in with Content-Type: application/json and "
                      "{\"username\": ..., \"password\": ...}");
    co_return std::nullopt;
  }
  auto object = co_await read_json_object(ctx, kMaxBodyBytes);
  if (!object) {
    co_return std::nullopt;
  }
  const json::value* username = object->if_contains("username");
  const json::value* password = object->if_contains("password");
  if (username == nullptr || password == nullptr || !username->is_string() ||
      !password->is_string()) {
    co_await ctx.fail(ErrorCode::kInvalidRequest,
                      "expected {\"username\": string, \"password\": string}");
    co_return std::nullopt;
  }
  co_return SignIn{std::string(username->as_string()), std::string(password->as_string())};
}

// POST: the same login as the registry's (throttle, lockout, bcrypt on the password pool),
// then a new session in a cookie.
asio::awaitable<void> sign_in(RequestContext& ctx) {
  auth::UiSessions* sessions = ctx.services().sessions;
  if (!ctx.access().enabled() || sessions == nullptr) {
    co_return co_await ctx.fail(ErrorCode::kInvalidRequest,
                                "access control is off: the web UI needs no sign-in");
  }
  auto body = co_await sign_in_body(ctx);
  if (!body) {
    co_return;
  }
  if (body->username.starts_with(auth::kRobotPrefix)) {
    co_return co_await ctx.fail(ErrorCode::kDenied,
                                "robot accounts cannot sign in to the web UI; they use the API "
                                "with their token");
  }
  auto address = ctx.client_address();
  auto identity = co_await ctx.passwords(
      [&] { return ctx.services().authenticator.login(body->username, body->password, address); });
  if (!identity) {
    co_return co_await ctx.fail(identity.error());
  }
  auto opened = co_await ctx.blocking([&] { return sessions->open(*identity); });
  if (!opened) {
    co_return co_await ctx.fail(opened.error());
  }
  ctx.ex.set_user(identity->display());
  ctx.identity = *identity;  // who signed in, for the audit log
  co_await reply(ctx, session_json(true, &*identity, &opened->csrf_token),
                 session_cookie(opened->secret, ctx.ex.secure()));
}

// DELETE: signs out; needs the session's CSRF token, as every change does. Without a session
// (or with one already ended) there is nothing to refuse: 204 all the same.
asio::awaitable<void> sign_out(RequestContext& ctx) {
  auth::UiSessions* sessions = ctx.services().sessions;
  const std::string secret = request_cookie(ctx.ex.request(), kSessionCookie);
  if (ctx.access().enabled() && sessions != nullptr && !secret.empty()) {
    auto resumed = co_await ctx.blocking([&] { return sessions->resume(secret); });
    if (resumed) {
      if (!carries_csrf_token(ctx, resumed->csrf_token)) {
        co_return co_await ctx.fail(ErrorCode::kDenied, "missing or wrong CSRF token");
      }
      auto closed = co_await ctx.blocking([&] { return sessions->close(secret); });
      if (!closed) {
        co_return co_await ctx.fail(closed.error());
      }
    } else if (resumed.error().code != ErrorCode::kUnauthorized) {
      co_return co_await ctx.fail(resumed.error());
    }
  }
  auto response = ctx.response(bhttp::status::no_content);
  response.set(bhttp::field::set_cookie, expired_session_cookie(ctx.ex.secure()));
  co_await ctx.send(std::move(response));
}

}  // namespace

asio::awaitable<void> serve_session(RequestContext& ctx) {
  if (ctx.is(bhttp::verb::get)) {
    co_return co_await current(ctx);
  }
  if (ctx.is(bhttp::verb::post)) {
    co_return co_await sign_in(ctx);
  }
  if (ctx.is(bhttp::verb::delete_)) {
    co_return co_await sign_out(ctx);
  }
  co_await ctx.method_not_allowed("GET, POST, DELETE");
}

}  // namespace berth::api
