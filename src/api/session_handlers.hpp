// /api/v1/session: the web UI's sign-in (POST), what the UI needs to know at start (GET: is
// access control on, who is signed in, the CSRF token, the version) and sign-out (DELETE).
// The contract: the "Sessions" section of the README.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/context.hpp"

namespace berth::api {

boost::asio::awaitable<void> serve_session(RequestContext& ctx);

}  // namespace berth::api
