// The AccountStore contract suite: one set of tests, run against every implementation through
// a Backend factory (SQLite in memory and on a file now; PostgreSQL joins by adding a Backend
// and one line to the instantiation), like metadata_store_contract_test.cpp. What is specific
// to SQLite (migrating an existing database) is tested in sqlite_metadata_store_test.cpp.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "meta/account_store.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "testing/fake_clock.hpp"
#include "testing/pg_test_database.hpp"

namespace berth::meta {
namespace {

using namespace std::chrono_literals;

// ---- backends

// One database, empty when the Backend is made. open() may be called several times and opens
// the same database each time (for implementations that can: see persistent()).
class Backend {
 public:
  virtual ~Backend() = default;
  [[nodiscard]] virtual Result<std::shared_ptr<AccountStore>> open() = 0;
  // Whether data written through one store is seen by another open().
  virtual bool persistent() const = 0;
};

Result<std::shared_ptr<AccountStore>> accounts_of(const SqliteOptions& options) {
  auto stores = open_sqlite_stores(options);
  if (!stores) {
    return std::unexpected(stores.error());
  }
  return stores->accounts;
}

class SqliteMemoryBackend final : public Backend {
 public:
  Result<std::shared_ptr<AccountStore>> open() override {
    return accounts_of(SqliteOptions{.path = ":memory:"});
  }
  bool persistent() const override { return false; }
};

class SqliteFileBackend final : public Backend {
 public:
  SqliteFileBackend() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "berth-accounts-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    dir_ = pattern;
  }
  ~SqliteFileBackend() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  Result<std::shared_ptr<AccountStore>> open() override {
    return accounts_of(SqliteOptions{.path = (dir_ / "berth.db").string(), .readers = 3});
  }
  bool persistent() const override { return true; }

 private:
  std::filesystem::path dir_;
};

// A schema of its own on the test PostgreSQL; every open() connects a new pool to it.
class PostgresBackend final : public Backend {
 public:
  explicit PostgresBackend(std::unique_ptr<PgTestDatabase> database)
      : database_(std::move(database)) {}
  Result<std::shared_ptr<AccountStore>> open() override {
    auto stores = open_pg_stores(database_->options());
    if (!stores) {
      return std::unexpected(stores.error());
    }
    return stores->accounts;
  }
  bool persistent() const override { return true; }

 private:
  std::unique_ptr<PgTestDatabase> database_;
};

struct BackendFactory {
  std::string name;
  std::function<std::unique_ptr<Backend>()> make;
};
void PrintTo(const BackendFactory& factory, std::ostream* out) { *out << factory.name; }

// ---- helpers

// Unwraps a Result or fails the test with the store's message.
template <class T>
T must(Result<T> result) {
  if (!result) {
    throw std::runtime_error("unexpected error: " + result.error().message);
  }
  if constexpr (!std::is_void_v<T>) {
    return std::move(*result);
  }
}

// The error code of a Result that must have failed.
template <class T>
core::ErrorCode code_of(const Result<T>& result) {
  if (result) {
    throw std::runtime_error("expected an error, got success");
  }
  return result.error().code;
}

template <class T, class F>
std::vector<std::string> names_of(const std::vector<T>& items, F name) {
  std::vector<std::string> names;
  for (const auto& item : items) {
    names.push_back(name(item));
  }
  return names;
}

std::vector<std::string> user_names(const std::vector<User>& users) {
  return names_of(users, [](const User& user) { return user.name; });
}
std::vector<std::string> project_names(const std::vector<Project>& projects) {
  return names_of(projects, [](const Project& project) { return project.name; });
}
std::vector<std::string> robot_names(const std::vector<Robot>& robots) {
  return names_of(robots, [](const Robot& robot) { return robot.name; });
}
// "project:user:role" for each member.
std::vector<std::string> member_lines(const std::vector<Member>& members) {
  return names_of(members, [](const Member& member) {
    return member.project + ":" + member.user + ":" + std::string(role_name(member.role));
  });
}
// "project:role" for each scope.
std::vector<std::string> scope_lines(const std::vector<RobotScope>& scopes) {
  return names_of(scopes, [](const RobotScope& scope) {
    return scope.project + ":" + std::string(role_name(scope.role));
  });
}

using Lines = std::vector<std::string>;

class AccountStoreContract : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    if (IsSkipped()) {
      return;
    }
    store_ = must(backend_->open());
  }

  AccountStore& store() { return *store_; }

  User user(std::string name, bool admin = false) {
    return User{.name = std::move(name),
                .password_hash = "$2b$10$" + std::string(53, 'a'),
                .admin = admin,
                .created = clock_.now()};
  }
  void add_user(std::string name, bool admin = false) {
    must(store().create_user(user(std::move(name), admin)));
  }

  Project project(std::string name, bool is_public = false) {
    return Project{.name = std::move(name), .is_public = is_public, .created = clock_.now()};
  }
  void add_project(std::string name, bool is_public = false) {
    must(store().create_project(project(std::move(name), is_public)));
  }

  void add_member(std::string project_name, std::string user_name, Role role) {
    must(store().set_member(
        Member{.project = std::move(project_name), .user = std::move(user_name), .role = role}));
  }

  Robot robot(std::string name, std::vector<RobotScope> scopes = {}) {
    return Robot{.name = name,
                 .description = "robot " + name,
                 .token_hash = "hash-of-" + name,
                 .scopes = std::move(scopes),
                 .created = clock_.now(),
                 .expires = std::nullopt,
                 .last_used = std::nullopt,
                 .revoked = false};
  }

  RefreshToken token(std::string hash, std::string subject,
                     std::chrono::milliseconds lifetime = 24h) {
    return RefreshToken{.token_hash = std::move(hash),
                        .subject = std::move(subject),
                        .created = clock_.now(),
                        .expires = clock_.now() + lifetime,
                        .revoked = false};
  }
  void add_token(std::string hash, std::string subject) {
    must(store().create_refresh_token(token(std::move(hash), std::move(subject))));
  }
  // Whether the token exists and is not revoked.
  bool token_live(const std::string& hash) {
    auto found = must(store().get_refresh_token(hash));
    return found && !found->revoked;
  }

  std::unique_ptr<Backend> backend_;
  std::shared_ptr<AccountStore> store_;
  testing::FakeClock clock_;
};

// ---- roles

TEST(Roles, NamesRoundTripAndOrderByPower) {
  for (Role role : {Role::kReader, Role::kWriter, Role::kMaintainer, Role::kOwner}) {
    EXPECT_EQ(parse_role(role_name(role)), role);
  }
  EXPECT_EQ(role_name(Role::kReader), "reader");
  EXPECT_EQ(role_name(Role::kWriter), "writer");
  EXPECT_EQ(role_name(Role::kMaintainer), "maintainer");
  EXPECT_EQ(role_name(Role::kOwner), "owner");
  EXPECT_LT(Role::kReader, Role::kWriter);
  EXPECT_LT(Role::kWriter, Role::kMaintainer);
  EXPECT_LT(Role::kMaintainer, Role::kOwner);
}

TEST(Roles, UnknownNamesAreRefused) {
  for (std::string_view text : {"", "Reader", "OWNER", "admin", "reader ", " writer"}) {
    EXPECT_EQ(parse_role(text), std::nullopt) << "'" << text << "'";
  }
}

// ---- users

TEST_P(AccountStoreContract, CreatedUserReadsBackWithEveryField) {
  auto alice = user("alice", true);
  alice.created = clock_.now() + 1234ms;
  must(store().create_user(alice));

  auto found = must(store().get_user("alice"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, "alice");
  EXPECT_EQ(found->password_hash, alice.password_hash);
  EXPECT_TRUE(found->admin);
  EXPECT_EQ(found->created, alice.created);
  EXPECT_EQ(must(store().get_user("bob")), std::nullopt);
}

// Regression: tokens were bound to a user's name, so a user deleted and made again under the
// same name inherited the old account's sessions. Ids are what sessions bind to now.
TEST_P(AccountStoreContract, EveryUserGetsAnIdThatIsNeverGivenAgain) {
  add_user("alice");
  add_user("tmp2");
  const auto alice = must(store().get_user("alice"));
  const auto first = must(store().get_user("tmp2"));
  ASSERT_TRUE(alice && first);
  EXPECT_NE(alice->id, 0);
  EXPECT_NE(first->id, alice->id);
  // The highest id deleted and a user of the same name created again: a new id.
  must(store().delete_user("tmp2"));
  add_user("tmp2");
  const auto second = must(store().get_user("tmp2"));
  ASSERT_TRUE(second);
  EXPECT_NE(second->id, first->id);
  EXPECT_NE(second->id, alice->id);
  std::vector<std::int64_t> listed;
  for (const auto& user : must(store().list_users())) {
    listed.push_back(user.id);
  }
  EXPECT_EQ(listed, (std::vector<std::int64_t>{alice->id, second->id}));
}

TEST_P(AccountStoreContract, CreatingAnExistingUserIsAConflictAndKeepsTheFirst) {
  add_user("alice");
  auto again = user("alice", true);
  again.password_hash = "other";
  EXPECT_EQ(code_of(store().create_user(again)), core::ErrorCode::kConflict);
  auto found = must(store().get_user("alice"));
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->admin);
  EXPECT_NE(found->password_hash, "other");
}

TEST_P(AccountStoreContract, UserNamesAreComparedByteForByteAndListedInByteOrder) {
  for (const char* name : {"bob", "alice", "Zed", "alice2", "Alice"}) {
    add_user(name);
  }
  EXPECT_EQ(user_names(must(store().list_users())),
            (Lines{"Alice", "Zed", "alice", "alice2", "bob"}));
  EXPECT_EQ(must(store().get_user("ALICE")), std::nullopt);
}

TEST_P(AccountStoreContract, ListUsersOfAnEmptyStoreIsEmpty) {
  EXPECT_TRUE(must(store().list_users()).empty());
  EXPECT_TRUE(must(store().list_projects()).empty());
  EXPECT_TRUE(must(store().list_robots()).empty());
  EXPECT_EQ(must(store().count_admins()), 0u);
}

TEST_P(AccountStoreContract, SetPasswordReplacesTheHashAndRevokesOnlyThatUsersTokens) {
  add_user("alice");
  add_user("bob");
  add_token("a1", "alice");
  add_token("a2", "alice");
  add_token("b1", "bob");

  must(store().set_password("alice", "new-hash"));
  EXPECT_EQ(must(store().get_user("alice"))->password_hash, "new-hash");
  EXPECT_FALSE(token_live("a1"));
  EXPECT_FALSE(token_live("a2"));
  EXPECT_TRUE(token_live("b1"));
  // Revoked, not deleted: the token service can tell "revoked" from "never issued".
  EXPECT_TRUE(must(store().get_refresh_token("a1")));

  // Tokens issued after the change work.
  add_token("a3", "alice");
  EXPECT_TRUE(token_live("a3"));
}

TEST_P(AccountStoreContract, SetAdminAndCountAdmins) {
  add_user("root", true);
  add_user("alice");
  add_user("bob");
  EXPECT_EQ(must(store().count_admins()), 1u);

  must(store().set_admin("alice", true));
  EXPECT_TRUE(must(store().get_user("alice"))->admin);
  EXPECT_EQ(must(store().count_admins()), 2u);

  must(store().set_admin("root", false));
  must(store().set_admin("root", false));  // setting the same value again is fine
  EXPECT_FALSE(must(store().get_user("root"))->admin);
  EXPECT_EQ(must(store().count_admins()), 1u);

  must(store().delete_user("alice"));
  EXPECT_EQ(must(store().count_admins()), 0u);
}

TEST_P(AccountStoreContract, ChangingOrDeletingAMissingUserIsNotFound) {
  add_user("alice");
  EXPECT_EQ(code_of(store().set_password("bob", "x")), core::ErrorCode::kNotFound);
  EXPECT_EQ(code_of(store().set_admin("bob", true)), core::ErrorCode::kNotFound);
  EXPECT_EQ(code_of(store().delete_user("bob")), core::ErrorCode::kNotFound);
  EXPECT_EQ(user_names(must(store().list_users())), Lines{"alice"});
}

TEST_P(AccountStoreContract, DeleteUserRemovesItsMembershipsAndRefreshTokensOnly) {
  add_user("alice");
  add_user("bob");
  add_project("app");
  add_project("lib");
  add_member("app", "alice", Role::kOwner);
  add_member("lib", "alice", Role::kReader);
  add_member("app", "bob", Role::kWriter);
  add_token("a1", "alice");
  add_token("b1", "bob");

  must(store().delete_user("alice"));
  EXPECT_EQ(must(store().get_user("alice")), std::nullopt);
  EXPECT_TRUE(must(store().memberships("alice")).empty());
  EXPECT_EQ(member_lines(must(store().list_members("app"))), Lines{"app:bob:writer"});
  EXPECT_TRUE(must(store().list_members("lib")).empty());
  EXPECT_EQ(must(store().get_refresh_token("a1")), std::nullopt);
  EXPECT_TRUE(token_live("b1"));
  EXPECT_TRUE(must(store().get_project("app")));

  // A new user of the same name starts with nothing.
  add_user("alice");
  EXPECT_TRUE(must(store().memberships("alice")).empty());
  EXPECT_EQ(must(store().member_role("app", "alice")), std::nullopt);
}

// ---- projects

TEST_P(AccountStoreContract, CreatedProjectReadsBackAndProjectsListInByteOrder) {
  auto app = project("app", true);
  app.created = clock_.now() + 5ms;
  must(store().create_project(app));
  add_project("Zoo");
  add_project("lib");

  auto found = must(store().get_project("app"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, "app");
  EXPECT_TRUE(found->is_public);
  EXPECT_EQ(found->created, app.created);
  EXPECT_FALSE(must(store().get_project("lib"))->is_public);
  EXPECT_EQ(must(store().get_project("APP")), std::nullopt);
  EXPECT_EQ(project_names(must(store().list_projects())), (Lines{"Zoo", "app", "lib"}));
}

TEST_P(AccountStoreContract, CreatingAnExistingProjectIsAConflictAndKeepsTheFirst) {
  add_project("app", false);
  EXPECT_EQ(code_of(store().create_project(project("app", true))), core::ErrorCode::kConflict);
  EXPECT_FALSE(must(store().get_project("app"))->is_public);
}

TEST_P(AccountStoreContract, SetProjectPublicTogglesVisibility) {
  add_project("app");
  must(store().set_project_public("app", true));
  EXPECT_TRUE(must(store().get_project("app"))->is_public);
  must(store().set_project_public("app", false));
  EXPECT_FALSE(must(store().get_project("app"))->is_public);
}

TEST_P(AccountStoreContract, ChangingOrDeletingAMissingProjectIsNotFound) {
  EXPECT_EQ(code_of(store().set_project_public("app", true)), core::ErrorCode::kNotFound);
  EXPECT_EQ(code_of(store().delete_project("app")), core::ErrorCode::kNotFound);
  EXPECT_EQ(must(store().get_project("app")), std::nullopt);
}

TEST_P(AccountStoreContract, DeleteProjectRemovesItsMembersAndRobotScopesOnly) {
  add_user("alice");
  add_project("app");
  add_project("lib");
  add_member("app", "alice", Role::kOwner);
  add_member("lib", "alice", Role::kWriter);
  must(store().create_robot(robot("ci", {{.project = "app", .role = Role::kWriter},
                                         {.project = "lib", .role = Role::kReader}})));

  must(store().delete_project("app"));
  EXPECT_EQ(must(store().get_project("app")), std::nullopt);
  EXPECT_TRUE(must(store().list_members("app")).empty());
  EXPECT_EQ(member_lines(must(store().memberships("alice"))), Lines{"lib:alice:writer"});
  auto ci = must(store().get_robot("ci"));
  ASSERT_TRUE(ci);  // the robot stays, with its other scopes
  EXPECT_EQ(scope_lines(ci->scopes), Lines{"lib:reader"});
  EXPECT_TRUE(must(store().get_user("alice")));

  // A new project of the same name starts with nothing.
  add_project("app");
  EXPECT_TRUE(must(store().list_members("app")).empty());
  EXPECT_EQ(scope_lines(must(store().get_robot("ci"))->scopes), Lines{"lib:reader"});
}

// ---- members

TEST_P(AccountStoreContract, SetMemberAddsAndThenChangesTheRole) {
  add_user("alice");
  add_project("app");
  EXPECT_EQ(must(store().member_role("app", "alice")), std::nullopt);

  add_member("app", "alice", Role::kReader);
  EXPECT_EQ(must(store().member_role("app", "alice")), Role::kReader);
  add_member("app", "alice", Role::kMaintainer);
  EXPECT_EQ(must(store().member_role("app", "alice")), Role::kMaintainer);
  EXPECT_EQ(member_lines(must(store().list_members("app"))), Lines{"app:alice:maintainer"});
}

TEST_P(AccountStoreContract, SetMemberOfAMissingProjectIsNotFoundAndWritesNothing) {
  add_user("alice");
  add_project("app");
  EXPECT_EQ(code_of(store().set_member({.project = "nope", .user = "alice", .role = Role::kOwner})),
            core::ErrorCode::kNotFound);
  EXPECT_TRUE(must(store().memberships("alice")).empty());
  EXPECT_TRUE(must(store().list_members("app")).empty());
  EXPECT_EQ(must(store().get_project("nope")), std::nullopt);
}

// Users of the htpasswd file are not in the database, and may still be members: the store
// takes any user name (the auth layer checks that the user exists somewhere).
TEST_P(AccountStoreContract, MembersNeedNotBeDatabaseUsers) {
  add_project("app");
  must(store().set_member({.project = "app", .user = "from-htpasswd", .role = Role::kWriter}));
  EXPECT_EQ(must(store().member_role("app", "from-htpasswd")), Role::kWriter);
  EXPECT_EQ(must(store().get_user("from-htpasswd")), std::nullopt);
}

TEST_P(AccountStoreContract, MembersListByUserAndMembershipsByProject) {
  for (const char* name : {"carol", "alice", "bob"}) {
    add_user(name);
  }
  for (const char* name : {"web", "app", "lib"}) {
    add_project(name);
  }
  add_member("app", "carol", Role::kReader);
  add_member("app", "alice", Role::kOwner);
  add_member("app", "bob", Role::kWriter);
  add_member("web", "alice", Role::kWriter);
  add_member("lib", "alice", Role::kReader);

  EXPECT_EQ(member_lines(must(store().list_members("app"))),
            (Lines{"app:alice:owner", "app:bob:writer", "app:carol:reader"}));
  EXPECT_EQ(member_lines(must(store().memberships("alice"))),
            (Lines{"app:alice:owner", "lib:alice:reader", "web:alice:writer"}));
  EXPECT_EQ(member_lines(must(store().memberships("bob"))), Lines{"app:bob:writer"});
  EXPECT_TRUE(must(store().memberships("nobody")).empty());
  EXPECT_TRUE(must(store().list_members("nothing")).empty());
  EXPECT_EQ(must(store().member_role("lib", "bob")), std::nullopt);
}

TEST_P(AccountStoreContract, RemoveMemberRemovesOneMembershipAndAMissingOneIsNotFound) {
  add_user("alice");
  add_user("bob");
  add_project("app");
  add_member("app", "alice", Role::kOwner);
  add_member("app", "bob", Role::kReader);

  must(store().remove_member("app", "alice"));
  EXPECT_EQ(must(store().member_role("app", "alice")), std::nullopt);
  EXPECT_EQ(member_lines(must(store().list_members("app"))), Lines{"app:bob:reader"});
  EXPECT_TRUE(must(store().get_user("alice")));

  EXPECT_EQ(code_of(store().remove_member("app", "alice")), core::ErrorCode::kNotFound);
  EXPECT_EQ(code_of(store().remove_member("nope", "bob")), core::ErrorCode::kNotFound);
  EXPECT_EQ(code_of(store().remove_member("app", "nope")), core::ErrorCode::kNotFound);
}

// ---- robot accounts

TEST_P(AccountStoreContract, RobotLifecycle) {
  add_project("app");
  add_project("lib");
  auto ci = robot(
      "ci", {{.project = "lib", .role = Role::kReader}, {.project = "app", .role = Role::kWriter}});
  ci.expires = clock_.now() + 90 * 24h;
  must(store().create_robot(ci));

  auto found = must(store().get_robot("ci"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, "ci");
  EXPECT_EQ(found->description, "robot ci");
  EXPECT_EQ(found->token_hash, "hash-of-ci");
  EXPECT_EQ(found->created, ci.created);
  EXPECT_EQ(found->expires, ci.expires);
  EXPECT_EQ(found->last_used, std::nullopt);
  EXPECT_FALSE(found->revoked);
  // Scopes come back in project order, whatever order they were given in.
  EXPECT_EQ(scope_lines(found->scopes), (Lines{"app:writer", "lib:reader"}));

  clock_.advance(1h);
  must(store().touch_robot("ci", clock_.now()));
  EXPECT_EQ(must(store().get_robot("ci"))->last_used, clock_.now());
  clock_.advance(1h);
  must(store().touch_robot("ci", clock_.now()));
  EXPECT_EQ(must(store().get_robot("ci"))->last_used, clock_.now());

  must(store().revoke_robot("ci"));
  found = must(store().get_robot("ci"));
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->revoked);
  EXPECT_EQ(found->scopes.size(), 2u);  // kept, for the record
  must(store().revoke_robot("ci"));     // revoking again is fine

  must(store().delete_robot("ci"));
  EXPECT_EQ(must(store().get_robot("ci")), std::nullopt);
  EXPECT_TRUE(must(store().list_robots()).empty());
  // The name and the token hash are free again, and the old scopes are gone.
  must(store().create_robot(robot("ci")));
  EXPECT_TRUE(must(store().get_robot("ci"))->scopes.empty());
}

TEST_P(AccountStoreContract, RobotWithoutExpiryOrScopesReadsBackSo) {
  auto bot = robot("bot");
  bot.description = "";
  must(store().create_robot(bot));
  auto found = must(store().get_robot("bot"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->expires, std::nullopt);
  EXPECT_TRUE(found->scopes.empty());
  EXPECT_EQ(found->description, "");
}

TEST_P(AccountStoreContract, RobotsListByNameEachWithItsOwnScopes) {
  add_project("app");
  add_project("lib");
  must(store().create_robot(robot("zeta", {{.project = "app", .role = Role::kOwner}})));
  must(store().create_robot(robot("alpha")));
  must(store().create_robot(robot("mid", {{.project = "lib", .role = Role::kWriter},
                                          {.project = "app", .role = Role::kReader}})));

  auto robots = must(store().list_robots());
  ASSERT_EQ(robot_names(robots), (Lines{"alpha", "mid", "zeta"}));
  EXPECT_TRUE(robots[0].scopes.empty());
  EXPECT_EQ(scope_lines(robots[1].scopes), (Lines{"app:reader", "lib:writer"}));
  EXPECT_EQ(scope_lines(robots[2].scopes), Lines{"app:owner"});
  EXPECT_EQ(robots[1].token_hash, "hash-of-mid");
}

TEST_P(AccountStoreContract, CreatingARobotWhoseNameOrTokenIsTakenIsAConflict) {
  must(store().create_robot(robot("ci")));
  auto same_name = robot("ci");
  same_name.token_hash = "another hash";
  EXPECT_EQ(code_of(store().create_robot(same_name)), core::ErrorCode::kConflict);
  EXPECT_EQ(must(store().get_robot("ci"))->token_hash, "hash-of-ci");

  auto same_token = robot("cd");
  same_token.token_hash = "hash-of-ci";
  EXPECT_EQ(code_of(store().create_robot(same_token)), core::ErrorCode::kConflict);
  EXPECT_EQ(must(store().get_robot("cd")), std::nullopt);
}

TEST_P(AccountStoreContract, RobotScopedToAMissingProjectIsNotFoundAndNotCreated) {
  add_project("app");
  auto ci = robot("ci", {{.project = "app", .role = Role::kWriter},
                         {.project = "nope", .role = Role::kReader}});
  EXPECT_EQ(code_of(store().create_robot(ci)), core::ErrorCode::kNotFound);
  EXPECT_EQ(must(store().get_robot("ci")), std::nullopt);
  EXPECT_TRUE(must(store().list_robots()).empty());
}

TEST_P(AccountStoreContract, ChangingOrDeletingAMissingRobotIsNotFound) {
  EXPECT_EQ(code_of(store().revoke_robot("ci")), core::ErrorCode::kNotFound);
  EXPECT_EQ(code_of(store().delete_robot("ci")), core::ErrorCode::kNotFound);
  EXPECT_EQ(code_of(store().touch_robot("ci", clock_.now())), core::ErrorCode::kNotFound);
  EXPECT_EQ(must(store().get_robot("ci")), std::nullopt);
}

TEST_P(AccountStoreContract, RevokingOrDeletingARobotEndsItsRefreshTokensOnly) {
  must(store().create_robot(robot("ci")));
  must(store().create_robot(robot("cd")));
  add_user("ci");  // a user named like the robot is someone else
  add_token("ci-token", "robot$ci");
  add_token("cd-token", "robot$cd");
  add_token("user-token", "ci");

  must(store().revoke_robot("ci"));
  EXPECT_FALSE(token_live("ci-token"));
  EXPECT_TRUE(token_live("cd-token"));
  EXPECT_TRUE(token_live("user-token"));

  must(store().delete_robot("cd"));
  EXPECT_EQ(must(store().get_refresh_token("cd-token")), std::nullopt);
  EXPECT_TRUE(token_live("user-token"));
}

// ---- refresh tokens

TEST_P(AccountStoreContract, RefreshTokenReadsBackAndIsRevokedOnce) {
  auto issued = token("h1", "alice", 2h);
  must(store().create_refresh_token(issued));
  auto found = must(store().get_refresh_token("h1"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->token_hash, "h1");
  EXPECT_EQ(found->subject, "alice");
  EXPECT_EQ(found->created, issued.created);
  EXPECT_EQ(found->expires, issued.expires);
  EXPECT_FALSE(found->revoked);
  EXPECT_EQ(must(store().get_refresh_token("h2")), std::nullopt);

  must(store().revoke_refresh_token("h1"));
  EXPECT_TRUE(must(store().get_refresh_token("h1"))->revoked);
  EXPECT_EQ(code_of(store().revoke_refresh_token("h2")), core::ErrorCode::kNotFound);
}

TEST_P(AccountStoreContract, RefreshTokenKeepsTheAccountItWasIssuedTo) {
  auto bound = token("bound", "alice");
  bound.account = "u42";
  must(store().create_refresh_token(bound));
  add_token("unbound", "alice");
  EXPECT_EQ(must(store().get_refresh_token("bound"))->account, "u42");
  EXPECT_EQ(must(store().get_refresh_token("unbound"))->account, "");
}

// ---- login lockouts

TEST_P(AccountStoreContract, LoginUnlocksKeepTheLatestTimeOfAnyName) {
  const auto t0 = clock_.now();
  EXPECT_EQ(must(store().logins_unlocked_at("alice")), std::nullopt);
  must(store().unlock_logins("alice", t0 + 2s));
  // A name that is no user at all (htpasswd users, guessed names) is locked out too.
  must(store().unlock_logins("no-such-user", t0));
  EXPECT_EQ(must(store().logins_unlocked_at("alice")), t0 + 2s);
  EXPECT_EQ(must(store().logins_unlocked_at("no-such-user")), t0);
  must(store().unlock_logins("alice", t0 + 1s));
  EXPECT_EQ(must(store().logins_unlocked_at("alice")), t0 + 2s) << "an earlier unlock won";
  must(store().unlock_logins("alice", t0 + 3s));
  EXPECT_EQ(must(store().logins_unlocked_at("alice")), t0 + 3s);
  EXPECT_EQ(must(store().logins_unlocked_at("Alice")), std::nullopt);
}

TEST_P(AccountStoreContract, CreatingAnExistingRefreshTokenIsAConflict) {
  add_token("h1", "alice");
  EXPECT_EQ(code_of(store().create_refresh_token(token("h1", "mallory"))),
            core::ErrorCode::kConflict);
  EXPECT_EQ(must(store().get_refresh_token("h1"))->subject, "alice");
}

TEST_P(AccountStoreContract, PurgeDeletesTokensThatExpiredBeforeTheCutoffAndCountsThem) {
  const auto t0 = clock_.now();
  must(store().create_refresh_token(token("1h", "alice", 1h)));
  must(store().create_refresh_token(token("2h", "alice", 2h)));
  must(store().create_refresh_token(token("3h", "bob", 3h)));
  auto revoked = token("revoked-4h", "bob", 4h);
  revoked.revoked = true;
  must(store().create_refresh_token(revoked));

  EXPECT_EQ(must(store().purge_refresh_tokens(t0)), 0u);
  // Expiring exactly at the cutoff is not "before" it.
  EXPECT_EQ(must(store().purge_refresh_tokens(t0 + 2h)), 1u);
  EXPECT_EQ(must(store().get_refresh_token("1h")), std::nullopt);
  EXPECT_TRUE(must(store().get_refresh_token("2h")));
  // Revoked but unexpired tokens stay, so they still read as revoked.
  EXPECT_TRUE(must(store().get_refresh_token("revoked-4h"))->revoked);

  EXPECT_EQ(must(store().purge_refresh_tokens(t0 + 5h)), 3u);
  EXPECT_EQ(must(store().get_refresh_token("2h")), std::nullopt);
  EXPECT_EQ(must(store().get_refresh_token("revoked-4h")), std::nullopt);
  EXPECT_EQ(must(store().purge_refresh_tokens(t0 + 5h)), 0u);
}

// ---- concurrency and persistence

TEST_P(AccountStoreContract, ConcurrentAccountChangesAndReadsSucceed) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 15;
  add_project("shared");
  std::mutex errors_mutex;
  std::vector<std::string> errors;  // guarded by errors_mutex
  auto check = [&](const auto& result, std::string_view what) {
    if (!result) {
      std::lock_guard lock(errors_mutex);
      errors.push_back(std::string(what) + ": " + result.error().message);
    }
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto own = "project" + std::to_string(t);
      check(store().create_project(project(own)), "create own project");
      for (int round = 0; round < kRounds; ++round) {
        auto name = "user" + std::to_string(t) + "-" + std::to_string(round);
        check(store().create_user(user(name)), "create user");
        check(store().set_member({.project = own, .user = name, .role = Role::kWriter}),
              "set own member");
        check(store().set_member({.project = "shared", .user = name, .role = Role::kReader}),
              "set shared member");
        check(store().create_refresh_token(token("token " + name, name)), "create token");
        check(store().get_user(name), "get user");
        check(store().member_role("shared", name), "member role");
        check(store().list_members("shared"), "list members");
        check(store().memberships(name), "memberships");
        check(store().list_users(), "list users");
        check(store().set_password(name, "rotated"), "set password");
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  ASSERT_TRUE(errors.empty()) << errors.size() << " errors, first: " << errors.front();

  EXPECT_EQ(must(store().list_users()).size(), static_cast<std::size_t>(kThreads * kRounds));
  EXPECT_EQ(must(store().list_projects()).size(), static_cast<std::size_t>(kThreads + 1));
  EXPECT_EQ(must(store().list_members("shared")).size(),
            static_cast<std::size_t>(kThreads * kRounds));
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(must(store().list_members("project" + std::to_string(t))).size(),
              static_cast<std::size_t>(kRounds));
  }
  EXPECT_EQ(must(store().memberships("user3-7")).size(), 2u);
  EXPECT_FALSE(token_live("token user5-2"));
}

// ---- the account version

// Runs `change` and says whether it moved the account version, and by how much this handle's
// count of committed changes moved.
struct VersionMove {
  bool version = false;
  std::uint64_t changes = 0;
};

TEST_P(AccountStoreContract, EveryChangeOfWhoOrWhatMayMovesTheVersionOnce) {
  auto moved = [&](const std::function<void()>& change) {
    const auto version = must(store().account_version());
    const auto changes = store().changes_committed();
    change();
    return VersionMove{must(store().account_version()) != version,
                       store().changes_committed() - changes};
  };
  auto check = [&](const char* what, const std::function<void()>& change) {
    auto move = moved(change);
    EXPECT_TRUE(move.version) << what;
    EXPECT_EQ(move.changes, 1u) << what;
  };
  check("create user", [&] { add_user("alice"); });
  check("set password", [&] { must(store().set_password("alice", "other")); });
  check("set admin", [&] { must(store().set_admin("alice", true)); });
  check("create project", [&] { add_project("app"); });
  check("set public", [&] { must(store().set_project_public("app", true)); });
  check("set member", [&] { add_member("app", "alice", Role::kWriter); });
  check("remove member", [&] { must(store().remove_member("app", "alice")); });
  check("create robot", [&] {
    must(store().create_robot(robot("ci", {{.project = "app", .role = Role::kReader}})));
  });
  check("revoke robot", [&] { must(store().revoke_robot("ci")); });
  check("delete robot", [&] { must(store().delete_robot("ci")); });
  check("unlock logins", [&] { must(store().unlock_logins("alice", clock_.now())); });
  check("delete user", [&] { must(store().delete_user("alice")); });
  check("delete project", [&] { must(store().delete_project("app")); });
}

TEST_P(AccountStoreContract, UsesRefreshTokensAndFailedChangesLeaveTheVersion) {
  add_user("alice");
  must(store().create_robot(robot("ci")));
  const auto version = must(store().account_version());
  const auto changes = store().changes_committed();
  must(store().touch_robot("ci", clock_.now()));
  add_token("h1", "alice");
  must(store().revoke_refresh_token("h1"));
  (void)must(store().purge_refresh_tokens(clock_.now() + 48h));
  EXPECT_FALSE(store().set_admin("nobody", true));
  EXPECT_FALSE(store().create_user(user("alice")));
  EXPECT_FALSE(store().remove_member("none", "alice"));
  EXPECT_EQ(must(store().account_version()), version);
  EXPECT_EQ(store().changes_committed(), changes);
}

// Stores whose data outlives the store object (files, servers).
class PersistentAccountStoreContract : public AccountStoreContract {};

TEST_P(PersistentAccountStoreContract, ReopenKeepsEverything) {
  ASSERT_TRUE(backend_->persistent());
  add_user("alice", true);
  add_project("app", true);
  add_member("app", "alice", Role::kOwner);
  auto ci = robot("ci", {{.project = "app", .role = Role::kWriter}});
  ci.expires = clock_.now() + 24h;
  must(store().create_robot(ci));
  must(store().touch_robot("ci", clock_.now() + 1min));
  add_token("h1", "alice");
  store_.reset();

  store_ = must(backend_->open());
  EXPECT_TRUE(must(store().get_user("alice"))->admin);
  EXPECT_TRUE(must(store().get_project("app"))->is_public);
  EXPECT_EQ(must(store().member_role("app", "alice")), Role::kOwner);
  auto found = must(store().get_robot("ci"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->expires, ci.expires);
  EXPECT_EQ(found->last_used, clock_.now() + 1min);
  EXPECT_EQ(scope_lines(found->scopes), Lines{"app:writer"});
  EXPECT_TRUE(token_live("h1"));
}

TEST_P(PersistentAccountStoreContract, TwoStoresOnOneDatabaseSeeEachOthersWrites) {
  auto second = must(backend_->open());
  add_user("alice");
  ASSERT_TRUE(must(second->get_user("alice")));
  must(second->set_password("alice", "changed"));
  EXPECT_EQ(must(store().get_user("alice"))->password_hash, "changed");
}

// Another handle (the CLI, another replica) sees the version move; only the writer counts the
// change as its own.
TEST_P(PersistentAccountStoreContract, AnotherHandleSeesTheVersionMoveButNotTheChange) {
  auto second = must(backend_->open());
  const auto version = must(second->account_version());
  add_user("alice");
  EXPECT_GT(must(second->account_version()), version);
  EXPECT_EQ(second->changes_committed(), 0u);
  EXPECT_EQ(store().changes_committed(), 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Sqlite, AccountStoreContract,
    ::testing::Values(BackendFactory{"Memory",
                                     [] { return std::make_unique<SqliteMemoryBackend>(); }},
                      BackendFactory{"File", [] { return std::make_unique<SqliteFileBackend>(); }}),
    [](const ::testing::TestParamInfo<BackendFactory>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Sqlite, PersistentAccountStoreContract,
    ::testing::Values(BackendFactory{"File", [] { return std::make_unique<SqliteFileBackend>(); }}),
    [](const ::testing::TestParamInfo<BackendFactory>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Postgres, AccountStoreContract,
    ::testing::Values(BackendFactory{"Postgres", make_pg_backend<Backend, PostgresBackend>}),
    [](const ::testing::TestParamInfo<BackendFactory>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Postgres, PersistentAccountStoreContract,
    ::testing::Values(BackendFactory{"Postgres", make_pg_backend<Backend, PostgresBackend>}),
    [](const ::testing::TestParamInfo<BackendFactory>& info) { return info.param.name; });

}  // namespace
}  // namespace berth::meta
