// Answers the web UI's paths (ui/site.hpp decides which paths those are and which file each
// gets) and everything else no endpoint took with 404.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/context.hpp"

namespace berth::api {

// For a request no registry or API endpoint matched.
boost::asio::awaitable<void> serve_ui(RequestContext& ctx);

}  // namespace berth::api
