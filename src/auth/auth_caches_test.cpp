// The caches of accounts and passwords (account_version, account_cache, credential_cache) on a
// real SQLite store in a file, a second handle on it standing in for a `berth` command or
// another replica, a fake clock, and a password check that counts its calls:
//  - a change through this process's store ends what is remembered at once; one through
//    another handle after the next sync;
//  - what the Authenticator and AccessControl answer from memory, and that revoking a robot,
//    deleting or demoting a user, removing a member and making a project private are refused
//    on the next request;
//  - a wrong password is never remembered, costs a check each time and counts toward the
//    lockout; a lockout, a password change and a deletion end a remembered password; the first
//    check of a new password costs a full check.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>

#include "auth/access_control.hpp"
#include "auth/account_cache.hpp"
#include "auth/account_version.hpp"
#include "auth/authenticator.hpp"
#include "auth/credential_cache.hpp"
#include "auth/password.hpp"
#include "auth/rate_limiter.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "testing/fake_clock.hpp"
#include "testing/temp_dir.hpp"

namespace berth::auth {
namespace {

using namespace std::chrono_literals;
using core::ErrorCode;

constexpr int kCost = 4;
constexpr std::string_view kAddress = "10.0.0.1";

class AuthCachesTest : public ::testing::Test {
 protected:
  AuthCachesTest()
      : stores_(open()),
        other_(open()),
        limiter_(
            RateLimitOptions{
                .max_failures_per_address = 100, .max_failures_per_user = 3, .window = 300s},
            clock_),
        version_(accounts(), nullptr),
        cache_(version_, clock_),
        credentials_(version_, clock_, CredentialCacheOptions{.ttl = 300s}),
        authenticator_(
            accounts(), nullptr, limiter_, clock_, {},
            AuthenticatorOptions{.accounts = &cache_,
                                 .credentials = &credentials_,
                                 .check_password =
                                     [this](std::string_view password, std::string_view hash) {
                                       ++checks_;
                                       return verify_password(password, hash);
                                     }}),
        access_(accounts(), clock_, AccessControlOptions{.enabled = true}, &cache_) {
    EXPECT_TRUE(version_.sync());
  }

  meta::SqliteStores open() {
    return meta::open_sqlite_stores(meta::SqliteOptions{.path = (dir_.path() / "b.db").string()})
        .value();
  }
  meta::AccountStore& accounts() { return *stores_.accounts; }
  // Another process's view of the same database.
  meta::AccountStore& elsewhere() { return *other_.accounts; }

  void add_user(const std::string& name, const std::string& password, bool admin = false) {
    ASSERT_TRUE(accounts().create_user(meta::User{
        .name = name, .password_hash = hash_password(password, kCost).value(), .admin = admin}));
  }
  // A robot with a reader scope in `project`; its token.
  std::string add_robot(const std::string& name, const std::string& project) {
    const std::string token = random_token("brb_");
    EXPECT_TRUE(accounts().create_robot(
        meta::Robot{.name = name,
                    .description = "",
                    .token_hash = token_hash(token),
                    .scopes = {{.project = project, .role = meta::Role::kReader}},
                    .created = clock_.now(),
                    .expires = clock_.now() + 1h,
                    .last_used = std::nullopt,
                    .revoked = false}));
    return token;
  }
  core::Result<Identity> login(const std::string& user, const std::string& password) {
    return authenticator_.login(user, password, std::string(kAddress));
  }
  // What the gate does with a Bearer token: the cache, else the store.
  core::Result<Identity> bearer(const std::string& subject, const std::string& account) {
    if (auto known = authenticator_.known_identity(subject, account)) {
      return *known;
    }
    return authenticator_.identity_of(subject, account);
  }
  bool may(const Identity& who, const std::string& project, Action action) {
    if (auto known = access_.known(who, project, action)) {
      return *known;
    }
    return access_.may(who, project, action).value();
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  meta::SqliteStores stores_;
  meta::SqliteStores other_;
  LoginRateLimiter limiter_;
  AccountVersion version_;
  AccountCache cache_;
  CredentialCache credentials_;
  std::atomic<int> checks_{0};
  Authenticator authenticator_;
  AccessControl access_;
};

// ---- the account version

TEST_F(AuthCachesTest, OwnChangesMoveTheVersionAtOnceOthersAfterASync) {
  const auto start = version_.current();
  add_user("alice", "pw");
  const auto after_own = version_.current();
  EXPECT_NE(after_own, start);

  ASSERT_TRUE(elsewhere().set_admin("alice", true));
  EXPECT_EQ(version_.current(), after_own) << "not read yet";
  ASSERT_TRUE(version_.sync());
  EXPECT_NE(version_.current(), after_own);

  // A refresh token is no change of who may do what.
  ASSERT_TRUE(version_.sync());
  const auto settled = version_.current();
  ASSERT_TRUE(accounts().create_refresh_token(meta::RefreshToken{
      .token_hash = "h", .subject = "alice", .created = clock_.now(), .expires = clock_.now()}));
  ASSERT_TRUE(version_.sync());
  EXPECT_EQ(version_.current(), settled);
}

TEST_F(AuthCachesTest, AnHtpasswdReloadMovesTheVersionAtTheNextSync) {
  const auto file = dir_.path() / "htpasswd";
  std::ofstream(file) << "bob:" << hash_password("pw", kCost).value() << "\n";
  HtpasswdFile htpasswd(file, {}, 0ms);
  AccountVersion version(accounts(), &htpasswd);
  ASSERT_TRUE(version.sync());
  const auto before = version.current();
  ASSERT_TRUE(version.sync());
  EXPECT_EQ(version.current(), before) << "an unchanged file is no change";
  std::ofstream(file) << "carol:" << hash_password("pw", kCost).value() << "\n";
  ASSERT_TRUE(version.sync());
  EXPECT_NE(version.current(), before);
}

// ---- identities and decisions

TEST_F(AuthCachesTest, AKnownIdentityAndDecisionNeedNoStore) {
  add_user("alice", "pw");
  ASSERT_TRUE(accounts().create_project(meta::Project{"app", false, clock_.now()}));
  ASSERT_TRUE(accounts().set_member(meta::Member{"app", "alice", meta::Role::kWriter}));
  const auto account = login("alice", "pw")->account;
  EXPECT_EQ(authenticator_.known_identity("alice", account), std::nullopt);
  auto alice = authenticator_.identity_of("alice", account);
  ASSERT_TRUE(alice);
  auto known = authenticator_.known_identity("alice", account);
  ASSERT_TRUE(known);
  EXPECT_EQ(known->name, "alice");
  EXPECT_EQ(authenticator_.known_identity("alice", "u999"), std::nullopt)
      << "another account under the name is not the one remembered";

  EXPECT_EQ(access_.known(*alice, "app", Action::kPush), std::nullopt);
  EXPECT_TRUE(access_.may(*alice, "app", Action::kPush).value());
  EXPECT_EQ(access_.known(*alice, "app", Action::kPush), true);
  EXPECT_FALSE(access_.may(*alice, "app", Action::kDelete).value());
  EXPECT_EQ(access_.known(*alice, "app", Action::kDelete), false);
  auto anonymous = authenticator_.known_identity("", "");
  ASSERT_TRUE(anonymous);
  EXPECT_TRUE(anonymous->anonymous());
}

TEST_F(AuthCachesTest, ARevokedRobotIsRefusedOnTheNextRequest) {
  ASSERT_TRUE(accounts().create_project(meta::Project{"app", false, clock_.now()}));
  const auto token = add_robot("ci", "app");
  auto robot = authenticator_.login("robot$ci", token, std::string(kAddress));
  ASSERT_TRUE(robot);
  ASSERT_TRUE(bearer("robot$ci", robot->account));
  ASSERT_TRUE(authenticator_.known_identity("robot$ci", robot->account));
  ASSERT_TRUE(accounts().revoke_robot("ci"));
  EXPECT_EQ(authenticator_.known_identity("robot$ci", robot->account), std::nullopt);
  auto after = bearer("robot$ci", robot->account);
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, ErrorCode::kUnauthorized);
}

TEST_F(AuthCachesTest, ARobotIsNotRememberedPastItsExpiry) {
  ASSERT_TRUE(accounts().create_project(meta::Project{"app", false, clock_.now()}));
  const auto token = add_robot("ci", "app");
  auto robot = authenticator_.login("robot$ci", token, std::string(kAddress));
  ASSERT_TRUE(bearer("robot$ci", robot->account));
  clock_.advance(59min);
  EXPECT_TRUE(authenticator_.known_identity("robot$ci", robot->account));
  clock_.advance(1min);
  EXPECT_EQ(authenticator_.known_identity("robot$ci", robot->account), std::nullopt);
  EXPECT_FALSE(bearer("robot$ci", robot->account));
}

TEST_F(AuthCachesTest, ADeletedOrDemotedUserIsRefusedOnTheNextRequest) {
  add_user("root", "pw", true);
  add_user("bob", "pw");
  const auto root = login("root", "pw").value();
  const auto bob = login("bob", "pw").value();
  ASSERT_TRUE(bearer("root", root.account)->admin);
  ASSERT_TRUE(bearer("bob", bob.account));
  ASSERT_TRUE(accounts().set_admin("root", false));
  ASSERT_TRUE(accounts().delete_user("bob"));
  EXPECT_FALSE(bearer("root", root.account)->admin);
  EXPECT_FALSE(bearer("bob", bob.account));
}

TEST_F(AuthCachesTest, ARemovedMemberOrAProjectMadePrivateIsRefusedOnTheNextRequest) {
  add_user("alice", "pw");
  ASSERT_TRUE(accounts().create_project(meta::Project{"app", true, clock_.now()}));
  ASSERT_TRUE(accounts().create_project(meta::Project{"lib", false, clock_.now()}));
  ASSERT_TRUE(accounts().set_member(meta::Member{"lib", "alice", meta::Role::kReader}));
  const auto alice = bearer("alice", login("alice", "pw")->account).value();
  const Identity anonymous;
  ASSERT_TRUE(may(anonymous, "app", Action::kPull));
  ASSERT_TRUE(may(alice, "lib", Action::kPull));
  ASSERT_EQ(access_.known(anonymous, "app", Action::kPull), true);
  ASSERT_TRUE(accounts().set_project_public("app", false));
  ASSERT_TRUE(accounts().remove_member("lib", "alice"));
  EXPECT_FALSE(may(anonymous, "app", Action::kPull));
  EXPECT_FALSE(may(alice, "lib", Action::kPull));
}

TEST_F(AuthCachesTest, ChangesElsewhereAreRefusedAfterTheNextSync) {
  add_user("alice", "pw");
  ASSERT_TRUE(accounts().create_project(meta::Project{"lib", false, clock_.now()}));
  ASSERT_TRUE(accounts().set_member(meta::Member{"lib", "alice", meta::Role::kReader}));
  const auto account = login("alice", "pw")->account;
  const auto alice = bearer("alice", account).value();
  ASSERT_TRUE(may(alice, "lib", Action::kPull));

  ASSERT_TRUE(elsewhere().remove_member("lib", "alice"));
  ASSERT_TRUE(elsewhere().delete_user("alice"));
  // Until the version is read, this process answers from memory (for at most auth.cache_sync).
  EXPECT_EQ(access_.known(alice, "lib", Action::kPull), true);
  EXPECT_TRUE(authenticator_.known_identity("alice", account));
  ASSERT_TRUE(version_.sync());
  EXPECT_FALSE(may(alice, "lib", Action::kPull));
  EXPECT_FALSE(bearer("alice", account));
}

// ---- passwords

TEST_F(AuthCachesTest, ARightPasswordIsCheckedOnceAndAWrongOneEveryTime) {
  add_user("alice", "right");
  EXPECT_EQ(authenticator_.known_login("alice", "right", std::string(kAddress)), std::nullopt);
  ASSERT_TRUE(login("alice", "right"));
  EXPECT_EQ(checks_, 1);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(login("alice", "right"));
    ASSERT_TRUE(authenticator_.known_login("alice", "right", std::string(kAddress)));
  }
  EXPECT_EQ(checks_, 1);
  EXPECT_EQ(credentials_.size(), 1u);

  EXPECT_EQ(login("alice", "wrong").error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(login("alice", "wrong").error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(checks_, 3) << "a wrong password is checked each time";
  EXPECT_EQ(credentials_.size(), 1u) << "and never remembered";
  EXPECT_EQ(authenticator_.known_login("alice", "wrong", std::string(kAddress)), std::nullopt);
}

TEST_F(AuthCachesTest, ALockoutRefusesARememberedPasswordAndEndsIt) {
  add_user("alice", "right");
  ASSERT_TRUE(login("alice", "right"));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(login("alice", "wrong").error().code, ErrorCode::kUnauthorized);
  }
  // Locked out at this address: the remembered password does not get through, here or on the
  // event loop's path.
  EXPECT_EQ(authenticator_.known_login("alice", "right", std::string(kAddress)), std::nullopt);
  EXPECT_EQ(login("alice", "right").error().code, ErrorCode::kTooManyRequests);
  EXPECT_EQ(credentials_.size(), 0u);
  ASSERT_TRUE(authenticator_.unlock("alice"));
  const int before = checks_;
  ASSERT_TRUE(login("alice", "right"));
  EXPECT_EQ(checks_, before + 1) << "after a lockout, the password is checked again";
}

TEST_F(AuthCachesTest, ANewPasswordCostsAFullCheckAndTheOldOneNoLongerWorks) {
  add_user("alice", "old");
  ASSERT_TRUE(login("alice", "old"));
  ASSERT_TRUE(accounts().set_password("alice", hash_password("new", kCost).value()));
  const int before = checks_;
  EXPECT_EQ(authenticator_.known_login("alice", "old", std::string(kAddress)), std::nullopt);
  EXPECT_EQ(login("alice", "old").error().code, ErrorCode::kUnauthorized);
  ASSERT_TRUE(login("alice", "new"));
  EXPECT_EQ(checks_, before + 2);
  ASSERT_TRUE(login("alice", "new"));
  EXPECT_EQ(checks_, before + 2);
}

TEST_F(AuthCachesTest, ADemotionOrDeletionElsewhereEndsARememberedPasswordAfterASync) {
  add_user("root", "pw", true);
  ASSERT_TRUE(login("root", "pw")->admin);
  ASSERT_TRUE(elsewhere().set_admin("root", false));
  ASSERT_TRUE(version_.sync());
  EXPECT_EQ(authenticator_.known_login("root", "pw", std::string(kAddress)), std::nullopt);
  EXPECT_FALSE(login("root", "pw")->admin);
  ASSERT_TRUE(elsewhere().delete_user("root"));
  ASSERT_TRUE(version_.sync());
  EXPECT_EQ(login("root", "pw").error().code, ErrorCode::kUnauthorized);
}

TEST_F(AuthCachesTest, ARememberedPasswordLastsItsLifetime) {
  add_user("alice", "pw");
  ASSERT_TRUE(login("alice", "pw"));
  clock_.advance(299s);
  EXPECT_TRUE(authenticator_.known_login("alice", "pw", std::string(kAddress)));
  clock_.advance(1s);
  EXPECT_EQ(authenticator_.known_login("alice", "pw", std::string(kAddress)), std::nullopt);
  ASSERT_TRUE(login("alice", "pw"));
  EXPECT_EQ(checks_, 2);
}

TEST(CredentialCache, KeysAreUserAndPasswordTogetherAndBounded) {
  testing::TempDir dir;
  auto stores =
      meta::open_sqlite_stores(meta::SqliteOptions{.path = (dir.path() / "b.db").string()}).value();
  testing::FakeClock clock;
  AccountVersion version(*stores.accounts, nullptr);
  CredentialCache cache(version, clock, CredentialCacheOptions{.capacity = 64});
  const Identity ab{Identity::Kind::kUser, "ab", false, {}, "u1"};
  cache.remember(cache.epoch(), "ab", "c", ab);
  EXPECT_TRUE(cache.find("ab", "c"));
  EXPECT_EQ(cache.find("a", "bc"), std::nullopt);
  EXPECT_EQ(cache.find("ab", "C"), std::nullopt);
  for (int i = 0; i < 1000; ++i) {
    cache.remember(cache.epoch(), "user" + std::to_string(i), "pw", ab);
  }
  EXPECT_LE(cache.size(), 64u);
  cache.forget_user("ab");
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace berth::auth
