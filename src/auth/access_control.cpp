#include "auth/access_control.hpp"

#include <algorithm>

#include "auth/account_cache.hpp"
#include "core/names.hpp"

namespace berth::auth {
namespace {

bool role_allows(meta::Role role, Action action) {
  switch (action) {
    case Action::kPull:
      return role >= meta::Role::kReader;
    case Action::kPush:
      return role >= meta::Role::kWriter;
    case Action::kDelete:
      return role >= meta::Role::kMaintainer;
    case Action::kManage:
      return role >= meta::Role::kOwner;
  }
  return false;
}

constexpr Action kAllActions[] = {Action::kPull, Action::kPush, Action::kDelete, Action::kManage};

std::optional<Action> action_of(std::string_view name) {
  if (name == "pull") {
    return Action::kPull;
  }
  if (name == "push") {
    return Action::kPush;
  }
  if (name == "delete") {
    return Action::kDelete;
  }
  return std::nullopt;
}

}  // namespace

std::string_view action_name(Action action) {
  switch (action) {
    case Action::kPull:
      return "pull";
    case Action::kPush:
      return "push";
    case Action::kDelete:
      return "delete";
    case Action::kManage:
      return "manage";
  }
  return "?";
}

AccessControl::AccessControl(meta::AccountStore& accounts, const core::Clock& clock,
                             AccessControlOptions options, AccountCache* cache)
    : accounts_(accounts), clock_(clock), options_(options), cache_(cache) {}

core::Result<std::optional<meta::Role>> AccessControl::role_in(const Identity& identity,
                                                               std::string_view project) {
  switch (identity.kind) {
    case Identity::Kind::kAnonymous:
      return std::optional<meta::Role>();
    case Identity::Kind::kRobot:
      for (const auto& scope : identity.robot_scopes) {
        if (scope.project == project) {
          return std::optional<meta::Role>(scope.role);
        }
      }
      return std::optional<meta::Role>();
    case Identity::Kind::kUser:
      return accounts_.member_role(std::string(project), identity.name);
  }
  return std::optional<meta::Role>();
}

std::optional<bool> AccessControl::known(const Identity& identity, std::string_view project,
                                         Action action) {
  if (!options_.enabled || identity.admin) {
    return true;
  }
  if (cache_ == nullptr) {
    return std::nullopt;
  }
  return cache_->decision(identity, project, action);
}

core::Result<bool> AccessControl::may(const Identity& identity, std::string_view project,
                                      Action action) {
  if (!options_.enabled || identity.admin) {
    return true;
  }
  if (cache_ == nullptr) {
    return ask(identity, project, action);
  }
  if (auto decided = cache_->decision(identity, project, action)) {
    return *decided;
  }
  // Read before the store is asked: an answer that races with a change is kept as stale.
  const AccountEpoch epoch = cache_->epoch();
  auto decided = ask(identity, project, action);
  if (decided) {
    cache_->remember_decision(epoch, identity, project, action, *decided);
  }
  return decided;
}

core::Result<bool> AccessControl::ask(const Identity& identity, std::string_view project,
                                      Action action) {
  auto found = accounts_.get_project(std::string(project));
  if (!found) {
    return std::unexpected(found.error());
  }
  if (!*found) {
    // What its creator would get in it, empty: skopeo and podman HEAD a blob before they push,
    // and a 403 there ends the push. Writing first makes the project (ensure_project).
    return action != Action::kManage && may_create_projects(identity);
  }
  if (action == Action::kPull && (*found)->is_public) {
    return true;
  }
  auto role = role_in(identity, project);
  if (!role) {
    return std::unexpected(role.error());
  }
  return *role && role_allows(**role, action);
}

core::Result<std::vector<std::string>> AccessControl::pullable(
    const Identity& identity, const std::vector<meta::Project>& projects) {
  std::vector<std::string> out;
  std::vector<std::string> member_of;
  if (options_.enabled && !identity.admin && identity.kind == Identity::Kind::kUser) {
    auto memberships = accounts_.memberships(identity.name);
    if (!memberships) {
      return std::unexpected(memberships.error());
    }
    for (const auto& member : *memberships) {
      member_of.push_back(member.project);
    }
  } else if (identity.kind == Identity::Kind::kRobot) {
    for (const auto& scope : identity.robot_scopes) {
      member_of.push_back(scope.project);
    }
  }
  for (const auto& project : projects) {
    // Every role may pull (role_allows): a role in the project is enough.
    const bool member =
        std::find(member_of.begin(), member_of.end(), project.name) != member_of.end();
    if (!options_.enabled || identity.admin || project.is_public || member) {
      out.push_back(project.name);
    }
  }
  return out;
}

core::Result<std::vector<Action>> AccessControl::allowed(const Identity& identity,
                                                         std::string_view project) {
  std::vector<Action> actions;
  for (Action action : kAllActions) {
    auto ok = may(identity, project, action);
    if (!ok) {
      return std::unexpected(ok.error());
    }
    if (*ok) {
      actions.push_back(action);
    }
  }
  return actions;
}

core::Result<std::vector<Access>> AccessControl::grant(const Identity& identity,
                                                       const std::vector<Access>& requested) {
  std::vector<Access> granted;
  for (const auto& want : requested) {
    if (want.type == "registry") {
      if (want.name == "catalog") {
        granted.push_back(Access{"registry", "catalog", {"*"}});
      } else if (want.name == "admin" && !identity.anonymous()) {
        // Lets the token reach /api/v1 at all; each admin call still checks the account.
        granted.push_back(Access{"registry", "admin", {"*"}});
      }
      continue;
    }
    if (want.type != "repository") {
      continue;
    }
    auto project = core::project_of(want.name);
    Access give{want.type, want.name, {}};
    for (const auto& action_text : want.actions) {
      std::vector<std::string> names;
      if (action_text == "*") {
        names = {"pull", "push", "delete"};
      } else {
        names = {action_text};
      }
      for (const auto& name : names) {
        auto action = action_of(name);
        if (!action) {
          continue;
        }
        auto ok = may(identity, project, *action);
        if (!ok) {
          return std::unexpected(ok.error());
        }
        if (*ok &&
            std::find(give.actions.begin(), give.actions.end(), name) == give.actions.end()) {
          give.actions.push_back(name);
        }
      }
    }
    // A creator of a new project will be its owner: pulling what it pushes must work too.
    if (std::find(give.actions.begin(), give.actions.end(), "push") != give.actions.end() &&
        std::find(give.actions.begin(), give.actions.end(), "pull") == give.actions.end() &&
        std::find(want.actions.begin(), want.actions.end(), "pull") != want.actions.end()) {
      give.actions.push_back("pull");
    }
    std::sort(give.actions.begin(), give.actions.end());
    if (!give.actions.empty()) {
      granted.push_back(std::move(give));
    }
  }
  return granted;
}

bool AccessControl::may_create_projects(const Identity& identity) const {
  switch (options_.create_projects_on_push) {
    case ProjectCreation::kAdmins:
      return identity.admin;
    case ProjectCreation::kUsers:
      return identity.admin || identity.kind == Identity::Kind::kUser;
    case ProjectCreation::kNobody:
      return false;
  }
  return false;
}

std::string AccessControl::cannot_create(const Identity& identity, std::string_view project) const {
  const std::string name(project);
  const std::string create = "an administrator creates it with `berth project create " + name +
                             "` or POST /api/v1/projects";
  std::string text = "project '" + name + "' does not exist, and ";
  switch (options_.create_projects_on_push) {
    case ProjectCreation::kAdmins:
      return text + "only administrators create projects by pushing here; " + create;
    case ProjectCreation::kUsers:
      if (identity.kind == Identity::Kind::kRobot) {
        return text + "robot accounts do not create projects (signed-in users do, by pushing); " +
               create;
      }
      return text + "only signed-in users create projects by pushing; " + create;
    case ProjectCreation::kNobody:
      return text + "pushing creates no projects here; " + create;
  }
  return text + create;
}

core::Result<std::string> AccessControl::denial(const Identity& identity,
                                                std::string_view repository, Action action) {
  std::string text = identity.name + " may not " + std::string(action_name(action)) + " " +
                     std::string(repository);
  if (action != Action::kPush) {
    return text;
  }
  const auto project = core::project_of(repository);
  auto found = accounts_.get_project(std::string(project));
  if (!found) {
    return std::unexpected(found.error());
  }
  if (*found) {
    return text;
  }
  return text + ": " + cannot_create(identity, project);
}

core::Result<void> AccessControl::ensure_project(const Identity& identity,
                                                 std::string_view project) {
  auto found = accounts_.get_project(std::string(project));
  if (!found) {
    return std::unexpected(found.error());
  }
  if (*found) {
    return {};
  }
  if (options_.enabled && !may_create_projects(identity)) {
    return core::fail(core::ErrorCode::kDenied, cannot_create(identity, project));
  }
  auto created = accounts_.create_project(meta::Project{std::string(project), false, clock_.now()});
  if (!created && created.error().code != core::ErrorCode::kConflict) {
    return created;  // kConflict: created by a concurrent push, which is fine
  }
  if (created && options_.enabled && identity.kind == Identity::Kind::kUser && !identity.admin) {
    return accounts_.set_member(
        meta::Member{std::string(project), identity.name, meta::Role::kOwner});
  }
  return {};
}

}  // namespace berth::auth
