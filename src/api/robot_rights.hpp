// Who may manage which robot accounts through /api/v1/robots. System administrators manage
// all of them. A project's maintainers and owners manage the robots of their projects: they
// list those scoped to a project of theirs (GET /api/v1/robots?project=p, with only that
// project's scope shown), and create, revoke and delete robots whose every scope is in a project
// where they are maintainer or owner, granting no role above their own there (a maintainer
// cannot make an owner robot, nor one of another project).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "api/context.hpp"
#include "meta/account_store.hpp"

namespace berth::api {

// The projects where the caller, a user, is maintainer or owner, with that role; empty for
// robots and anonymous callers. Blocking.
[[nodiscard]] core::Result<std::map<std::string, meta::Role>> robot_manager_roles(
    RequestContext& ctx);

// Whether a robot with these scopes is the caller's to manage (see the top).
[[nodiscard]] bool may_manage_robot(const std::map<std::string, meta::Role>& roles,
                                    const std::vector<meta::RobotScope>& scopes);

}  // namespace berth::api
