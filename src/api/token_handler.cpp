#include "api/token_handler.hpp"

#include <boost/json.hpp>
#include <boost/url/params_encoded_view.hpp>
#include <boost/url/parse_query.hpp>
#include <ctime>

#include "api/auth_gate.hpp"
#include "api/errors.hpp"
#include "api/mirror_route.hpp"
#include "auth/credentials.hpp"
#include "auth/password.hpp"
#include "auth/scope.hpp"
#include "util/utc_time.hpp"

namespace berth::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using core::ErrorCode;
using core::Result;

namespace {

constexpr std::size_t kMaxFormBytes = 64 * 1024;
constexpr std::string_view kRefreshTokenPrefix = "brt_";
constexpr std::size_t kMaxScopes = 32;

struct TokenRequest {
  std::string service;
  std::vector<std::string> scopes;
  bool offline = false;
  // POST only.
  std::string grant_type;
  std::string username;
  std::string password;
  std::string refresh_token;
};

// application/x-www-form-urlencoded ('+' is a space there).
Result<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view body) {
  auto query = boost::urls::parse_query(body);
  if (!query) {
    return core::fail(ErrorCode::kInvalidRequest, "the form body is not url-encoded");
  }
  boost::urls::encoding_opts plus_is_space;
  plus_is_space.space_as_plus = true;
  std::vector<std::pair<std::string, std::string>> fields;
  for (auto param : *query) {
    fields.emplace_back(param.key.decode(plus_is_space),
                        param.has_value ? param.value.decode(plus_is_space) : std::string());
  }
  return fields;
}

asio::awaitable<void> refuse(RequestContext& ctx, const core::Error& error) {
  auto response = error_response(error, ctx.ex.request().version(), ctx.keep_alive());
  if (error.code == ErrorCode::kUnauthorized) {
    // For people with curl: the endpoint takes Basic credentials.
    response.set(bhttp::field::www_authenticate, "Basic realm=\"berth\"");
  }
  co_await ctx.send(std::move(response));
}

}  // namespace

asio::awaitable<void> serve_token(RequestContext& ctx) {
  auto& services = ctx.services();
  const bool post = ctx.is(bhttp::verb::post);
  if (!post && !ctx.is(bhttp::verb::get)) {
    co_return co_await ctx.method_not_allowed();
  }

  TokenRequest request;
  if (post) {
    ctx.ex.set_body_limit(kMaxFormBytes);
    auto body = co_await ctx.ex.read_body_string(kMaxFormBytes);
    if (!body) {
      co_return co_await ctx.fail(ErrorCode::kTooLarge, "the form body is too large or cut off");
    }
    auto form = parse_form(*body);
    if (!form) {
      co_return co_await ctx.fail(form.error());
    }
    for (auto& [key, value] : *form) {
      if (key == "service") {
        request.service = value;
      } else if (key == "scope") {
        request.scopes.push_back(value);
      } else if (key == "grant_type") {
        request.grant_type = value;
      } else if (key == "username") {
        request.username = value;
      } else if (key == "password") {
        request.password = value;
      } else if (key == "refresh_token") {
        request.refresh_token = value;
      } else if (key == "access_type") {
        request.offline = value == "offline";
      }
    }
  } else {
    request.service = ctx.route.param("service").value_or("");
    request.scopes = ctx.route.params("scope");
    request.offline = ctx.route.param("offline_token").value_or("") == "true";
  }

  const auto& service = services.tokens.options().service;
  if (!request.service.empty() && request.service != service) {
    co_return co_await ctx.fail(ErrorCode::kDenied, "this token endpoint serves \"" + service +
                                                        "\", not \"" + request.service + "\"");
  }
  std::vector<auth::Access> requested;
  for (const auto& text : request.scopes) {
    auto parsed = auth::parse_scope(text);
    if (!parsed) {
      co_return co_await ctx.fail(parsed.error());
    }
    requested.insert(requested.end(), parsed->begin(), parsed->end());
  }
  // A pull through the mirror is served under the mirror's project (api/mirror_route.hpp):
  // the token must grant that name too. Docker asks for the name it pulls, not the one in our
  // challenge.
  const std::size_t asked = requested.size();
  for (std::size_t i = 0; i < asked; ++i) {
    if (requested[i].type != "repository" || requested[i].actions.size() != 1 ||
        requested[i].actions[0] != "pull") {
      continue;
    }
    const std::string asked_name = requested[i].name;
    const std::optional<std::string> no_ns;
    auto served = co_await mirrored_name(ctx, asked_name, no_ns, true);
    if (served && *served != asked_name) {
      auth::Access mirrored;
      mirrored.type = "repository";
      mirrored.name = std::move(*served);
      mirrored.actions.push_back("pull");
      requested.push_back(std::move(mirrored));
    }
  }
  // Bounded so that every token issued fits what the verifier accepts (16 KiB).
  if (requested.size() > kMaxScopes) {
    co_return co_await ctx.fail(
        ErrorCode::kInvalidRequest,
        "at most " + std::to_string(kMaxScopes) + " scopes per token; ask for several tokens");
  }

  // Who is asking.
  std::string presented_refresh;
  Result<auth::Identity> identity = auth::Identity{};
  if (post) {
    if (request.grant_type == "password") {
      identity = co_await sign_in(ctx, request.username, request.password);
    } else if (request.grant_type == "refresh_token") {
      presented_refresh = request.refresh_token;
      identity = co_await ctx.blocking([&]() -> Result<auth::Identity> {
        auto stored = services.accounts.get_refresh_token(auth::token_hash(presented_refresh));
        if (!stored) {
          return std::unexpected(stored.error());
        }
        if (!*stored || (*stored)->revoked || (*stored)->expires <= services.clock.now()) {
          return core::fail(ErrorCode::kUnauthorized,
                            "the refresh token is unknown, expired or revoked");
        }
        // Bound to the account it was issued to: not its namesake, not its old password.
        return services.authenticator.identity_of((*stored)->subject, (*stored)->account);
      });
    } else {
      co_return co_await ctx.fail(ErrorCode::kInvalidRequest,
                                  "grant_type must be password or refresh_token");
    }
  } else {
    auto credentials = auth::parse_authorization(ctx.ex.request()[bhttp::field::authorization]);
    if (credentials.kind == auth::Credentials::Kind::kBasic) {
      identity = co_await sign_in(ctx, credentials.user, credentials.password);
    } else if (credentials.kind != auth::Credentials::Kind::kNone) {
      identity = core::fail(ErrorCode::kUnauthorized, "the token endpoint takes Basic credentials");
    }
  }
  if (!identity) {
    co_return co_await refuse(ctx, identity.error());
  }
  ctx.identity = std::move(*identity);
  ctx.ex.set_user(ctx.identity.display());

  auto granted = co_await ctx.blocking([&] { return ctx.access().grant(ctx.identity, requested); });
  if (!granted) {
    co_return co_await ctx.fail(granted.error());
  }
  const auto token = services.tokens.issue(ctx.identity.name, *granted, ctx.identity.account);
  const auto now = services.clock.now();

  // Refresh tokens: issued on request to signed-in callers, kept as a hash.
  std::string refresh = presented_refresh;
  if (request.offline && refresh.empty() && !ctx.identity.anonymous()) {
    refresh = auth::random_token(kRefreshTokenPrefix);
    meta::RefreshToken stored{auth::token_hash(refresh),
                              ctx.identity.name,
                              now,
                              now + services.auth.refresh_token_ttl,
                              false,
                              ctx.identity.account};
    auto created =
        co_await ctx.blocking([&] { return services.accounts.create_refresh_token(stored); });
    if (!created) {
      co_return co_await ctx.fail(created.error());
    }
    // A credential that outlives the request (what `docker login` asks for): a sign-in worth
    // recording. The short access tokens fetched per pull session are not (api/audit_trail).
    ctx.audit_target = "offline token";
  }

  boost::json::object body;
  body["token"] = token;
  body["access_token"] = token;
  body["expires_in"] = services.tokens.options().ttl.count();
  body["issued_at"] = util::format_utc(now);
  if (post) {
    std::string scope;
    for (const auto& access : *granted) {
      scope += (scope.empty() ? "" : " ") + auth::format_scope(access);
    }
    body["scope"] = scope;
  }
  if (!refresh.empty()) {
    body["refresh_token"] = refresh;
  }
  auto response = ctx.response(bhttp::status::ok);
  response.set(bhttp::field::content_type, "application/json");
  // Tokens are credentials: no cache may keep them.
  response.set(bhttp::field::cache_control, "no-store");
  response.body() = boost::json::serialize(body);
  co_await ctx.send(std::move(response));
}

}  // namespace berth::api
