// /api/v1/projects/{p}/...: a project's lifecycle settings, its usage and its retention
// policy's preview and run. Reached through the admin API (admin_handlers.cpp), which has
// authenticated the caller; rights are checked here: reading needs pull rights in the project
// (or system administrator), changing and running needs manage rights (its owner).
//
//   GET  /api/v1/projects/{p}/settings          the settings (lifecycle/project_settings.hpp)
//   PUT  /api/v1/projects/{p}/settings          replaces them whole (an owner's PUT keeps the
//                                               quota and immutable tags: administrators' rules)
//   GET  /api/v1/projects/{p}/usage             {"project","bytes","repositories","quota"}
//   GET  /api/v1/projects/{p}/retention/preview what the stored policy would delete now
//   POST /api/v1/projects/{p}/retention/preview the same for the policy in the body, unsaved
//   POST /api/v1/projects/{p}/retention/run     applies the stored policy; what it deleted
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <vector>

#include "api/context.hpp"

namespace berth::api {

// `rest` is the path after /api/v1/projects/{p}/, split at '/' ("settings", or "retention",
// "preview").
boost::asio::awaitable<void> serve_project_policy(RequestContext& ctx, std::string project,
                                                  std::vector<std::string> rest);

}  // namespace berth::api
