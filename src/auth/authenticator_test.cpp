// Tests of the Authenticator on a real account store (SQLite in memory), the in-memory login
// throttle and a fake clock: throttling per address and per user at an address, reserving
// before hashing, what is reported, unlocking, and binding tokens to accounts.
#include "auth/authenticator.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "auth/password.hpp"
#include "auth/rate_limiter.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "testing/fake_clock.hpp"
#include "testing/temp_dir.hpp"

namespace berth::auth {
namespace {

using core::ErrorCode;
namespace fs = std::filesystem;

constexpr int kCost = 4;

class AuthenticatorTest : public ::testing::Test {
 protected:
  AuthenticatorTest() {
    stores_ = meta::open_sqlite_stores(meta::SqliteOptions{.path = ":memory:"}).value();
    options_.max_failures_per_address = 20;
    options_.max_failures_per_user = 10;
    options_.window = std::chrono::seconds(300);
  }

  meta::AccountStore& accounts() { return *stores_.accounts; }

  Authenticator& authenticator() {
    if (!authenticator_) {
      limiter_ = std::make_unique<LoginRateLimiter>(options_, clock_);
      authenticator_ = std::make_unique<Authenticator>(accounts(), htpasswd_.get(), *limiter_,
                                                       clock_, [this](const LoginFailure& failure) {
                                                         std::lock_guard lock(mutex_);
                                                         failures_.push_back(failure);
                                                       });
    }
    return *authenticator_;
  }

  void add_user(const std::string& name, const std::string& password, int cost = kCost) {
    ASSERT_TRUE(accounts().create_user(
        meta::User{.name = name, .password_hash = hash_password(password, cost).value()}));
  }

  std::string add_robot(const std::string& name) {
    const std::string token = random_token("brb_");
    EXPECT_TRUE(accounts().create_robot(meta::Robot{.name = name,
                                                    .description = "",
                                                    .token_hash = token_hash(token),
                                                    .scopes = {},
                                                    .created = clock_.now(),
                                                    .expires = std::nullopt,
                                                    .last_used = std::nullopt,
                                                    .revoked = false}));
    return token;
  }

  ErrorCode code(const core::Result<Identity>& result) {
    EXPECT_FALSE(result.has_value());
    return result ? ErrorCode::kInternal : result.error().code;
  }

  std::vector<LoginFailure> failures() {
    std::lock_guard lock(mutex_);
    return failures_;
  }

  testing::FakeClock clock_;
  meta::SqliteStores stores_;
  RateLimitOptions options_;
  std::unique_ptr<HtpasswdFile> htpasswd_;
  std::unique_ptr<LoginRateLimiter> limiter_;
  std::unique_ptr<Authenticator> authenticator_;
  std::mutex mutex_;
  std::vector<LoginFailure> failures_;
};

// Regression: ten wrong passwords from any address locked the user out everywhere, the right
// password from another address included: anyone could lock out the administrator.
TEST_F(AuthenticatorTest, GuessesLockOutOnlyTheAddressTheyCameFrom) {
  add_user("admin", "right-password");
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(code(authenticator().login("admin", "guess", "203.0.113.9")),
              ErrorCode::kUnauthorized);
  }
  EXPECT_EQ(code(authenticator().login("admin", "right-password", "203.0.113.9")),
            ErrorCode::kTooManyRequests);
  auto elsewhere = authenticator().login("admin", "right-password", "10.0.0.1");
  ASSERT_TRUE(elsewhere) << elsewhere.error().message;
  EXPECT_EQ(elsewhere->name, "admin");
}

TEST_F(AuthenticatorTest, RobotTokensAreNotThrottledPerName) {
  const std::string token = add_robot("ci");
  // More wrong tokens for robot$ci than the per-user limit, spread so that no address is at
  // its own limit.
  for (int i = 0; i < 15; ++i) {
    EXPECT_EQ(
        code(authenticator().login("robot$ci", "brb_wrong", "203.0.113." + std::to_string(i % 3))),
        ErrorCode::kUnauthorized);
  }
  EXPECT_TRUE(authenticator().login("robot$ci", token, "203.0.113.0"));
  EXPECT_TRUE(authenticator().login("robot$ci", token, "10.0.0.1"));
}

// Regression: 30 concurrent wrong passwords ran 17 bcrypt checks against a limit of 10: the
// count was checked before the hash and raised after it.
TEST_F(AuthenticatorTest, ConcurrentGuessesCheckNoMoreSecretsThanTheLimit) {
  add_user("alice", "right-password", 8);  // slow enough for the guesses to overlap
  constexpr int kGuesses = 30;
  std::latch start(kGuesses);
  std::atomic<int> unauthorized{0};
  std::atomic<int> throttled{0};
  (void)authenticator();
  std::vector<std::jthread> threads;
  for (int i = 0; i < kGuesses; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      auto result = authenticator_->login("alice", "guess", "203.0.113.9");
      if (!result && result.error().code == ErrorCode::kUnauthorized) {
        ++unauthorized;
      } else if (!result && result.error().code == ErrorCode::kTooManyRequests) {
        ++throttled;
      }
    });
  }
  threads.clear();
  EXPECT_EQ(unauthorized.load(), 10);
  EXPECT_EQ(throttled.load(), kGuesses - 10);
  int checked = 0;
  for (const auto& failure : failures()) {
    checked += failure.throttled ? 0 : 1;
  }
  EXPECT_EQ(checked, 10) << "secrets checked";
}

TEST_F(AuthenticatorTest, EachFailureIsReportedWithUserAddressAndReason) {
  add_user("alice", "right-password");
  const std::string robot = add_robot("ci");
  (void)authenticator().login("alice", "wrong", "10.0.0.1");
  (void)authenticator().login("nobody", "wrong", "10.0.0.2");
  (void)authenticator().login("robot$ci", "brb_wrong", "10.0.0.3");
  (void)authenticator().login("robot$gone", robot, "10.0.0.4");
  ASSERT_TRUE(accounts().revoke_robot("ci"));
  (void)authenticator().login("robot$ci", robot, "10.0.0.5");
  ASSERT_TRUE(authenticator().login("alice", "right-password", "10.0.0.1"));
  const auto reported = failures();
  ASSERT_EQ(reported.size(), 5u);
  const std::vector<std::tuple<std::string, std::string, std::string>> expected = {
      {"alice", "10.0.0.1", "wrong password"},
      {"nobody", "10.0.0.2", "unknown user"},
      {"robot$ci", "10.0.0.3", "wrong robot token"},
      {"robot$gone", "10.0.0.4", "unknown robot"},
      {"robot$ci", "10.0.0.5", "revoked robot"}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(std::tie(reported[i].user, reported[i].address, reported[i].reason), expected[i]);
    EXPECT_FALSE(reported[i].throttled);
    EXPECT_EQ(describe(reported[i]).find("right-password"), std::string::npos);
  }
}

// berth user unlock runs in another process: it writes the store, which the server reads
// when it would refuse the user.
TEST_F(AuthenticatorTest, UnlockRecordedInTheStoreLiftsTheLockout) {
  options_.max_failures_per_address = 1000;  // the user's lockout only
  add_user("alice", "right-password");
  for (int i = 0; i < 10; ++i) {
    (void)authenticator().login("alice", "guess", "10.0.0.1");
  }
  ASSERT_EQ(code(authenticator().login("alice", "right-password", "10.0.0.1")),
            ErrorCode::kTooManyRequests);
  clock_.advance(std::chrono::seconds(1));
  ASSERT_TRUE(accounts().unlock_logins("alice", clock_.now()));
  EXPECT_TRUE(authenticator().login("alice", "right-password", "10.0.0.1"));
  // An unlock lifts the failures before it, not those after.
  clock_.advance(std::chrono::seconds(1));
  for (int i = 0; i < 10; ++i) {
    (void)authenticator().login("alice", "guess", "10.0.0.1");
  }
  EXPECT_EQ(code(authenticator().login("alice", "right-password", "10.0.0.1")),
            ErrorCode::kTooManyRequests);
  ASSERT_TRUE(authenticator().unlock("alice"));
  EXPECT_TRUE(authenticator().login("alice", "right-password", "10.0.0.1"));
}

// Regression: tokens named the account by name only, so deleting user tmp2 and creating a new
// tmp2 handed the old sessions to the new account.
TEST_F(AuthenticatorTest, TokensOfADeletedAccountDoNotPassToItsNamesake) {
  add_user("tmp2", "first-password");
  const auto first = authenticator().login("tmp2", "first-password", "10.0.0.1").value();
  EXPECT_TRUE(authenticator().identity_of("tmp2", first.account));
  ASSERT_TRUE(accounts().delete_user("tmp2"));
  add_user("tmp2", "second-password");
  EXPECT_EQ(code(authenticator().identity_of("tmp2", first.account)), ErrorCode::kUnauthorized);
  const auto second = authenticator().login("tmp2", "second-password", "10.0.0.1").value();
  EXPECT_NE(second.account, first.account);
  EXPECT_TRUE(authenticator().identity_of("tmp2", second.account));
  // A token from before accounts had ids names none.
  EXPECT_EQ(code(authenticator().identity_of("tmp2", "")), ErrorCode::kUnauthorized);
  EXPECT_TRUE(authenticator().identity_of("", ""));
}

TEST_F(AuthenticatorTest, RecreatedRobotIsAnotherAccount) {
  const std::string token = add_robot("ci");
  const auto first = authenticator().login("robot$ci", token, "10.0.0.1").value();
  ASSERT_TRUE(accounts().delete_robot("ci"));
  (void)add_robot("ci");
  EXPECT_EQ(code(authenticator().identity_of("robot$ci", first.account)), ErrorCode::kUnauthorized);
}

// Regression: a password changed in the htpasswd file left that user's refresh tokens valid.
TEST_F(AuthenticatorTest, ChangedHtpasswdLineIsAnotherAccount) {
  const testing::TempDir temp;
  const fs::path& dir = temp.path();
  const fs::path file = dir / "htpasswd";
  auto write = [&](const std::string& password) {
    const fs::path next = dir / "htpasswd.new";
    std::ofstream(next) << "carol:" << hash_password(password, kCost).value() << "\n";
    fs::rename(next, file);  // a new inode: a change the file's reader always sees
  };
  write("carol-password-1");
  htpasswd_ = std::make_unique<HtpasswdFile>(
      file, [](const std::string&) {}, std::chrono::milliseconds(0));
  const auto before = authenticator().login("carol", "carol-password-1", "10.0.0.1").value();
  EXPECT_EQ(before.account.front(), 'h');
  EXPECT_TRUE(authenticator().identity_of("carol", before.account));
  write("carol-password-2");
  EXPECT_EQ(code(authenticator().identity_of("carol", before.account)), ErrorCode::kUnauthorized);
  const auto after = authenticator().login("carol", "carol-password-2", "10.0.0.1").value();
  EXPECT_TRUE(authenticator().identity_of("carol", after.account));
}

TEST(LoginEvents, UserNamesArePrintableAndShort) {
  EXPECT_EQ(printable("alice"), "alice");
  EXPECT_EQ(printable("a\nb'c\\"), "a\\x0ab\\'c\\\\");
  EXPECT_EQ(printable(std::string(100, 'x')), std::string(64, 'x') + "...");
  const LoginFailure failure{"eve\n2026 fake line", "10.0.0.1", "unknown user", false};
  EXPECT_EQ(describe(failure).find('\n'), std::string::npos);
}

}  // namespace
}  // namespace berth::auth
