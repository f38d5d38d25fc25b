// The SessionStore contract suite (session_store.hpp), on SQLite and PostgreSQL: sessions are
// created, read, touched, deleted and purged; they survive reopening the database (a restart
// signs nobody out); and the account store ends a user's sessions in the transactions that
// change their password, take their administrator flag or delete them.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "testing/store_openers.hpp"

namespace berth::meta {
namespace {

core::TimePoint at(std::int64_t ms) { return core::from_unix_ms(ms); }

UiSession session(const std::string& id, const std::string& user, std::int64_t created_ms = 1000,
                  std::int64_t seen_ms = 1000) {
  return UiSession{.id_hash = id,
                   .user = user,
                   .account = "u1",
                   .csrf_token = "csrf-" + id,
                   .created = at(created_ms),
                   .last_seen = at(seen_ms)};
}

class SessionStoreContract : public StoresContract {
 protected:
  SessionStore& store() { return *stores_.sessions; }
  AccountStore& accounts() { return *stores_.accounts; }
  bool exists(const std::string& id) { return store().get_session(id).value().has_value(); }
  void add_user(const std::string& name, bool admin) {
    ASSERT_TRUE(accounts().create_user(
        User{.name = name, .password_hash = "$2b$04$x", .admin = admin, .created = at(0)}));
  }
};

TEST_P(SessionStoreContract, ASessionIsCreatedReadTouchedAndDeleted) {
  EXPECT_FALSE(exists("a"));
  ASSERT_TRUE(store().create_session(session("a", "alice", 1000, 2000)));
  auto found = store().get_session("a").value();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->user, "alice");
  EXPECT_EQ(found->account, "u1");
  EXPECT_EQ(found->csrf_token, "csrf-a");
  EXPECT_EQ(found->created, at(1000));
  EXPECT_EQ(found->last_seen, at(2000));
  auto again = store().create_session(session("a", "bob"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, core::ErrorCode::kConflict);

  ASSERT_TRUE(store().touch_session("a", at(5000)));
  EXPECT_EQ(store().get_session("a").value()->last_seen, at(5000));
  EXPECT_EQ(store().get_session("a").value()->created, at(1000));

  ASSERT_TRUE(store().delete_session("a"));
  EXPECT_FALSE(exists("a"));
  // Neither is an error for a session that is not there.
  EXPECT_TRUE(store().delete_session("a"));
  EXPECT_TRUE(store().touch_session("a", at(6000)));
  EXPECT_FALSE(exists("a"));
}

TEST_P(SessionStoreContract, PurgeTakesTheIdleAndTheTooOld) {
  ASSERT_TRUE(store().create_session(session("idle", "alice", 5000, 1000)));
  ASSERT_TRUE(store().create_session(session("old", "alice", 1000, 9000)));
  ASSERT_TRUE(store().create_session(session("fresh", "alice", 5000, 9000)));
  EXPECT_EQ(store().purge_sessions(at(2000), at(2000)).value(), 2u);
  EXPECT_FALSE(exists("idle"));
  EXPECT_FALSE(exists("old"));
  EXPECT_TRUE(exists("fresh"));
  EXPECT_EQ(store().purge_sessions(at(2000), at(2000)).value(), 0u);
}

TEST_P(SessionStoreContract, SessionsSurviveReopening) {
  ASSERT_TRUE(store().create_session(session("kept", "alice")));
  open();
  EXPECT_TRUE(exists("kept"));
}

TEST_P(SessionStoreContract, APasswordChangeEndsTheUsersSessionsOnly) {
  add_user("alice", false);
  add_user("bob", false);
  ASSERT_TRUE(store().create_session(session("a1", "alice")));
  ASSERT_TRUE(store().create_session(session("a2", "alice")));
  ASSERT_TRUE(store().create_session(session("b1", "bob")));
  ASSERT_TRUE(accounts().set_password("alice", "$2b$04$y"));
  EXPECT_FALSE(exists("a1"));
  EXPECT_FALSE(exists("a2"));
  EXPECT_TRUE(exists("b1"));
}

TEST_P(SessionStoreContract, ADemotionEndsTheSessionsAPromotionDoesNot) {
  add_user("alice", true);
  ASSERT_TRUE(store().create_session(session("a1", "alice")));
  ASSERT_TRUE(accounts().set_admin("alice", true));
  EXPECT_TRUE(exists("a1"));
  ASSERT_TRUE(accounts().set_admin("alice", false));
  EXPECT_FALSE(exists("a1"));
  // Nor does a change that fails (no such user).
  ASSERT_TRUE(store().create_session(session("n1", "nobody")));
  EXPECT_FALSE(accounts().set_admin("nobody", false));
  EXPECT_TRUE(exists("n1"));
}

TEST_P(SessionStoreContract, DeletingTheUserEndsTheirSessions) {
  add_user("alice", false);
  ASSERT_TRUE(store().create_session(session("a1", "alice")));
  ASSERT_TRUE(accounts().delete_user("alice"));
  EXPECT_FALSE(exists("a1"));
}

INSTANTIATE_TEST_SUITE_P(Backends, SessionStoreContract,
                         ::testing::Values(Backend{"SqliteFile", sqlite_file}),
                         [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(Postgres, SessionStoreContract,
                         ::testing::Values(Backend{"Postgres", postgres}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace berth::meta
