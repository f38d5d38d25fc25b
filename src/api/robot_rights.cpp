#include "api/robot_rights.hpp"

namespace berth::api {

core::Result<std::map<std::string, meta::Role>> robot_manager_roles(RequestContext& ctx) {
  std::map<std::string, meta::Role> out;
  if (ctx.identity.kind != auth::Identity::Kind::kUser) {
    return out;
  }
  auto memberships = ctx.services().accounts.memberships(ctx.identity.name);
  if (!memberships) {
    return std::unexpected(memberships.error());
  }
  for (const auto& member : *memberships) {
    if (member.role >= meta::Role::kMaintainer) {
      out.emplace(member.project, member.role);
    }
  }
  return out;
}

bool may_manage_robot(const std::map<std::string, meta::Role>& roles,
                      const std::vector<meta::RobotScope>& scopes) {
  if (scopes.empty()) {
    return false;
  }
  for (const auto& scope : scopes) {
    auto it = roles.find(scope.project);
    if (it == roles.end() || scope.role > it->second) {
      return false;
    }
  }
  return true;
}

}  // namespace berth::api
