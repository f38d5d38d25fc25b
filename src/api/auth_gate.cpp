#include "api/auth_gate.hpp"

#include <boost/beast/http/field.hpp>

#include "api/errors.hpp"
#include "auth/credentials.hpp"
#include "auth/identity.hpp"
#include "auth/scope.hpp"

namespace berth::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using core::ErrorCode;

std::string challenge_scope(std::string_view repository, auth::Action action) {
  auth::Access access{"repository", std::string(repository), {}};
  if (action == auth::Action::kPush) {
    access.actions = {"pull", "push"};
  } else {
    access.actions = {std::string(auth::action_name(action))};
  }
  return auth::format_scope(access);
}

std::string token_realm(RequestContext& ctx) {
  const auto& configured = ctx.services().auth.realm;
  if (!configured.empty()) {
    return configured;
  }
  std::string host(ctx.ex.request()[bhttp::field::host]);
  // A quote or backslash would end the quoted realm early and smuggle parameters into it.
  if (host.empty() || host.find_first_of("\"\\") != std::string::npos) {
    host = "localhost";
  }
  return std::string(ctx.ex.secure() ? "https" : "http") + "://" + host + "/token";
}

asio::awaitable<void> challenge(RequestContext& ctx, const std::string& scope,
                                bool insufficient_scope, std::string message) {
  const auto& service = ctx.services().tokens.options().service;
  std::string value = "Bearer realm=\"" + token_realm(ctx) + "\",service=\"" + service + "\"";
  if (!scope.empty()) {
    value += ",scope=\"" + scope + "\"";
  }
  if (insufficient_scope) {
    value += ",error=\"insufficient_scope\"";
  }
  core::Error error{ErrorCode::kUnauthorized, std::move(message), {}};
  auto response = error_response(error, ctx.ex.request().version(), ctx.keep_alive());
  response.set(bhttp::field::www_authenticate, value);
  co_await ctx.send(std::move(response));
}

namespace {

// The account's identity a token was issued to: from the account cache, else the store.
asio::awaitable<core::Result<auth::Identity>> token_identity(RequestContext& ctx,
                                                             const auth::TokenClaims& claims) {
  auto& authenticator = ctx.services().authenticator;
  if (auto known = authenticator.known_identity(claims.subject, claims.account)) {
    co_return std::move(*known);
  }
  co_return co_await ctx.lookup(
      [&] { return authenticator.identity_of(claims.subject, claims.account); });
}

// AccessControl::may: from the account cache, else the store.
asio::awaitable<core::Result<bool>> decide(RequestContext& ctx, std::string_view project,
                                           auth::Action action) {
  if (auto known = ctx.access().known(ctx.identity, project, action)) {
    co_return *known;
  }
  co_return co_await ctx.lookup([&] { return ctx.access().may(ctx.identity, project, action); });
}

}  // namespace

asio::awaitable<core::Result<auth::Identity>> sign_in(RequestContext& ctx, const std::string& user,
                                                      const std::string& password) {
  auto& authenticator = ctx.services().authenticator;
  auto address = ctx.client_address();
  if (auto known = authenticator.known_login(user, password, address)) {
    co_return std::move(*known);
  }
  auto check = [&] { return authenticator.login(user, password, address); };
  // A robot's token is checked with one SHA-256 (it carries 256 random bits, bcrypt would add
  // nothing): it needs the database, not the password pool, whose queue would refuse a fleet
  // of CI robots with 429 while users' bcrypt checks hold it.
  if (user.starts_with(auth::kRobotPrefix)) {
    co_return co_await ctx.blocking(std::move(check));
  }
  co_return co_await ctx.passwords(std::move(check));
}

core::Result<std::shared_ptr<const auth::TokenClaims>> verify_token(RequestContext& ctx,
                                                                    std::string_view token) {
  if (auto* cache = ctx.services().verified_tokens) {
    return cache->verify(token);
  }
  auto claims = ctx.services().tokens.verify(token);
  if (!claims) {
    return std::unexpected(claims.error());
  }
  return std::make_shared<const auth::TokenClaims>(std::move(*claims));
}

asio::awaitable<bool> authenticate(RequestContext& ctx, const std::string& scope) {
  if (!ctx.access().enabled()) {
    co_return true;
  }
  auto credentials = auth::parse_authorization(ctx.ex.request()[bhttp::field::authorization]);
  switch (credentials.kind) {
    case auth::Credentials::Kind::kNone:
      co_return true;
    case auth::Credentials::Kind::kMalformed:
      co_await challenge(ctx, scope, false, "the Authorization header is malformed");
      co_return false;
    case auth::Credentials::Kind::kBasic: {
      auto identity = co_await sign_in(ctx, credentials.user, credentials.password);
      if (!identity) {
        if (identity.error().code == ErrorCode::kUnauthorized) {
          co_await challenge(ctx, scope, false, identity.error().message);
        } else {
          co_await ctx.fail(identity.error());
        }
        co_return false;
      }
      ctx.identity = std::move(*identity);
      ctx.ex.set_user(ctx.identity.display());
      co_return true;
    }
    case auth::Credentials::Kind::kBearer: {
      auto claims = verify_token(ctx, credentials.token);
      if (!claims) {
        co_await challenge(ctx, scope, false, claims.error().message);
        co_return false;
      }
      auto identity = co_await token_identity(ctx, **claims);
      if (!identity) {
        if (identity.error().code == ErrorCode::kUnauthorized) {
          co_await challenge(ctx, scope, false, identity.error().message);
        } else {
          co_await ctx.fail(identity.error());
        }
        co_return false;
      }
      ctx.identity = std::move(*identity);
      ctx.token = std::move(*claims);
      ctx.ex.set_user(ctx.identity.display());
      co_return true;
    }
  }
  co_return false;
}

asio::awaitable<bool> permitted(RequestContext& ctx, std::string_view repository,
                                auth::Action action) {
  if (!ctx.access().enabled()) {
    co_return true;
  }
  if (ctx.token &&
      !auth::allows(ctx.token->access, "repository", repository, auth::action_name(action))) {
    co_return false;
  }
  auto may = co_await decide(ctx, core::project_of(repository), action);
  co_return may&&* may;
}

asio::awaitable<bool> authorize(RequestContext& ctx, std::string_view repository,
                                auth::Action action) {
  if (!ctx.access().enabled()) {
    co_return true;
  }
  auto may = co_await decide(ctx, core::project_of(repository), action);
  if (!may) {
    co_await ctx.fail(may.error());
    co_return false;
  }
  const bool token_grants = !ctx.token || auth::allows(ctx.token->access, "repository", repository,
                                                       auth::action_name(action));
  if (*may && token_grants) {
    co_return true;
  }
  const std::string scope = challenge_scope(repository, action);
  if (*may) {
    // The identity may, the token just does not say so: the client asks for a better token.
    co_await challenge(ctx, scope, true, "the token does not grant " + scope);
    co_return false;
  }
  if (ctx.identity.anonymous()) {
    co_await challenge(ctx, scope, false, "authentication required for " + scope);
    co_return false;
  }
  auto why =
      co_await ctx.blocking([&] { return ctx.access().denial(ctx.identity, repository, action); });
  if (!why) {
    co_await ctx.fail(why.error());
    co_return false;
  }
  co_await ctx.fail(ErrorCode::kDenied, "requested access to the resource is denied: " + *why);
  co_return false;
}

}  // namespace berth::api
