// AccountStore: who may use the registry and how. Users (with bcrypt password hashes),
// projects (the first path component of repository names, each a logical registry),
// project members with a role, robot accounts with hashed tokens scoped to projects, and
// refresh tokens issued by the token service.
//
// Contract, for every implementation (checked by account_store_contract_test.cpp), as for
// MetadataStore: blocking, safe to call concurrently, one transaction per method, names
// compared byte for byte. Secrets are never stored: only hashes made by the auth layer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace berth::meta {

using core::Result;

// Ordered: each role can do everything the ones before it can.
enum class Role { kReader = 1, kWriter = 2, kMaintainer = 3, kOwner = 4 };

[[nodiscard]] std::string_view role_name(Role role);
[[nodiscard]] std::optional<Role> parse_role(std::string_view text);

// Every member has a default, so a designated initializer may name only what it sets.
struct User {
  // Given by the store when the user is created and never given again, even after the user
  // is deleted: tokens and sessions are bound to it, so a new account under an old name
  // inherits none of them. Ignored by create_user.
  std::int64_t id = 0;
  std::string name{};
  // A crypt(3) bcrypt hash ("$2b$..."), never a password.
  std::string password_hash{};
  bool admin = false;
  core::TimePoint created{};
};

struct Project {
  std::string name;
  // Anonymous callers may pull.
  bool is_public = false;
  core::TimePoint created;
};

struct Member {
  std::string project;
  std::string user;
  Role role = Role::kReader;
};

struct RobotScope {
  std::string project;
  Role role = Role::kReader;
};

struct Robot {
  // Unique; presented as the user name "robot$<name>".
  std::string name;
  std::string description;
  // SHA-256 (hex) of the token. Tokens carry 256 random bits, so a fast hash is enough: there
  // is nothing to brute-force, unlike a human password.
  std::string token_hash;
  std::vector<RobotScope> scopes;
  core::TimePoint created;
  std::optional<core::TimePoint> expires;
  std::optional<core::TimePoint> last_used;
  bool revoked = false;
};

struct RefreshToken {
  // SHA-256 (hex) of the token.
  std::string token_hash;
  // The user (or "robot$name") it was issued to.
  std::string subject;
  core::TimePoint created;
  core::TimePoint expires;
  bool revoked = false;
  // The account it was issued to (auth::Identity::account): a token of an account deleted
  // since, or whose credentials changed, names another. Empty for tokens issued before
  // accounts had ids (schema version 7), which name no account.
  std::string account{};
};

class AccountStore {
 public:
  virtual ~AccountStore() = default;

  // Errors of every method: creating a user, project or robot that exists is kConflict;
  // changing or deleting one that does not is kNotFound; database failures as in
  // MetadataStore.

  // ---- users
  [[nodiscard]] virtual Result<void> create_user(const User& user) = 0;
  [[nodiscard]] virtual Result<std::optional<User>> get_user(const std::string& name) = 0;
  [[nodiscard]] virtual Result<std::vector<User>> list_users() = 0;
  // Replaces the hash and revokes every refresh token of the user.
  [[nodiscard]] virtual Result<void> set_password(const std::string& name,
                                                  const std::string& password_hash) = 0;
  [[nodiscard]] virtual Result<void> set_admin(const std::string& name, bool admin) = 0;
  // Also removes memberships and refresh tokens.
  [[nodiscard]] virtual Result<void> delete_user(const std::string& name) = 0;
  [[nodiscard]] virtual Result<std::size_t> count_admins() = 0;

  // ---- projects
  [[nodiscard]] virtual Result<void> create_project(const Project& project) = 0;
  [[nodiscard]] virtual Result<std::optional<Project>> get_project(const std::string& name) = 0;
  [[nodiscard]] virtual Result<std::vector<Project>> list_projects() = 0;
  [[nodiscard]] virtual Result<void> set_project_public(const std::string& name,
                                                        bool is_public) = 0;
  // Removes the project's members and robot scopes, and its repositories with their tags,
  // manifests and blob links (the bytes are garbage collection's). A project recreated under
  // the same name starts empty, so its new owner inherits nothing.
  [[nodiscard]] virtual Result<void> delete_project(const std::string& name) = 0;

  // ---- members
  // Adds or changes the role. kNotFound if the project does not exist. The user is any name:
  // htpasswd users are members too, so checking that the user exists is the caller's job.
  [[nodiscard]] virtual Result<void> set_member(const Member& member) = 0;
  [[nodiscard]] virtual Result<void> remove_member(const std::string& project,
                                                   const std::string& user) = 0;
  [[nodiscard]] virtual Result<std::vector<Member>> list_members(const std::string& project) = 0;
  // The user's role in a project, if any.
  [[nodiscard]] virtual Result<std::optional<Role>> member_role(const std::string& project,
                                                                const std::string& user) = 0;
  // Every project where the user has a role (for filtering the catalog).
  [[nodiscard]] virtual Result<std::vector<Member>> memberships(const std::string& user) = 0;

  // ---- robot accounts
  [[nodiscard]] virtual Result<void> create_robot(const Robot& robot) = 0;
  [[nodiscard]] virtual Result<std::optional<Robot>> get_robot(const std::string& name) = 0;
  [[nodiscard]] virtual Result<std::vector<Robot>> list_robots() = 0;
  // Also revokes the refresh tokens issued to "robot$<name>", as set_password does for a user.
  [[nodiscard]] virtual Result<void> revoke_robot(const std::string& name) = 0;
  // Removes its scopes and the refresh tokens issued to "robot$<name>".
  [[nodiscard]] virtual Result<void> delete_robot(const std::string& name) = 0;
  // Records a successful use. Callers batch or throttle this; it is a write.
  [[nodiscard]] virtual Result<void> touch_robot(const std::string& name, core::TimePoint now) = 0;

  // ---- refresh tokens
  [[nodiscard]] virtual Result<void> create_refresh_token(const RefreshToken& token) = 0;
  [[nodiscard]] virtual Result<std::optional<RefreshToken>> get_refresh_token(
      const std::string& token_hash) = 0;
  [[nodiscard]] virtual Result<void> revoke_refresh_token(const std::string& token_hash) = 0;
  // Deletes tokens that expired before cutoff.
  [[nodiscard]] virtual Result<std::size_t> purge_refresh_tokens(core::TimePoint cutoff) = 0;

  // ---- login lockouts
  // The failed logins of a user name (any name: htpasswd users and names that do not exist
  // are locked out too) up to `at` stop counting (berth user unlock). Recorded here so that a
  // command run beside the server, or another server process, reaches every server's count.
  [[nodiscard]] virtual Result<void> unlock_logins(const std::string& user, core::TimePoint at) = 0;
  // The last such unlock of the user name, if any.
  [[nodiscard]] virtual Result<std::optional<core::TimePoint>> logins_unlocked_at(
      const std::string& user) = 0;

  // ---- the account version
  // One number for all accounts, moved in the same transaction as every change of who someone
  // is or what they may do: the user, project, member and robot changes above, and
  // unlock_logins; not touch_robot, not refresh tokens. The auth layer's caches hold what they
  // learnt for one version (auth/account_version.hpp). Reads the row.
  [[nodiscard]] virtual Result<std::int64_t> account_version() = 0;
  // How many such changes this handle has committed. Never blocks: a process sees its own
  // changes at once, without reading the version.
  [[nodiscard]] virtual std::uint64_t changes_committed() const = 0;
};

}  // namespace berth::meta
