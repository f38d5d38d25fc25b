#include "api/session_gate.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include "api/auth_gate.hpp"
#include "api/errors.hpp"
#include "auth/password.hpp"
#include "auth/ui_sessions.hpp"
#include "util/ascii.hpp"

namespace berth::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using core::ErrorCode;

namespace {

constexpr std::string_view kCookieAttributes = "; Path=/; HttpOnly; SameSite=Strict";

bool changes_state(const RequestContext& ctx) {
  return !ctx.is(bhttp::verb::get) && !ctx.is(bhttp::verb::head);
}

}  // namespace

std::string request_cookie(const http::RequestHeader& request, std::string_view name) {
  const auto [first, last] = request.equal_range(bhttp::field::cookie);
  for (auto field = first; field != last; ++field) {
    std::string_view rest = field->value();
    while (!rest.empty()) {
      const auto semi = rest.find(';');
      const auto pair = util::trim_spaces(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      const auto eq = pair.find('=');
      if (eq != std::string_view::npos && util::trim_spaces(pair.substr(0, eq)) == name) {
        return std::string(util::trim_spaces(pair.substr(eq + 1)));
      }
    }
  }
  return {};
}

bool from_web_ui(const RequestContext& ctx) {
  const auto& request = ctx.ex.request();
  return !request_cookie(request, kSessionCookie).empty() ||
         boost::beast::iequals(request["X-Requested-With"], "berth-ui");
}

bool carries_csrf_token(const RequestContext& ctx, std::string_view token) {
  return auth::constant_time_equal(ctx.ex.request()[kCsrfHeader], token);
}

std::string session_cookie(std::string_view secret, bool secure) {
  return std::string(kSessionCookie) + "=" + std::string(secret) + std::string(kCookieAttributes) +
         (secure ? "; Secure" : "");
}

std::string expired_session_cookie(bool secure) {
  return std::string(kSessionCookie) + "=; Max-Age=0" + std::string(kCookieAttributes) +
         (secure ? "; Secure" : "");
}

asio::awaitable<bool> authenticate_api(RequestContext& ctx, const std::string& scope) {
  auth::UiSessions* sessions = ctx.services().sessions;
  const auto& request = ctx.ex.request();
  const std::string secret = request_cookie(request, kSessionCookie);
  if (!ctx.access().enabled() || sessions == nullptr || secret.empty() ||
      request.find(bhttp::field::authorization) != request.end()) {
    co_return co_await authenticate(ctx, scope);
  }
  auto resumed = co_await ctx.blocking([&] { return sessions->resume(secret); });
  if (!resumed) {
    auto response = error_response(resumed.error(), request.version(), ctx.keep_alive());
    if (resumed.error().code == ErrorCode::kUnauthorized) {
      response.set(bhttp::field::set_cookie, expired_session_cookie(ctx.ex.secure()));
    }
    co_await ctx.send(std::move(response));
    co_return false;
  }
  if (changes_state(ctx) && !carries_csrf_token(ctx, resumed->csrf_token)) {
    co_await ctx.fail(ErrorCode::kDenied, "missing or wrong CSRF token");
    co_return false;
  }
  ctx.identity = std::move(resumed->identity);
  ctx.ex.set_user(ctx.identity.display());
  co_return true;
}

}  // namespace berth::api
