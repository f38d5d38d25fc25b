// /api/v1: the JSON admin API for scripts and the web UI. Projects and their members, users,
// robot accounts, and /api/v1/me. Callers authenticate with Basic credentials or a token
// from /token; rights are checked against the account (system administrator, project owner).
//
//   GET    /api/v1/me
//   GET    /api/v1/projects                      POST {"name","public"}
//   GET    /api/v1/projects/{p}                  PATCH {"public"}      DELETE
//   GET    /api/v1/projects/{p}/members
//   PUT    /api/v1/projects/{p}/members/{user}   {"role"}              DELETE
//   GET    /api/v1/projects/{p}/settings         PUT (project_policy_handlers.hpp)
//   GET    /api/v1/projects/{p}/usage
//   GET    /api/v1/projects/{p}/retention/preview   POST (a policy to try)
//   POST   /api/v1/projects/{p}/retention/run
//   GET    /api/v1/users                         POST {"name","password","admin"}
//   PATCH  /api/v1/users/{u}  {"password","admin"}                     DELETE
//   GET    /api/v1/robots                        POST {"name","description","projects":
//                                                     [{"project","role"}],"expires_in_days"}
//   POST   /api/v1/robots/{r}/revoke             DELETE /api/v1/robots/{r}
//   POST   /api/v1/gc  {"dry_run"}                  (system administrators; the report as JSON)
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/context.hpp"

namespace berth::api {

boost::asio::awaitable<void> serve_admin(RequestContext& ctx);

}  // namespace berth::api
