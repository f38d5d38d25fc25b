// The web UI's sessions on a real store (SQLite in memory) and a fake clock: what opens one,
// the idle and absolute lifetimes, last-seen written at most once a minute, and every way a
// session ends early (password change, demotion, deletion, an htpasswd line that changed).
#include "auth/ui_sessions.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "auth/password.hpp"
#include "auth/rate_limiter.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "testing/fake_clock.hpp"
#include "testing/temp_dir.hpp"

namespace berth::auth {
namespace {

using namespace std::chrono_literals;
using core::ErrorCode;
namespace fs = std::filesystem;

constexpr int kCost = 4;

class UiSessionsTest : public ::testing::Test {
 protected:
  UiSessionsTest() {
    stores_ = meta::open_sqlite_stores(meta::SqliteOptions{.path = ":memory:"}).value();
  }

  void SetUp() override {
    const fs::path file = dir_.path() / "htpasswd";
    write_htpasswd("carol-password-1");
    htpasswd_ = std::make_unique<HtpasswdFile>(
        file, [](const std::string&) {}, 0ms);
    authenticator_ =
        std::make_unique<Authenticator>(*stores_.accounts, htpasswd_.get(), limiter_, clock_);
    sessions_ = std::make_unique<UiSessions>(
        *stores_.sessions, *authenticator_, clock_,
        UiSessionOptions{.idle = 30min, .lifetime = 12h, .touch_interval = 1min});
  }

  void write_htpasswd(const std::string& password) {
    const fs::path next = dir_.path() / "htpasswd.new";
    std::ofstream(next) << "carol:" << hash_password(password, kCost).value() << "\n";
    fs::rename(next, dir_.path() / "htpasswd");  // a new inode: a change the reader sees
  }

  void add_user(const std::string& name, bool admin = false) {
    ASSERT_TRUE(stores_.accounts->create_user(
        meta::User{.name = name,
                   .password_hash = hash_password(name + "-pw", kCost).value(),
                   .admin = admin}));
  }

  // Signs in as the Authenticator does for the registry, then opens a session.
  UiSessions::Opened sign_in(const std::string& name, const std::string& password) {
    auto identity = authenticator_->login(name, password, "10.0.0.1");
    EXPECT_TRUE(identity) << identity.error().message;
    return sessions_->open(*identity).value();
  }

  ErrorCode resume_error(const std::string& secret) {
    auto resumed = sessions_->resume(secret);
    EXPECT_FALSE(resumed);
    return resumed ? ErrorCode::kInternal : resumed.error().code;
  }

  core::TimePoint last_seen(const std::string& secret) {
    return stores_.sessions->get_session(token_hash(secret)).value()->last_seen;
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  meta::Stores stores_;
  LoginRateLimiter limiter_{RateLimitOptions{}, clock_};
  std::unique_ptr<HtpasswdFile> htpasswd_;
  std::unique_ptr<Authenticator> authenticator_;
  std::unique_ptr<UiSessions> sessions_;
};

TEST_F(UiSessionsTest, ASessionResumesAsItsUserWithItsCsrfToken) {
  add_user("alice", true);
  const auto opened = sign_in("alice", "alice-pw");
  EXPECT_NE(opened.secret, opened.csrf_token);
  EXPECT_GE(opened.secret.size(), 43u);
  auto resumed = sessions_->resume(opened.secret).value();
  EXPECT_EQ(resumed.identity.name, "alice");
  EXPECT_TRUE(resumed.identity.admin);
  EXPECT_EQ(resumed.csrf_token, opened.csrf_token);
  // Only the secret's hash is stored.
  EXPECT_FALSE(stores_.sessions->get_session(opened.secret).value());
  EXPECT_EQ(resume_error("not-a-session"), ErrorCode::kUnauthorized);

  ASSERT_TRUE(sessions_->close(opened.secret));
  EXPECT_EQ(resume_error(opened.secret), ErrorCode::kUnauthorized);
}

TEST_F(UiSessionsTest, RobotsAndAnonymousCallersGetNoSession) {
  auto robot = sessions_->open(Identity{Identity::Kind::kRobot, "robot$ci", false, {}, "r1"});
  ASSERT_FALSE(robot);
  EXPECT_EQ(robot.error().code, ErrorCode::kDenied);
  EXPECT_FALSE(sessions_->open(Identity{}));
}

TEST_F(UiSessionsTest, IdleSessionsEndAndUseKeepsThemAlive) {
  add_user("alice");
  const auto opened = sign_in("alice", "alice-pw");
  // Used every 20 minutes, it outlives the 30-minute idle lifetime many times over.
  for (int i = 0; i < 6; ++i) {
    clock_.advance(20min);
    ASSERT_TRUE(sessions_->resume(opened.secret)) << "after " << (i + 1) * 20 << " minutes";
  }
  clock_.advance(30min);
  EXPECT_EQ(resume_error(opened.secret), ErrorCode::kUnauthorized);
  // The ended session is gone from the database.
  EXPECT_FALSE(stores_.sessions->get_session(token_hash(opened.secret)).value());
}

TEST_F(UiSessionsTest, EverySessionEndsAtItsLifetime) {
  add_user("alice");
  const auto opened = sign_in("alice", "alice-pw");
  for (int i = 0; i < 47; ++i) {
    clock_.advance(15min);
    ASSERT_TRUE(sessions_->resume(opened.secret)) << i;
  }
  clock_.advance(15min);  // 12 hours after the sign-in
  auto ended = sessions_->resume(opened.secret);
  ASSERT_FALSE(ended);
  EXPECT_NE(ended.error().message.find("lifetime"), std::string::npos) << ended.error().message;
}

TEST_F(UiSessionsTest, LastSeenIsWrittenAtMostOnceAMinute) {
  add_user("alice");
  const auto opened = sign_in("alice", "alice-pw");
  const auto start = clock_.now();
  clock_.advance(59s);
  ASSERT_TRUE(sessions_->resume(opened.secret));
  EXPECT_EQ(last_seen(opened.secret), start);
  clock_.advance(1s);
  ASSERT_TRUE(sessions_->resume(opened.secret));
  EXPECT_EQ(last_seen(opened.secret), start + 60s);
}

TEST_F(UiSessionsTest, APasswordChangeADemotionAndADeletionEndSessions) {
  add_user("alice", true);
  add_user("bob", true);
  add_user("dave");
  const auto alice = sign_in("alice", "alice-pw");
  const auto bob = sign_in("bob", "bob-pw");
  const auto dave = sign_in("dave", "dave-pw");
  ASSERT_TRUE(stores_.accounts->set_password("alice", hash_password("new", kCost).value()));
  ASSERT_TRUE(stores_.accounts->set_admin("bob", false));
  ASSERT_TRUE(stores_.accounts->delete_user("dave"));
  EXPECT_EQ(resume_error(alice.secret), ErrorCode::kUnauthorized);
  EXPECT_EQ(resume_error(bob.secret), ErrorCode::kUnauthorized);
  EXPECT_EQ(resume_error(dave.secret), ErrorCode::kUnauthorized);
}

TEST_F(UiSessionsTest, AUserMadeAgainUnderTheSameNameInheritsNoSession) {
  add_user("erin");
  const auto opened = sign_in("erin", "erin-pw");
  const auto row = stores_.sessions->get_session(token_hash(opened.secret)).value().value();
  // Deleted and made again; the row put back as if the deletion had missed it.
  ASSERT_TRUE(stores_.accounts->delete_user("erin"));
  ASSERT_TRUE(stores_.sessions->create_session(row));
  add_user("erin");
  EXPECT_EQ(resume_error(opened.secret), ErrorCode::kUnauthorized);
}

TEST_F(UiSessionsTest, AnHtpasswdUserWhoseLineChangedIsSignedOut) {
  const auto opened = sign_in("carol", "carol-password-1");
  ASSERT_TRUE(sessions_->resume(opened.secret));
  write_htpasswd("carol-password-2");
  EXPECT_EQ(resume_error(opened.secret), ErrorCode::kUnauthorized);
}

TEST_F(UiSessionsTest, PurgeTakesWhatHasExpired) {
  add_user("alice");
  const auto old = sign_in("alice", "alice-pw");
  clock_.advance(20min);
  const auto fresh = sign_in("alice", "alice-pw");
  clock_.advance(15min);
  EXPECT_EQ(sessions_->purge().value(), 1u);
  EXPECT_FALSE(stores_.sessions->get_session(token_hash(old.secret)).value());
  EXPECT_TRUE(sessions_->resume(fresh.secret));
}

}  // namespace
}  // namespace berth::auth
