// The AccountStore over either database (sql_text.hpp): users, projects,
// members, robot accounts and refresh tokens in the tables of schema migration
// 2, on the database the MetadataStore uses.
//
// Existence checks and the writes they guard run in one write transaction (the
// Database's write(): SQLite's BEGIN IMMEDIATE, PostgreSQL's write lock,
// pg_database.hpp), so "create if absent" and "change if present" cannot race
// with another writer, in this process or another. Creates insert with ON
// CONFLICT DO NOTHING and report kConflict when no row went in; changes report
// kNotFound when no row matched. Every read is one SELECT, so a robot and its
// scopes come from one snapshot (a LEFT JOIN, not two queries). Internal to
// meta/: made by sqlite::make_account_store and pg::make_account_store.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "meta/account_store.hpp"
#include "meta/sql_outbox_store.hpp"
#include "meta/sql_rows.hpp"
#include "meta/sql_session_store.hpp"
#include "meta/sql_text.hpp"

namespace berth::meta::sql::account {

// ---- SQL (sql_text.hpp). "user" is quoted: a reserved word in PostgreSQL, an
// ordinary identifier, quoted or not, in SQLite.

inline constexpr Text kInsertUser = R"sql(
INSERT INTO users (name, password_hash, admin, created_at) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT DO NOTHING)sql";

inline constexpr Text kGetUser =
    "SELECT id, name, password_hash, admin, "
    "created_at FROM users WHERE name = ?1";

inline constexpr Text kListUsers =
    "SELECT id, name, password_hash, admin, "
    "created_at FROM users ORDER BY name";

inline constexpr Text kSetPassword = "UPDATE users SET password_hash = ?2 WHERE name = ?1";

inline constexpr Text kSetAdmin = "UPDATE users SET admin = ?2 WHERE name = ?1";

// Cascades to the user's memberships.
inline constexpr Text kDeleteUser = "DELETE FROM users WHERE name = ?1";

inline constexpr Text kDeleteMembershipsOf = "DELETE FROM members WHERE \"user\" = ?1";

inline constexpr Text kCountAdmins = "SELECT count(*) FROM users WHERE admin = 1";

inline constexpr Text kInsertProject = R"sql(
INSERT INTO projects (name, public, created_at) VALUES (?1, ?2, ?3)
ON CONFLICT DO NOTHING)sql";

inline constexpr Text kGetProject = "SELECT name, public, created_at FROM projects WHERE name = ?1";

inline constexpr Text kListProjects = "SELECT name, public, created_at FROM projects ORDER BY name";

inline constexpr Text kProjectExists = "SELECT 1 FROM projects WHERE name = ?1";

inline constexpr Text kSetProjectPublic = "UPDATE projects SET public = ?2 WHERE name = ?1";

// Cascades to the project's members and robot scopes.
inline constexpr Text kDeleteProject = "DELETE FROM projects WHERE name = ?1";

// The project's repositories: its name, or its name then "/" ('0' is the byte
// after '/'). Their manifests, tags, blob links and uploads go with them (ON
// DELETE CASCADE); the bytes are garbage collection's.
inline constexpr Text kDeleteProjectRepositories = R"sql(
DELETE FROM repositories WHERE name = ?1 OR (name >= ?1 || '/' AND name < ?1 || '0'))sql";

inline constexpr Text kUpsertMember = R"sql(
INSERT INTO members (project, "user", role) VALUES (?1, ?2, ?3)
ON CONFLICT (project, "user") DO UPDATE SET role = excluded.role)sql";

inline constexpr Text kDeleteMember = "DELETE FROM members WHERE project = ?1 AND \"user\" = ?2";

inline constexpr Text kListMembers =
    "SELECT project, \"user\", role FROM members WHERE project = ?1 ORDER BY "
    "\"user\"";

inline constexpr Text kMemberRole = "SELECT role FROM members WHERE project = ?1 AND \"user\" = ?2";

inline constexpr Text kMemberships =
    "SELECT project, \"user\", role FROM members WHERE \"user\" = ?1 ORDER BY "
    "project";

inline constexpr Text kRobotExists = "SELECT 1 FROM robots WHERE name = ?1";

// DO NOTHING without a target covers the token_hash UNIQUE constraint too.
inline constexpr Text kInsertRobot = R"sql(
INSERT INTO robots (name, description, token_hash, created_at, expires_at, last_used_at, revoked)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
ON CONFLICT DO NOTHING)sql";

inline constexpr Text kInsertRobotScope = R"sql(
INSERT INTO robot_scopes (robot, project, role) VALUES (?1, ?2, ?3)
ON CONFLICT (robot, project) DO UPDATE SET role = excluded.role)sql";

// The columns read_robot() expects, then the scope's project and role (NULL for
// a robot without scopes). A macro because only adjacent string literals
// concatenate at compile time.
// clang-format off
#define BERTH_ROBOT_COLUMNS                                                                                              \
  "SELECT r.name, r.description, r.token_hash, r.created_at, r.expires_at, r.last_used_at, r.revoked, s.project, s.role" \
  " FROM robots r"                                                                                                       \
  " LEFT"                                                                                                                \
  " JOIN robot_scopes s ON s.robot = r.name "
// clang-format on

inline constexpr Text kGetRobot = BERTH_ROBOT_COLUMNS "WHERE r.name = ?1 ORDER BY s.project";

inline constexpr Text kListRobots = BERTH_ROBOT_COLUMNS "ORDER BY r.name, s.project";

#undef BERTH_ROBOT_COLUMNS

inline constexpr Text kRevokeRobot = "UPDATE robots SET revoked = 1 WHERE name = ?1";

// Cascades to the robot's scopes.
inline constexpr Text kDeleteRobot = "DELETE FROM robots WHERE name = ?1";

inline constexpr Text kTouchRobot = "UPDATE robots SET last_used_at = ?2 WHERE name = ?1";

inline constexpr Text kInsertRefreshToken = R"sql(
INSERT INTO refresh_tokens (token_hash, subject, created_at, expires_at, revoked, account)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)
ON CONFLICT DO NOTHING)sql";

inline constexpr Text kGetRefreshToken = R"sql(
SELECT token_hash, subject, created_at, expires_at, revoked, account FROM refresh_tokens
WHERE token_hash = ?1)sql";

inline constexpr Text kRevokeRefreshToken =
    "UPDATE refresh_tokens SET revoked = 1 WHERE token_hash = ?1";

inline constexpr Text kRevokeRefreshTokensOf =
    "UPDATE refresh_tokens SET revoked = 1 WHERE subject = ?1";

inline constexpr Text kDeleteRefreshTokensOf = "DELETE FROM refresh_tokens WHERE subject = ?1";

inline constexpr Text kPurgeRefreshTokens = "DELETE FROM refresh_tokens WHERE expires_at < ?1";

// The latest unlock wins; an earlier one arriving late (clock skew between
// processes) must not bring back failures a later one lifted.
// clang-format off
#define BERTH_UNLOCK_LOGINS(d)                        \
  "INSERT INTO login_unlocks (\"user\", unlocked_at)" \
  " VALUES (?1, ?2)"                                  \
  " ON CONFLICT (\"user\")"                           \
  " DO"                                               \
  " UPDATE"                                           \
  " SET unlocked_at = "                               \
  BERTH_SQL_IN(BERTH_SQL_GREATEST, d)                 \
  "(login_unlocks.unlocked_at, excluded.unlocked_at)"
// clang-format on

inline constexpr Text kUnlockLogins{BERTH_SQL_BOTH(BERTH_UNLOCK_LOGINS)};

#undef BERTH_UNLOCK_LOGINS

inline constexpr Text kLoginsUnlockedAt =
    "SELECT unlocked_at FROM login_unlocks WHERE \"user\" = ?1";

// The account version (account_store.hpp): one row, the same schema on both databases
// (SQLite's migration 14, PostgreSQL's 8).
inline constexpr std::string_view kVersionSchema = R"sql(
CREATE TABLE account_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version BIGINT NOT NULL
);
INSERT INTO account_version (id, version) VALUES (1, 0);
)sql";

inline constexpr Text kBumpVersion = "UPDATE account_version SET version = version + 1";

inline constexpr Text kGetVersion = "SELECT version FROM account_version WHERE id = 1";

// ---- helpers

inline std::unexpected<core::Error> not_found(std::string what) {
  return core::fail(core::ErrorCode::kNotFound, std::move(what) + " does not exist");
}

inline std::unexpected<core::Error> exists(std::string what) {
  return core::fail(core::ErrorCode::kConflict, std::move(what) + " already exists");
}

inline std::string quoted(std::string_view kind, const std::string& name) {
  return std::string(kind) + " '" + name + "'";
}

// The subject a robot's refresh tokens are issued to (its user name, see
// Robot::name).
inline std::string robot_subject(const std::string& robot) { return "robot$" + robot; }

template <class Db>
[[nodiscard]] Result<Role> column_role(const typename Db::Statement& row, int column) {
  auto value = row.int64(column);
  if (value < static_cast<int>(Role::kReader) || value > static_cast<int>(Role::kOwner)) {
    return core::fail(
        core::ErrorCode::kInternal,
        std::string(Db::kName) + ": corrupt account data: role " + std::to_string(value));
  }
  return static_cast<Role>(value);
}

inline std::optional<std::int64_t> unix_ms(const std::optional<core::TimePoint>& time) {
  if (!time) {
    return std::nullopt;
  }
  return core::to_unix_ms(*time);
}

template <class Statement>
[[nodiscard]] Result<User> read_user(const Statement& row) {
  return User{.id = row.int64(0),
              .name = row.text(1),
              .password_hash = row.text(2),
              .admin = row.int64(3) != 0,
              .created = core::from_unix_ms(row.int64(4))};
}

template <class Statement>
[[nodiscard]] Result<Project> read_project(const Statement& row) {
  return Project{.name = row.text(0),
                 .is_public = row.int64(1) != 0,
                 .created = core::from_unix_ms(row.int64(2))};
}

template <class Db>
[[nodiscard]] Result<Member> read_member(const typename Db::Statement& row) {
  auto role = column_role<Db>(row, 2);
  if (!role) {
    return forward(role);
  }
  return Member{.project = row.text(0), .user = row.text(1), .role = *role};
}

template <class Statement>
[[nodiscard]] Result<RefreshToken> read_refresh_token(const Statement& row) {
  return RefreshToken{.token_hash = row.text(0),
                      .subject = row.text(1),
                      .created = core::from_unix_ms(row.int64(2)),
                      .expires = core::from_unix_ms(row.int64(3)),
                      .revoked = row.int64(4) != 0,
                      .account = row.is_null(5) ? std::string() : row.text(5)};
}

// Robots from rows of the robot columns joined with their scopes, ordered by
// robot name and then project, so each robot's rows are adjacent.
template <class Db>
[[nodiscard]] Result<std::vector<Robot>> read_robots(typename Db::Statement& statement) {
  std::vector<Robot> robots;
  while (true) {
    auto row = statement.step();
    if (!row) {
      return forward(row);
    }
    if (!*row) {
      return robots;
    }
    auto name = statement.text(0);
    if (robots.empty() || robots.back().name != name) {
      robots.push_back(Robot{.name = std::move(name),
                             .description = statement.text(1),
                             .token_hash = statement.text(2),
                             .scopes = {},
                             .created = core::from_unix_ms(statement.int64(3)),
                             .expires = time_or_null(statement, 4),
                             .last_used = time_or_null(statement, 5),
                             .revoked = statement.int64(6) != 0});
    }
    if (!statement.is_null(7)) {
      auto role = column_role<Db>(statement, 8);
      if (!role) {
        return forward(role);
      }
      robots.back().scopes.push_back(RobotScope{.project = statement.text(7), .role = *role});
    }
  }
}

// Runs an UPDATE or DELETE of one named thing; kNotFound if there was none.
template <class Connection, class... Args>
[[nodiscard]] Result<void> change_one(Connection& connection, std::string_view sql,
                                      std::string_view purpose, const std::string& what,
                                      const Args&... args) {
  auto changed = run_changed(connection, sql, purpose, args...);
  if (!changed) {
    return forward(changed);
  }
  if (!*changed) {
    return not_found(what);
  }
  return {};
}

// ---- the store

template <class Db>
class BasicAccountStore final : public AccountStore {
 public:
  using Connection = typename Db::Connection;
  using Statement = typename Db::Statement;

  explicit BasicAccountStore(std::shared_ptr<typename Db::Database> database)
      : database_(std::move(database)) {}

  // ---- users

  Result<void> create_user(const User& user) override {
    return change_accounts([&](Connection& connection) -> Result<void> {
      auto inserted = run_changed(connection, Db::sql(kInsertUser), "create user", user.name,
                                  user.password_hash, user.admin, core::to_unix_ms(user.created));
      if (!inserted) {
        return forward(inserted);
      }
      if (!*inserted) {
        return exists(quoted("user", user.name));
      }
      return {};
    });
  }

  Result<std::optional<User>> get_user(const std::string& name) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<User>> {
      auto statement = connection.query(Db::sql(kGetUser), "get user", name);
      if (!statement) {
        return forward(statement);
      }
      return first_row<User>(*statement, read_user<Statement>);
    });
  }

  Result<std::vector<User>> list_users() override {
    return database_->read([&](Connection& connection) -> Result<std::vector<User>> {
      auto statement = connection.query(Db::sql(kListUsers), "list users");
      if (!statement) {
        return forward(statement);
      }
      return all_rows<User>(*statement, read_user<Statement>);
    });
  }

  Result<void> set_password(const std::string& name, const std::string& password_hash) override {
    return change_accounts([&](Connection& connection) -> Result<void> {
      if (auto changed = change_one(connection, Db::sql(kSetPassword), "set password",
                                    quoted("user", name), name, password_hash);
          !changed) {
        return changed;
      }
      // Whoever knew the old password may hold refresh tokens and web UI
      // sessions; they must stop working with it.
      BERTH_TRY(run(connection, Db::sql(sessions::kDeleteOfUser), "end sessions", name));
      return run(connection, Db::sql(kRevokeRefreshTokensOf), "revoke refresh tokens", name);
    });
  }

  Result<void> set_admin(const std::string& name, bool admin) override {
    return change_accounts([&](Connection& connection) -> Result<void> {
      BERTH_TRY(change_one(connection, Db::sql(kSetAdmin), "set admin", quoted("user", name), name,
                           admin));
      // A session opened as an administrator ends with the flag (the UI it
      // shows was an administrator's).
      if (!admin) {
        return run(connection, Db::sql(sessions::kDeleteOfUser), "end sessions", name);
      }
      return {};
    });
  }

  Result<void> delete_user(const std::string& name) override {
    return change_accounts([&](Connection& connection) -> Result<void> {
      if (auto deleted = change_one(connection, Db::sql(kDeleteUser), "delete user",
                                    quoted("user", name), name);
          !deleted) {
        return deleted;
      }
      if (auto removed = run(connection, Db::sql(kDeleteMembershipsOf), "delete memberships", name);
          !removed) {
        return removed;
      }
      BERTH_TRY(run(connection, Db::sql(sessions::kDeleteOfUser), "end sessions", name));
      return run(connection, Db::sql(kDeleteRefreshTokensOf), "delete refresh tokens", name);
    });
  }

  Result<std::size_t> count_admins() override {
    return database_->read([&](Connection& connection) -> Result<std::size_t> {
      auto statement = connection.query(Db::sql(kCountAdmins), "count admins");
      if (!statement) {
        return forward(statement);
      }
      auto count = first_int64(*statement);
      if (!count) {
        return forward(count);
      }
      return static_cast<std::size_t>(count->value_or(0));
    });
  }

  // ---- projects

  Result<void> create_project(const Project& project) override {
    return change_accounts([&](Connection& connection) -> Result<void> {
      auto inserted =
          run_changed(connection, Db::sql(kInsertProject), "create project", project.name,
                      project.is_public, core::to_unix_ms(project.created));
      if (!inserted) {
        return forward(inserted);
      }
      if (!*inserted) {
        return exists(quoted("project", project.name));
      }
      return {};
    });
  }

  Result<std::optional<Project>> get_project(const std::string& name) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<Project>> {
      auto statement = connection.query(Db::sql(kGetProject), "get project", name);
      if (!statement) {
        return forward(statement);
      }
      return first_row<Project>(*statement, read_project<Statement>);
    });
  }

  Result<std::vector<Project>> list_projects() override {
    return database_->read([&](Connection& connection) -> Result<std::vector<Project>> {
      auto statement = connection.query(Db::sql(kListProjects), "list projects");
      if (!statement) {
        return forward(statement);
      }
      return all_rows<Project>(*statement, read_project<Statement>);
    });
  }

  Result<void> set_project_public(const std::string& name, bool is_public) override {
    return change_accounts([&](Connection& connection) {
      return change_one(connection, Db::sql(kSetProjectPublic), "set project visibility",
                        quoted("project", name), name, is_public);
    });
  }

  Result<void> delete_project(const std::string& name) override {
    return change_accounts([&](Connection& connection) -> Result<void> {
      if (auto deleted = change_one(connection, Db::sql(kDeleteProject), "delete project",
                                    quoted("project", name), name);
          !deleted) {
        return deleted;
      }
      // Left behind, the repositories and webhooks would be handed to whoever
      // creates the name next.
      BERTH_TRY(run(connection, Db::sql(kDeleteProjectRepositories),
                    "delete the project's repositories", name));
      return outbox::delete_project_webhooks<Db>(connection, name);
    });
  }

  // ---- members

  Result<void> set_member(const Member& member) override {
    return change_accounts([&](Connection& connection) -> Result<void> {
      // Checked first for a clear kNotFound; the foreign key would only say
      // "constraint failed". The user is not checked: htpasswd users are
      // members too.
      auto project =
          has_row(connection, Db::sql(kProjectExists), "look up project", member.project);
      if (!project) {
        return forward(project);
      }
      if (!*project) {
        return not_found(quoted("project", member.project));
      }
      return run(connection, Db::sql(kUpsertMember), "set member", member.project, member.user,
                 static_cast<int>(member.role));
    });
  }

  Result<void> remove_member(const std::string& project, const std::string& user) override {
    return change_accounts([&](Connection& connection) {
      return change_one(connection, Db::sql(kDeleteMember), "remove member",
                        "membership of user '" + user + "' in project '" + project + "'", project,
                        user);
    });
  }

  Result<std::vector<Member>> list_members(const std::string& project) override {
    return database_->read([&](Connection& connection) -> Result<std::vector<Member>> {
      auto statement = connection.query(Db::sql(kListMembers), "list members", project);
      if (!statement) {
        return forward(statement);
      }
      return all_rows<Member>(*statement, read_member<Db>);
    });
  }

  Result<std::optional<Role>> member_role(const std::string& project,
                                          const std::string& user) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<Role>> {
      auto statement = connection.query(Db::sql(kMemberRole), "look up member role", project, user);
      if (!statement) {
        return forward(statement);
      }
      return first_row<Role>(*statement,
                             [](const Statement& row) { return column_role<Db>(row, 0); });
    });
  }

  Result<std::vector<Member>> memberships(const std::string& user) override {
    return database_->read([&](Connection& connection) -> Result<std::vector<Member>> {
      auto statement = connection.query(Db::sql(kMemberships), "list memberships", user);
      if (!statement) {
        return forward(statement);
      }
      return all_rows<Member>(*statement, read_member<Db>);
    });
  }

  // ---- robot accounts

  Result<void> create_robot(const Robot& robot) override {
    return change_accounts([&](Connection& connection) -> Result<void> {
      auto existing = has_row(connection, Db::sql(kRobotExists), "look up robot", robot.name);
      if (!existing) {
        return forward(existing);
      }
      if (*existing) {
        return exists(quoted("robot", robot.name));
      }
      for (const RobotScope& scope : robot.scopes) {
        auto project =
            has_row(connection, Db::sql(kProjectExists), "look up project", scope.project);
        if (!project) {
          return forward(project);
        }
        if (!*project) {
          return not_found(quoted("project", scope.project));
        }
      }
      auto inserted =
          run_changed(connection, Db::sql(kInsertRobot), "create robot", robot.name,
                      robot.description, robot.token_hash, core::to_unix_ms(robot.created),
                      unix_ms(robot.expires), unix_ms(robot.last_used), robot.revoked);
      if (!inserted) {
        return forward(inserted);
      }
      if (!*inserted) {
        // The name is free (checked above), so the token hash is taken. Not
        // worth saying by whom: with 256-bit tokens this is a bug in the
        // caller, not bad luck.
        return core::fail(core::ErrorCode::kConflict,
                          "another robot already has the token of robot '" + robot.name + "'");
      }
      for (const RobotScope& scope : robot.scopes) {
        if (auto scoped = run(connection, Db::sql(kInsertRobotScope), "add robot scope", robot.name,
                              scope.project, static_cast<int>(scope.role));
            !scoped) {
          return scoped;
        }
      }
      return {};
    });
  }

  Result<std::optional<Robot>> get_robot(const std::string& name) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<Robot>> {
      auto statement = connection.query(Db::sql(kGetRobot), "get robot", name);
      if (!statement) {
        return forward(statement);
      }
      auto robots = read_robots<Db>(*statement);
      if (!robots) {
        return forward(robots);
      }
      if (robots->empty()) {
        return std::optional<Robot>();
      }
      return std::optional<Robot>(std::move(robots->front()));
    });
  }

  Result<std::vector<Robot>> list_robots() override {
    return database_->read([&](Connection& connection) -> Result<std::vector<Robot>> {
      auto statement = connection.query(Db::sql(kListRobots), "list robots");
      if (!statement) {
        return forward(statement);
      }
      return read_robots<Db>(*statement);
    });
  }

  Result<void> revoke_robot(const std::string& name) override {
    return change_accounts([&](Connection& connection) -> Result<void> {
      if (auto revoked = change_one(connection, Db::sql(kRevokeRobot), "revoke robot",
                                    quoted("robot", name), name);
          !revoked) {
        return revoked;
      }
      return run(connection, Db::sql(kRevokeRefreshTokensOf), "revoke refresh tokens",
                 robot_subject(name));
    });
  }

  Result<void> delete_robot(const std::string& name) override {
    return change_accounts([&](Connection& connection) -> Result<void> {
      if (auto deleted = change_one(connection, Db::sql(kDeleteRobot), "delete robot",
                                    quoted("robot", name), name);
          !deleted) {
        return deleted;
      }
      return run(connection, Db::sql(kDeleteRefreshTokensOf), "delete refresh tokens",
                 robot_subject(name));
    });
  }

  Result<void> touch_robot(const std::string& name, core::TimePoint now) override {
    return database_->write([&](Connection& connection) {
      return change_one(connection, Db::sql(kTouchRobot), "record robot use", quoted("robot", name),
                        name, core::to_unix_ms(now));
    });
  }

  // ---- refresh tokens

  Result<void> create_refresh_token(const RefreshToken& token) override {
    return database_->write([&](Connection& connection) -> Result<void> {
      const std::optional<std::string> account =
          token.account.empty() ? std::nullopt : std::optional(token.account);
      auto inserted = run_changed(connection, Db::sql(kInsertRefreshToken), "create refresh token",
                                  token.token_hash, token.subject, core::to_unix_ms(token.created),
                                  core::to_unix_ms(token.expires), token.revoked, account);
      if (!inserted) {
        return forward(inserted);
      }
      if (!*inserted) {
        // The hash is the secret's fingerprint: keep it out of messages and
        // logs.
        return core::fail(core::ErrorCode::kConflict, "refresh token already exists");
      }
      return {};
    });
  }

  Result<std::optional<RefreshToken>> get_refresh_token(const std::string& token_hash) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<RefreshToken>> {
      auto statement = connection.query(Db::sql(kGetRefreshToken), "get refresh token", token_hash);
      if (!statement) {
        return forward(statement);
      }
      return first_row<RefreshToken>(*statement, read_refresh_token<Statement>);
    });
  }

  Result<void> revoke_refresh_token(const std::string& token_hash) override {
    return database_->write([&](Connection& connection) {
      return change_one(connection, Db::sql(kRevokeRefreshToken), "revoke refresh token",
                        "refresh token", token_hash);
    });
  }

  Result<std::size_t> purge_refresh_tokens(core::TimePoint cutoff) override {
    return database_->write([&](Connection& connection) -> Result<std::size_t> {
      if (auto purged = run(connection, Db::sql(kPurgeRefreshTokens), "purge refresh tokens",
                            core::to_unix_ms(cutoff));
          !purged) {
        return forward(purged);
      }
      return static_cast<std::size_t>(connection.changes());
    });
  }

  // ---- login lockouts

  Result<void> unlock_logins(const std::string& user, core::TimePoint at) override {
    return change_accounts([&](Connection& connection) {
      return run(connection, Db::sql(kUnlockLogins), "unlock logins", user, core::to_unix_ms(at));
    });
  }

  Result<std::optional<core::TimePoint>> logins_unlocked_at(const std::string& user) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<core::TimePoint>> {
      auto statement = connection.query(Db::sql(kLoginsUnlockedAt), "look up login unlock", user);
      if (!statement) {
        return forward(statement);
      }
      return first_row<core::TimePoint>(*statement,
                                        [](const Statement& row) -> Result<core::TimePoint> {
                                          return core::from_unix_ms(row.int64(0));
                                        });
    });
  }

  // ---- the account version

  Result<std::int64_t> account_version() override {
    return database_->read([&](Connection& connection) -> Result<std::int64_t> {
      auto statement = connection.query(Db::sql(kGetVersion), "read the account version");
      if (!statement) {
        return forward(statement);
      }
      auto version = first_int64(*statement);
      if (!version) {
        return forward(version);
      }
      return version->value_or(0);
    });
  }

  std::uint64_t changes_committed() const override {
    return changes_.load(std::memory_order_acquire);
  }

 private:
  // A write that changes the account version: the row moves in the same transaction, and the
  // count of this handle's changes once it is committed (never before: a reader that saw the
  // new count must find the change in the database).
  template <class Change>
  Result<void> change_accounts(Change&& change) {
    auto written = database_->write([&](Connection& connection) -> Result<void> {
      BERTH_TRY(change(connection));
      return run(connection, Db::sql(kBumpVersion), "move the account version");
    });
    if (written) {
      changes_.fetch_add(1, std::memory_order_acq_rel);
    }
    return written;
  }

  std::shared_ptr<typename Db::Database> database_;
  std::atomic<std::uint64_t> changes_{0};
};

}  // namespace berth::meta::sql::account
