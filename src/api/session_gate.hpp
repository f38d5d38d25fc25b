// The web UI's session cookie in front of /api/v1 (auth/ui_sessions.hpp has the rules of a
// session). The cookie authenticates /api/v1 only: the registry's endpoints and /token read
// the Authorization header alone (auth_gate.hpp), so a page of another site that makes the
// browser send the cookie to /v2/ gets nothing from it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>

#include "api/context.hpp"

namespace berth::api {

inline constexpr std::string_view kSessionCookie = "berth_session";
inline constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

// The value of the cookie `name` in the request's Cookie headers; empty when absent.
[[nodiscard]] std::string request_cookie(const http::RequestHeader& request, std::string_view name);

// Whether the request comes from the web UI: it carries the session cookie or
// `X-Requested-With: berth-ui`. Its 401s then carry no `WWW-Authenticate: Basic`, which would
// make the browser show its own password dialog over the UI's sign-in form.
[[nodiscard]] bool from_web_ui(const RequestContext& ctx);

// Whether the request's X-CSRF-Token is `token` (compared in constant time).
[[nodiscard]] bool carries_csrf_token(const RequestContext& ctx, std::string_view token);

// Set-Cookie values: the session's cookie (HttpOnly, SameSite=Strict, Path=/, and Secure when
// the request came over TLS), and one that makes the browser forget it.
[[nodiscard]] std::string session_cookie(std::string_view secret, bool secure);
[[nodiscard]] std::string expired_session_cookie(bool secure);

// authenticate() for /api/v1: with access control on, a request with the session cookie and
// no Authorization header is the session's user, and when it changes something (any method
// but GET and HEAD) it must carry the session's CSRF token in X-CSRF-Token. Answers a refusal
// (401 UNAUTHORIZED without a challenge for an ended session, 403 DENIED for the CSRF token)
// and returns false. Any other request goes to authenticate() as before.
boost::asio::awaitable<bool> authenticate_api(RequestContext& ctx, const std::string& scope);

}  // namespace berth::api
