// Who may do what. A repository belongs to a project, its first path component; a caller's
// rights in a project come from being a system administrator, a member with a role, a robot
// scoped to it, or (for pull) the project being public.
//
//   role        pull  push  delete  manage (members, settings)
//   reader       x
//   writer       x     x
//   maintainer   x     x     x
//   owner        x     x     x       x
//
// With access control off (the zero-configuration default, like Distribution without auth),
// everyone may do everything. All methods but known() block on the account store: call them
// from the blocking pool. With an account cache, may() remembers its answers for one account
// version (account_cache.hpp) and known() answers from them without blocking.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/identity.hpp"
#include "auth/scope.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "meta/account_store.hpp"

namespace berth::auth {

enum class Action { kPull, kPush, kDelete, kManage };

[[nodiscard]] std::string_view action_name(Action action);

// Who creates a project by pushing into one that does not exist.
enum class ProjectCreation { kAdmins, kUsers, kNobody };

struct AccessControlOptions {
  bool enabled = false;
  ProjectCreation create_projects_on_push = ProjectCreation::kAdmins;
};

class AccountCache;

class AccessControl {
 public:
  // cache may be null (every may() asks the store); it must outlive this.
  AccessControl(meta::AccountStore& accounts, const core::Clock& clock,
                AccessControlOptions options, AccountCache* cache = nullptr);

  bool enabled() const { return options_.enabled; }

  // may(identity, project, action), if it needs no store or the cache knows it. Never blocks.
  [[nodiscard]] std::optional<bool> known(const Identity& identity, std::string_view project,
                                          Action action);

  // Whether identity may do action in project. In a project that does not exist, a caller who
  // may create it by pushing may pull, push and delete as its owner-to-be (and finds it empty:
  // clients probe for blobs before they push), everyone else nothing.
  [[nodiscard]] core::Result<bool> may(const Identity& identity, std::string_view project,
                                       Action action);
  // Why an authenticated caller may not do action on repository (after may() said no), for the
  // 403 DENIED: "alice may not push team/app", and for a push into a project that does not
  // exist, that it does not and who may create it.
  [[nodiscard]] core::Result<std::string> denial(const Identity& identity,
                                                 std::string_view repository, Action action);
  // The names of those `projects` identity may pull from, asking the account store once for
  // all (what a listing or a search shows each caller).
  [[nodiscard]] core::Result<std::vector<std::string>> pullable(
      const Identity& identity, const std::vector<meta::Project>& projects);
  // Every action identity may do in project.
  [[nodiscard]] core::Result<std::vector<Action>> allowed(const Identity& identity,
                                                          std::string_view project);
  // The token service's rule: what was asked for, intersected with what the caller may do.
  // Repository scopes of a project that does not exist grant push (and pull) when the
  // caller may create it by pushing. "registry:catalog:*" is granted to everyone: the
  // catalog itself shows each caller only what it may pull.
  [[nodiscard]] core::Result<std::vector<Access>> grant(const Identity& identity,
                                                        const std::vector<Access>& requested);
  // Called before the first write into a project: creates it (with a user creator as its
  // owner) when it does not exist and the caller may create projects. DENIED otherwise.
  [[nodiscard]] core::Result<void> ensure_project(const Identity& identity,
                                                  std::string_view project);

 private:
  // may() as the store answers it.
  [[nodiscard]] core::Result<bool> ask(const Identity& identity, std::string_view project,
                                       Action action);
  [[nodiscard]] core::Result<std::optional<meta::Role>> role_in(const Identity& identity,
                                                                std::string_view project);
  bool may_create_projects(const Identity& identity) const;
  // "project 'x' does not exist, and ..." who may create it, for a caller who may not.
  std::string cannot_create(const Identity& identity, std::string_view project) const;

  meta::AccountStore& accounts_;
  const core::Clock& clock_;
  AccessControlOptions options_;
  AccountCache* cache_;
};

}  // namespace berth::auth
