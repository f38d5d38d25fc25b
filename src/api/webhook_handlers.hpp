// The webhook endpoints of the admin API (admin_handlers.cpp has authenticated the caller;
// rights are checked here: a project's webhooks and deliveries are its owners' and the
// administrators').
//
//   GET    /api/v1/projects/{p}/webhooks          the project's webhooks (secrets never shown)
//   POST   /api/v1/projects/{p}/webhooks          {"url","secret","events":[...],"format"} -> 201
//   DELETE /api/v1/projects/{p}/webhooks/{id}     204
//   GET    /api/v1/webhooks/deliveries?state=dead&project=p&n=100
//                                                 deliveries, newest first (project required
//                                                 unless an administrator asks; an owner sees
//                                                 the project webhooks' only)
//   POST   /api/v1/webhooks/deliveries/{id}/redeliver
//                                                 pending again, due now, same id -> 202
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <vector>

#include "api/context.hpp"

namespace berth::api {

// `rest`: the path after /api/v1/projects/{p}/ ("webhooks" and maybe an id).
boost::asio::awaitable<void> serve_project_webhooks(RequestContext& ctx, std::string project,
                                                    std::vector<std::string> rest);

// `parts`: the path after /api/v1/ ("webhooks", "deliveries", ...).
boost::asio::awaitable<void> serve_webhook_deliveries(RequestContext& ctx,
                                                      std::vector<std::string> parts);

}  // namespace berth::api
