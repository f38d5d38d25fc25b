// The access-control gate in front of the registry endpoints: who is asking (Authorization
// header: none, Basic, or a Bearer token from /token) and whether they may do what the
// endpoint does. Refusals follow the Docker token protocol: a caller that could get the access
// by (re)authenticating gets 401 with a WWW-Authenticate Bearer challenge naming the scope;
// an authenticated caller who may not do it gets 403 DENIED.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "api/context.hpp"
#include "auth/access_control.hpp"
#include "auth/token_service.hpp"

namespace berth::api {

// Reads the Authorization header into ctx.identity and ctx.token. On bad credentials
// (or too many failures) it answers 401 / 429 and returns false; the 401's challenge names
// `scope`, what the request needs, so the client knows what to ask for. With access control
// off it accepts everything as anonymous.
boost::asio::awaitable<bool> authenticate(RequestContext& ctx, const std::string& scope = {});

// Who a user name and password (Basic credentials, a /token request's) are: from the
// credential cache without a pool round trip when it knows them, else checked on the password
// pool (Authenticator::login).
boost::asio::awaitable<core::Result<auth::Identity>> sign_in(RequestContext& ctx,
                                                             const std::string& user,
                                                             const std::string& password);

// TokenService::verify, through the verified-token cache when the server has one.
[[nodiscard]] core::Result<std::shared_ptr<const auth::TokenClaims>> verify_token(
    RequestContext& ctx, std::string_view token);

// The scope a request for `action` on `repository` needs: "repository:name:pull" (push asks
// for pull,push, as Distribution's clients expect).
std::string challenge_scope(std::string_view repository, auth::Action action);

// Whether the authenticated caller may do `action` on `repository`: the identity's rights,
// and for a token also the token's grant. Does not answer.
boost::asio::awaitable<bool> permitted(RequestContext& ctx, std::string_view repository,
                                       auth::Action action);

// permitted(), answering the refusal (401 challenge or 403) when not.
boost::asio::awaitable<bool> authorize(RequestContext& ctx, std::string_view repository,
                                       auth::Action action);

// Answers 401 with a Bearer challenge for `scope` (empty: none).
boost::asio::awaitable<void> challenge(RequestContext& ctx, const std::string& scope,
                                       bool insufficient_scope, std::string message);

// The token endpoint URL for challenges.
std::string token_realm(RequestContext& ctx);

}  // namespace berth::api
