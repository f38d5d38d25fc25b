// The AccountStore on PostgreSQL: the statements of sqlite_account_store.cpp (which explains
// them) in PostgreSQL's dialect, on the pool of pg_database.hpp, whose write lock gives
// its check-then-write transactions the single writer they rely on, across replicas.
#include "meta/pg_account_store.hpp"

#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"

namespace berth::meta::pg {
namespace {

using core::ErrorCode;
using Statement = Rows;

// ---- SQL. Every statement here is prepared once per connection and cached.

constexpr std::string_view kInsertUser = R"sql(
INSERT INTO users (name, password_hash, admin, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING)sql";

constexpr std::string_view kGetUser =
    "SELECT id, name, password_hash, admin, created_at FROM users WHERE name = $1";

constexpr std::string_view kListUsers =
    "SELECT id, name, password_hash, admin, created_at FROM users ORDER BY name";

constexpr std::string_view kSetPassword = "UPDATE users SET password_hash = $2 WHERE name = $1";

constexpr std::string_view kSetAdmin = "UPDATE users SET admin = $2 WHERE name = $1";

// Cascades to the user's memberships.
constexpr std::string_view kDeleteUser = "DELETE FROM users WHERE name = $1";

constexpr std::string_view kDeleteMembershipsOf = "DELETE FROM members WHERE \"user\" = $1";

constexpr std::string_view kCountAdmins = "SELECT count(*) FROM users WHERE admin = 1";

constexpr std::string_view kInsertProject = R"sql(
INSERT INTO projects (name, public, created_at) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING)sql";

constexpr std::string_view kGetProject =
    "SELECT name, public, created_at FROM projects WHERE name = $1";

constexpr std::string_view kListProjects =
    "SELECT name, public, created_at FROM projects ORDER BY name";

constexpr std::string_view kProjectExists = "SELECT 1 FROM projects WHERE name = $1";

constexpr std::string_view kSetProjectPublic = "UPDATE projects SET public = $2 WHERE name = $1";

// Cascades to the project's members and robot scopes.
constexpr std::string_view kDeleteProject = "DELETE FROM projects WHERE name = $1";

// The project's repositories: its name, or its name then "/" ('0' is the byte after '/').
// Their manifests, tags, blob links and uploads go with them (ON DELETE CASCADE); the bytes
// are garbage collection's.
constexpr std::string_view kDeleteProjectRepositories = R"sql(
DELETE FROM repositories WHERE name = $1 OR (name >= $1 || '/' AND name < $1 || '0'))sql";

constexpr std::string_view kUpsertMember = R"sql(
INSERT INTO members (project, "user", role) VALUES ($1, $2, $3)
ON CONFLICT (project, "user") DO UPDATE SET role = excluded.role)sql";

constexpr std::string_view kDeleteMember =
    "DELETE FROM members WHERE project = $1 AND \"user\" = $2";

constexpr std::string_view kListMembers =
    "SELECT project, \"user\", role FROM members WHERE project = $1 ORDER BY \"user\"";

constexpr std::string_view kMemberRole =
    "SELECT role FROM members WHERE project = $1 AND \"user\" = $2";

constexpr std::string_view kMemberships =
    "SELECT project, \"user\", role FROM members WHERE \"user\" = $1 ORDER BY project";

constexpr std::string_view kRobotExists = "SELECT 1 FROM robots WHERE name = $1";

// DO NOTHING without a target covers the token_hash UNIQUE constraint too.
constexpr std::string_view kInsertRobot = R"sql(
INSERT INTO robots (name, description, token_hash, created_at, expires_at, last_used_at, revoked)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT DO NOTHING)sql";

constexpr std::string_view kInsertRobotScope = R"sql(
INSERT INTO robot_scopes (robot, project, role) VALUES ($1, $2, $3)
ON CONFLICT (robot, project) DO UPDATE SET role = excluded.role)sql";

// The columns read_robot() expects, then the scope's project and role (NULL for a robot
// without scopes). A macro because only adjacent string literals concatenate at compile time.
#define BERTH_ROBOT_COLUMNS                                                                  \
  "SELECT r.name, r.description, r.token_hash, r.created_at, r.expires_at, r.last_used_at, " \
  "r.revoked, s.project, s.role FROM robots r LEFT JOIN robot_scopes s ON s.robot = r.name "

constexpr std::string_view kGetRobot = BERTH_ROBOT_COLUMNS "WHERE r.name = $1 ORDER BY s.project";

constexpr std::string_view kListRobots = BERTH_ROBOT_COLUMNS "ORDER BY r.name, s.project";

#undef BERTH_ROBOT_COLUMNS

constexpr std::string_view kRevokeRobot = "UPDATE robots SET revoked = 1 WHERE name = $1";

// Cascades to the robot's scopes.
constexpr std::string_view kDeleteRobot = "DELETE FROM robots WHERE name = $1";

constexpr std::string_view kTouchRobot = "UPDATE robots SET last_used_at = $2 WHERE name = $1";

constexpr std::string_view kInsertRefreshToken = R"sql(
INSERT INTO refresh_tokens (token_hash, subject, created_at, expires_at, revoked, account)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING)sql";

constexpr std::string_view kGetRefreshToken = R"sql(
SELECT token_hash, subject, created_at, expires_at, revoked, account FROM refresh_tokens
WHERE token_hash = $1)sql";

constexpr std::string_view kRevokeRefreshToken =
    "UPDATE refresh_tokens SET revoked = 1 WHERE token_hash = $1";

constexpr std::string_view kRevokeRefreshTokensOf =
    "UPDATE refresh_tokens SET revoked = 1 WHERE subject = $1";

constexpr std::string_view kDeleteRefreshTokensOf = "DELETE FROM refresh_tokens WHERE subject = $1";

constexpr std::string_view kPurgeRefreshTokens = "DELETE FROM refresh_tokens WHERE expires_at < $1";

// The latest unlock wins; an earlier one arriving late (clock skew between processes) must not
// bring back failures a later one lifted.
constexpr std::string_view kUnlockLogins = R"sql(
INSERT INTO login_unlocks ("user", unlocked_at) VALUES ($1, $2)
ON CONFLICT ("user") DO UPDATE SET unlocked_at = GREATEST(login_unlocks.unlocked_at, excluded.unlocked_at))sql";

constexpr std::string_view kLoginsUnlockedAt =
    "SELECT unlocked_at FROM login_unlocks WHERE \"user\" = $1";

// ---- helpers

std::unexpected<core::Error> not_found(std::string what) {
  return core::fail(ErrorCode::kNotFound, std::move(what) + " does not exist");
}

std::unexpected<core::Error> exists(std::string what) {
  return core::fail(ErrorCode::kConflict, std::move(what) + " already exists");
}

std::string quoted(std::string_view kind, const std::string& name) {
  return std::string(kind) + " '" + name + "'";
}

// The subject a robot's refresh tokens are issued to (its user name, see Robot::name).
std::string robot_subject(const std::string& robot) { return "robot$" + robot; }

[[nodiscard]] Result<Role> column_role(const Statement& row, int column) {
  auto value = row.int64(column);
  if (value < static_cast<int>(Role::kReader) || value > static_cast<int>(Role::kOwner)) {
    return core::fail(ErrorCode::kInternal,
                      "postgres: corrupt account data: role " + std::to_string(value));
  }
  return static_cast<Role>(value);
}

std::optional<core::TimePoint> column_time(const Statement& row, int column) {
  if (row.is_null(column)) {
    return std::nullopt;
  }
  return core::from_unix_ms(row.int64(column));
}

std::optional<std::int64_t> unix_ms(const std::optional<core::TimePoint>& time) {
  if (!time) {
    return std::nullopt;
  }
  return core::to_unix_ms(*time);
}

// Whether a query keyed by name found a row.
template <class... Args>
[[nodiscard]] Result<bool> found(Connection& connection, std::string_view sql,
                                 std::string_view purpose, const Args&... args) {
  auto statement = connection.query(sql, purpose, args...);
  if (!statement) {
    return forward(statement);
  }
  return statement->step();
}

[[nodiscard]] Result<User> read_user(const Statement& row) {
  return User{.id = row.int64(0),
              .name = row.text(1),
              .password_hash = row.text(2),
              .admin = row.int64(3) != 0,
              .created = core::from_unix_ms(row.int64(4))};
}

[[nodiscard]] Result<Project> read_project(const Statement& row) {
  return Project{.name = row.text(0),
                 .is_public = row.int64(1) != 0,
                 .created = core::from_unix_ms(row.int64(2))};
}

[[nodiscard]] Result<Member> read_member(const Statement& row) {
  auto role = column_role(row, 2);
  if (!role) {
    return forward(role);
  }
  return Member{.project = row.text(0), .user = row.text(1), .role = *role};
}

[[nodiscard]] Result<RefreshToken> read_refresh_token(const Statement& row) {
  return RefreshToken{.token_hash = row.text(0),
                      .subject = row.text(1),
                      .created = core::from_unix_ms(row.int64(2)),
                      .expires = core::from_unix_ms(row.int64(3)),
                      .revoked = row.int64(4) != 0,
                      .account = row.is_null(5) ? std::string() : row.text(5)};
}

// Robots from rows of the robot columns joined with their scopes, ordered by robot name and
// then project, so each robot's rows are adjacent.
[[nodiscard]] Result<std::vector<Robot>> read_robots(Statement& statement) {
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
                             .expires = column_time(statement, 4),
                             .last_used = column_time(statement, 5),
                             .revoked = statement.int64(6) != 0});
    }
    if (!statement.is_null(7)) {
      auto role = column_role(statement, 8);
      if (!role) {
        return forward(role);
      }
      robots.back().scopes.push_back(RobotScope{.project = statement.text(7), .role = *role});
    }
  }
}

// Runs an UPDATE or DELETE of one named thing; kNotFound if there was none.
template <class... Args>
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

class PgAccountStore final : public AccountStore {
 public:
  explicit PgAccountStore(std::shared_ptr<Database> database) : database_(std::move(database)) {}

  // ---- users

  Result<void> create_user(const User& user) override {
    return database_->write([&](Connection& connection) -> Result<void> {
      auto inserted = run_changed(connection, kInsertUser, "create user", user.name,
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
      auto statement = connection.query(kGetUser, "get user", name);
      if (!statement) {
        return forward(statement);
      }
      return first_row<User>(*statement, read_user);
    });
  }

  Result<std::vector<User>> list_users() override {
    return database_->read([&](Connection& connection) -> Result<std::vector<User>> {
      auto statement = connection.query(kListUsers, "list users");
      if (!statement) {
        return forward(statement);
      }
      return all_rows<User>(*statement, read_user);
    });
  }

  Result<void> set_password(const std::string& name, const std::string& password_hash) override {
    return database_->write([&](Connection& connection) -> Result<void> {
      if (auto changed = change_one(connection, kSetPassword, "set password", quoted("user", name),
                                    name, password_hash);
          !changed) {
        return changed;
      }
      // Whoever knew the old password may hold refresh tokens; they must stop working with it.
      return run(connection, kRevokeRefreshTokensOf, "revoke refresh tokens", name);
    });
  }

  Result<void> set_admin(const std::string& name, bool admin) override {
    return database_->write([&](Connection& connection) {
      return change_one(connection, kSetAdmin, "set admin", quoted("user", name), name, admin);
    });
  }

  Result<void> delete_user(const std::string& name) override {
    return database_->write([&](Connection& connection) -> Result<void> {
      if (auto deleted =
              change_one(connection, kDeleteUser, "delete user", quoted("user", name), name);
          !deleted) {
        return deleted;
      }
      if (auto removed = run(connection, kDeleteMembershipsOf, "delete memberships", name);
          !removed) {
        return removed;
      }
      return run(connection, kDeleteRefreshTokensOf, "delete refresh tokens", name);
    });
  }

  Result<std::size_t> count_admins() override {
    return database_->read([&](Connection& connection) -> Result<std::size_t> {
      auto statement = connection.query(kCountAdmins, "count admins");
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
    return database_->write([&](Connection& connection) -> Result<void> {
      auto inserted = run_changed(connection, kInsertProject, "create project", project.name,
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
      auto statement = connection.query(kGetProject, "get project", name);
      if (!statement) {
        return forward(statement);
      }
      return first_row<Project>(*statement, read_project);
    });
  }

  Result<std::vector<Project>> list_projects() override {
    return database_->read([&](Connection& connection) -> Result<std::vector<Project>> {
      auto statement = connection.query(kListProjects, "list projects");
      if (!statement) {
        return forward(statement);
      }
      return all_rows<Project>(*statement, read_project);
    });
  }

  Result<void> set_project_public(const std::string& name, bool is_public) override {
    return database_->write([&](Connection& connection) {
      return change_one(connection, kSetProjectPublic, "set project visibility",
                        quoted("project", name), name, is_public);
    });
  }

  Result<void> delete_project(const std::string& name) override {
    return database_->write([&](Connection& connection) -> Result<void> {
      if (auto deleted = change_one(connection, kDeleteProject, "delete project",
                                    quoted("project", name), name);
          !deleted) {
        return deleted;
      }
      // Left behind, the repositories would be handed to whoever creates the name next.
      return run(connection, kDeleteProjectRepositories, "delete the project's repositories", name);
    });
  }

  // ---- members

  Result<void> set_member(const Member& member) override {
    return database_->write([&](Connection& connection) -> Result<void> {
      // Checked first for a clear kNotFound; the foreign key would only say "constraint failed".
      // The user is not checked: htpasswd users are members too.
      auto project = found(connection, kProjectExists, "look up project", member.project);
      if (!project) {
        return forward(project);
      }
      if (!*project) {
        return not_found(quoted("project", member.project));
      }
      return run(connection, kUpsertMember, "set member", member.project, member.user,
                 static_cast<int>(member.role));
    });
  }

  Result<void> remove_member(const std::string& project, const std::string& user) override {
    return database_->write([&](Connection& connection) {
      return change_one(connection, kDeleteMember, "remove member",
                        "membership of user '" + user + "' in project '" + project + "'", project,
                        user);
    });
  }

  Result<std::vector<Member>> list_members(const std::string& project) override {
    return database_->read([&](Connection& connection) -> Result<std::vector<Member>> {
      auto statement = connection.query(kListMembers, "list members", project);
      if (!statement) {
        return forward(statement);
      }
      return all_rows<Member>(*statement, read_member);
    });
  }

  Result<std::optional<Role>> member_role(const std::string& project,
                                          const std::string& user) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<Role>> {
      auto statement = connection.query(kMemberRole, "look up member role", project, user);
      if (!statement) {
        return forward(statement);
      }
      return first_row<Role>(*statement, [](const Statement& row) { return column_role(row, 0); });
    });
  }

  Result<std::vector<Member>> memberships(const std::string& user) override {
    return database_->read([&](Connection& connection) -> Result<std::vector<Member>> {
      auto statement = connection.query(kMemberships, "list memberships", user);
      if (!statement) {
        return forward(statement);
      }
      return all_rows<Member>(*statement, read_member);
    });
  }

  // ---- robot accounts

  Result<void> create_robot(const Robot& robot) override {
    return database_->write([&](Connection& connection) -> Result<void> {
      auto existing = found(connection, kRobotExists, "look up robot", robot.name);
      if (!existing) {
        return forward(existing);
      }
      if (*existing) {
        return exists(quoted("robot", robot.name));
      }
      for (const RobotScope& scope : robot.scopes) {
        auto project = found(connection, kProjectExists, "look up project", scope.project);
        if (!project) {
          return forward(project);
        }
        if (!*project) {
          return not_found(quoted("project", scope.project));
        }
      }
      auto inserted =
          run_changed(connection, kInsertRobot, "create robot", robot.name, robot.description,
                      robot.token_hash, core::to_unix_ms(robot.created), unix_ms(robot.expires),
                      unix_ms(robot.last_used), robot.revoked);
      if (!inserted) {
        return forward(inserted);
      }
      if (!*inserted) {
        // The name is free (checked above), so the token hash is taken. Not worth saying by
        // whom: with 256-bit tokens this is a bug in the caller, not bad luck.
        return core::fail(ErrorCode::kConflict,
                          "another robot already has the token of robot '" + robot.name + "'");
      }
      for (const RobotScope& scope : robot.scopes) {
        if (auto scoped = run(connection, kInsertRobotScope, "add robot scope", robot.name,
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
      auto statement = connection.query(kGetRobot, "get robot", name);
      if (!statement) {
        return forward(statement);
      }
      auto robots = read_robots(*statement);
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
      auto statement = connection.query(kListRobots, "list robots");
      if (!statement) {
        return forward(statement);
      }
      return read_robots(*statement);
    });
  }

  Result<void> revoke_robot(const std::string& name) override {
    return database_->write([&](Connection& connection) -> Result<void> {
      if (auto revoked =
              change_one(connection, kRevokeRobot, "revoke robot", quoted("robot", name), name);
          !revoked) {
        return revoked;
      }
      return run(connection, kRevokeRefreshTokensOf, "revoke refresh tokens", robot_subject(name));
    });
  }

  Result<void> delete_robot(const std::string& name) override {
    return database_->write([&](Connection& connection) -> Result<void> {
      if (auto deleted =
              change_one(connection, kDeleteRobot, "delete robot", quoted("robot", name), name);
          !deleted) {
        return deleted;
      }
      return run(connection, kDeleteRefreshTokensOf, "delete refresh tokens", robot_subject(name));
    });
  }

  Result<void> touch_robot(const std::string& name, core::TimePoint now) override {
    return database_->write([&](Connection& connection) {
      return change_one(connection, kTouchRobot, "record robot use", quoted("robot", name), name,
                        core::to_unix_ms(now));
    });
  }

  // ---- refresh tokens

  Result<void> create_refresh_token(const RefreshToken& token) override {
    return database_->write([&](Connection& connection) -> Result<void> {
      const std::optional<std::string> account =
          token.account.empty() ? std::nullopt : std::optional(token.account);
      auto inserted = run_changed(connection, kInsertRefreshToken, "create refresh token",
                                  token.token_hash, token.subject, core::to_unix_ms(token.created),
                                  core::to_unix_ms(token.expires), token.revoked, account);
      if (!inserted) {
        return forward(inserted);
      }
      if (!*inserted) {
        // The hash is the secret's fingerprint: keep it out of messages and logs.
        return core::fail(ErrorCode::kConflict, "refresh token already exists");
      }
      return {};
    });
  }

  Result<std::optional<RefreshToken>> get_refresh_token(const std::string& token_hash) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<RefreshToken>> {
      auto statement = connection.query(kGetRefreshToken, "get refresh token", token_hash);
      if (!statement) {
        return forward(statement);
      }
      return first_row<RefreshToken>(*statement, read_refresh_token);
    });
  }

  Result<void> revoke_refresh_token(const std::string& token_hash) override {
    return database_->write([&](Connection& connection) {
      return change_one(connection, kRevokeRefreshToken, "revoke refresh token", "refresh token",
                        token_hash);
    });
  }

  Result<std::size_t> purge_refresh_tokens(core::TimePoint cutoff) override {
    return database_->write([&](Connection& connection) -> Result<std::size_t> {
      if (auto purged = run(connection, kPurgeRefreshTokens, "purge refresh tokens",
                            core::to_unix_ms(cutoff));
          !purged) {
        return forward(purged);
      }
      return static_cast<std::size_t>(connection.changes());
    });
  }

  // ---- login lockouts

  Result<void> unlock_logins(const std::string& user, core::TimePoint at) override {
    return database_->write([&](Connection& connection) {
      return run(connection, kUnlockLogins, "unlock logins", user, core::to_unix_ms(at));
    });
  }

  Result<std::optional<core::TimePoint>> logins_unlocked_at(const std::string& user) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<core::TimePoint>> {
      auto statement = connection.query(kLoginsUnlockedAt, "look up login unlock", user);
      if (!statement) {
        return forward(statement);
      }
      return first_row<core::TimePoint>(*statement,
                                        [](const Statement& row) -> Result<core::TimePoint> {
                                          return core::from_unix_ms(row.int64(0));
                                        });
    });
  }

 private:
  std::shared_ptr<Database> database_;
};

}  // namespace

std::shared_ptr<AccountStore> make_account_store(std::shared_ptr<Database> database) {
  return std::make_shared<PgAccountStore>(std::move(database));
}

}  // namespace berth::meta::pg
