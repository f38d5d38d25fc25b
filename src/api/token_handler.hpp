// /token: the token endpoint of the Docker token protocol (distribution/docs/spec/auth).
//   GET  /token?service=&scope=...&offline_token=true   Basic credentials or none (anonymous)
//   POST /token  grant_type=password | refresh_token      OAuth2 form (docker login's refresh)
// The token grants the requested scopes intersected with what the caller may do.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/context.hpp"

namespace berth::api {

boost::asio::awaitable<void> serve_token(RequestContext& ctx);

}  // namespace berth::api
