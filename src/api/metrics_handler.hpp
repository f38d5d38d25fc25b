// GET /metrics on the main listener: the Prometheus scrape (ApiServices::metrics renders it),
// for administrators only when access control is on: users and robots with the admin right,
// by Basic credentials or a token issued for registry:admin:*. Anonymous callers get 401 with
// a Basic challenge (what Prometheus' basic_auth answers), others 403 DENIED. With access
// control off it is open, as every endpoint is. The metrics listener (metrics.listen) serves
// the same text without any of this (server/metrics_listener.hpp).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/context.hpp"
#include "api/route.hpp"
#include "metrics/http_metrics.hpp"

namespace berth::api {

boost::asio::awaitable<void> serve_metrics(RequestContext& ctx);

// The route label of an endpoint (metrics/http_metrics.hpp). Paths no endpoint takes are the
// web UI's when it is on.
[[nodiscard]] metrics::RouteClass route_class(Endpoint endpoint, bool ui_enabled);

}  // namespace berth::api
