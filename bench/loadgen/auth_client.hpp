// Signing in to a registry with access control on, as clients do (the auth-* scenarios):
// - curl and scripts send Basic credentials with every request (basic_authorization);
// - docker, podman and containerd ask first: GET /v2/ answers 401 with a challenge, and for
//   `Bearer realm=...,service=...` they get a token for the repository's scope from the realm
//   with their credentials, then send the token with every request; for `Basic` they send the
//   credentials (sign_in does that);
// - a token is fetched again shortly before it expires (token_expiring).
// Credentials and tokens live on the Connection (Connection::set_authorization), so the
// registry operations of registry_client.hpp run unchanged with them.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>

#include "loadgen/registry_client.hpp"

namespace berth::bench {

struct Login {
  std::string user;
  std::string password;
};

// "Basic base64(user:password)".
std::string basic_authorization(const Login& login);

// GET /token (a path on this connection) ?service=...&scope=... with `login`'s Basic
// credentials; must answer 200 with a non-empty "token". Without `install` the token is only
// checked (the token issuance scenarios); with it, the connection sends it from now on, until
// a little before its "expires_in".
asio::awaitable<OpResult> fetch_token(RegistryClient& client, std::string_view realm_path,
                                      std::string_view service, std::string_view scope,
                                      const Login& login, bool install);

// The docker client's sign-in for `scope` ("repository:NAME:pull,push"): GET /v2/ without
// credentials must answer 401; a Bearer challenge is answered by fetch_token from its realm (on
// this connection: the realm's host is taken to be the registry's), a Basic one by sending the
// credentials from now on.
asio::awaitable<OpResult> sign_in(RegistryClient& client, const Login& login,
                                  std::string_view scope);

// Whether the connection's token expires within a few seconds (then sign_in again). Not a
// coroutine: it is asked before every request of the Bearer scenarios.
bool token_expiring(const Connection& connection);

// "repository:<repository>:<actions>"
std::string repository_scope(std::string_view repository, std::string_view actions);

}  // namespace berth::bench
