// The LoginThrottle contract (login_throttle.hpp) on every implementation: in memory
// (LoginRateLimiter, one process) and counted in the database (StoredLoginThrottle) on SQLite
// and on PostgreSQL. The shared suite asks what a client sees; the Shared suite adds what only a
// database-backed throttle promises: two throttles on one database (two replicas) count the
// same guesses, and an unlock through one lifts the lockout in the other.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "auth/rate_limiter.hpp"
#include "auth/stored_login_throttle.hpp"
#include "auth/throttle_keys.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "testing/fake_clock.hpp"
#include "testing/pg_test_database.hpp"
#include "testing/temp_dir.hpp"

namespace berth::auth {
namespace {

using std::chrono::seconds;

// One database (or none, in memory); throttles made by make() over it share their counts
// when shared() says so.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::unique_ptr<LoginThrottle> make(RateLimitOptions options,
                                              const core::Clock& clock) = 0;
  virtual bool shared() const = 0;
};

class MemoryBackend final : public Backend {
 public:
  std::unique_ptr<LoginThrottle> make(RateLimitOptions options, const core::Clock& clock) override {
    return std::make_unique<LoginRateLimiter>(std::move(options), clock);
  }
  bool shared() const override { return false; }
};

// Keeps every store it opened alive as long as itself.
class StoreBackend : public Backend {
 public:
  std::unique_ptr<LoginThrottle> make(RateLimitOptions options, const core::Clock& clock) override {
    auto stores = open();
    if (!stores) {
      throw std::runtime_error(stores.error().message);
    }
    stores_.push_back(std::move(*stores));
    return std::make_unique<StoredLoginThrottle>(*stores_.back().logins, std::move(options), clock);
  }
  bool shared() const override { return true; }
  // The store of the first throttle made.
  meta::LoginThrottleStore& store() { return *stores_.front().logins; }

 protected:
  virtual core::Result<meta::Stores> open() = 0;

 private:
  std::vector<meta::Stores> stores_;
};

class SqliteBackend final : public StoreBackend {
 protected:
  core::Result<meta::Stores> open() override {
    return meta::open_sqlite_stores(
        meta::SqliteOptions{.path = (dir_.path() / "berth.db").string()});
  }

 private:
  testing::TempDir dir_;
};

class PostgresBackend final : public StoreBackend {
 public:
  explicit PostgresBackend(std::unique_ptr<meta::PgTestDatabase> database)
      : database_(std::move(database)) {}

 protected:
  core::Result<meta::Stores> open() override { return meta::open_pg_stores(database_->options()); }

 private:
  std::unique_ptr<meta::PgTestDatabase> database_;
};

struct BackendFactory {
  std::string name;
  std::function<std::unique_ptr<Backend>()> make;
};
void PrintTo(const BackendFactory& factory, std::ostream* out) { *out << factory.name; }

class LoginThrottleContract : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    if (IsSkipped()) {
      return;
    }
    options_.max_failures_per_address = 5;
    options_.max_failures_per_user = 3;
    options_.window = seconds(60);
    options_.on_lockout = [this](const Lockout& lockout) { lockouts_.push_back(lockout); };
    throttle_ = make();
  }

  std::unique_ptr<LoginThrottle> make() { return backend_->make(options_, clock_); }

  // One wrong guess, which must have been allowed.
  static void fail(LoginThrottle& throttle, const std::string& address, const std::string& user) {
    auto reservation = throttle.reserve(address, user);
    ASSERT_TRUE(reservation.has_value()) << user << "@" << address << " was refused";
    reservation->failed();
  }
  void fail(const std::string& address, const std::string& user) {
    fail(*throttle_, address, user);
  }

  // The refusal an attempt would get now; nullopt if it would go ahead (the reservation taken
  // to find out is released unsettled, which counts nothing).
  static std::optional<LoginRefusal> refusal(LoginThrottle& throttle, const std::string& address,
                                             const std::string& user) {
    auto reservation = throttle.reserve(address, user);
    if (reservation) {
      return std::nullopt;
    }
    EXPECT_FALSE(reservation.error().error) << reservation.error().error->message;
    return reservation.error();
  }
  std::optional<LoginRefusal> refusal(const std::string& address, const std::string& user) {
    return refusal(*throttle_, address, user);
  }

  testing::FakeClock clock_;
  RateLimitOptions options_;
  std::vector<Lockout> lockouts_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<LoginThrottle> throttle_;
};

TEST_P(LoginThrottleContract, FreshClientsGoAhead) {
  EXPECT_FALSE(refusal("10.0.0.1", "alice"));
  EXPECT_FALSE(refusal("", ""));
}

TEST_P(LoginThrottleContract, UserFailuresLockOnlyTheAddressTheyCameFrom) {
  for (int i = 0; i < 3; ++i) {
    fail("10.0.0.1", "alice");
  }
  auto refused = refusal("10.0.0.1", "alice");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->retry_after, seconds(60));
  ASSERT_TRUE(refused->user_failures_since);
  EXPECT_EQ(*refused->user_failures_since, clock_.now());
  EXPECT_FALSE(refusal("10.0.0.2", "alice")) << "the owner elsewhere was locked out";
  EXPECT_FALSE(refusal("10.0.0.1", "bob"));
}

TEST_P(LoginThrottleContract, LimitsFailuresPerAddressWhateverTheNames) {
  for (int i = 0; i < 5; ++i) {
    fail("10.0.0.1", "user" + std::to_string(i));
  }
  auto refused = refusal("10.0.0.1", "someone-new");
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->user_failures_since) << "no user name is to blame";
  EXPECT_FALSE(refusal("10.0.0.2", "someone-new"));
}

TEST_P(LoginThrottleContract, WindowSlides) {
  fail("10.0.0.1", "alice");
  clock_.advance(seconds(30));
  fail("10.0.0.1", "alice");
  fail("10.0.0.1", "alice");
  auto refused = refusal("10.0.0.1", "alice");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->retry_after, seconds(30)) << "until the first failure leaves the window";
  clock_.advance(seconds(30));
  EXPECT_FALSE(refusal("10.0.0.1", "alice"));
  fail("10.0.0.1", "alice");
  EXPECT_TRUE(refusal("10.0.0.1", "alice"));
}

TEST_P(LoginThrottleContract, AttemptsInProgressCountAgainstTheLimit) {
  std::vector<LoginReservation> in_progress;
  for (int i = 0; i < 3; ++i) {
    auto reservation = throttle_->reserve("10.0.0.1", "alice");
    ASSERT_TRUE(reservation) << "attempt " << i;
    in_progress.push_back(std::move(*reservation));
  }
  auto refused = refusal("10.0.0.1", "alice");
  ASSERT_TRUE(refused) << "a fourth concurrent guess was let through";
  EXPECT_EQ(refused->retry_after, seconds(1));
  in_progress[0].succeeded();
  EXPECT_FALSE(refusal("10.0.0.1", "alice"));
}

TEST_P(LoginThrottleContract, SuccessKeepsEarlierFailures) {
  fail("10.0.0.1", "alice");
  fail("10.0.0.1", "alice");
  throttle_->reserve("10.0.0.1", "alice")->succeeded();
  fail("10.0.0.1", "alice");
  EXPECT_TRUE(refusal("10.0.0.1", "alice"));
}

// admits() is what a credential cache hit asks: the answer reserve() would give, counting nothing.
TEST_P(LoginThrottleContract, AdmitsSaysWhatAReservationWouldAndCountsNothing) {
  EXPECT_TRUE(throttle_->admits("10.0.0.1", "alice"));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(throttle_->admits("10.0.0.1", "alice"));
  }
  fail("10.0.0.1", "alice");
  fail("10.0.0.1", "alice");
  EXPECT_TRUE(throttle_->admits("10.0.0.1", "alice")) << "two failures of three";
  fail("10.0.0.1", "alice");
  EXPECT_FALSE(throttle_->admits("10.0.0.1", "alice")) << "a locked-out user was admitted";
  EXPECT_TRUE(throttle_->admits("10.0.0.2", "alice")) << "the owner elsewhere was locked out";
  for (int i = 0; i < 5; ++i) {
    fail("10.0.0.3", "user" + std::to_string(i));
  }
  EXPECT_FALSE(throttle_->admits("10.0.0.3", "someone-new")) << "a locked-out address";
  clock_.advance(seconds(61));
  EXPECT_TRUE(throttle_->admits("10.0.0.1", "alice")) << "after the window";
}

TEST_P(LoginThrottleContract, AdmitsRefusesWhileAttemptsInProgressFillTheLimit) {
  std::vector<LoginReservation> in_progress;
  for (int i = 0; i < 3; ++i) {
    auto reservation = throttle_->reserve("10.0.0.1", "alice");
    ASSERT_TRUE(reservation) << "attempt " << i;
    in_progress.push_back(std::move(*reservation));
  }
  EXPECT_FALSE(throttle_->admits("10.0.0.1", "alice"));
  in_progress[0].succeeded();
  EXPECT_TRUE(throttle_->admits("10.0.0.1", "alice"));
}

TEST_P(LoginThrottleContract, UnlockForgetsTheUsersFailuresUpToItsTimeOnly) {
  for (int i = 0; i < 3; ++i) {
    fail("10.0.0.1", "alice");
  }
  ASSERT_TRUE(refusal("10.0.0.1", "alice"));
  const auto unlocked_at = clock_.now();
  clock_.advance(seconds(1));
  throttle_->unlock_user("alice", unlocked_at);
  EXPECT_FALSE(refusal("10.0.0.1", "alice"));
  // The address's count stays: 3 of 5.
  fail("10.0.0.1", "alice");
  fail("10.0.0.1", "bob");
  EXPECT_TRUE(refusal("10.0.0.1", "carol")) << "the unlock cleared the address count";
}

TEST_P(LoginThrottleContract, EachLockoutIsReportedOnce) {
  for (int i = 0; i < 3; ++i) {
    fail("10.0.0.1", "alice");
  }
  ASSERT_EQ(lockouts_.size(), 1u);
  EXPECT_EQ(lockouts_[0].user, "alice");
  EXPECT_EQ(lockouts_[0].address, "10.0.0.1");
  EXPECT_EQ(lockouts_[0].failures, 3u);
  EXPECT_EQ(lockouts_[0].duration, seconds(60));
  fail("10.0.0.1", "bob");
  fail("10.0.0.1", "bob");
  ASSERT_EQ(lockouts_.size(), 2u);
  EXPECT_EQ(lockouts_[1].user, "");
  EXPECT_EQ(lockouts_[1].failures, 5u);
}

TEST_P(LoginThrottleContract, LongNamesAreCountedToo) {
  const std::string name(10'000, 'x');
  for (int i = 0; i < 3; ++i) {
    fail("10.0.0.1", name);
  }
  EXPECT_TRUE(refusal("10.0.0.1", name));
  throttle_->unlock_user(name, clock_.now());
  EXPECT_FALSE(refusal("10.0.0.1", name));
}

// ---- two throttles on one database: two replicas

class SharedLoginThrottleContract : public LoginThrottleContract {};

TEST_P(SharedLoginThrottleContract, GuessesSpreadOverReplicasGetNoMoreTries) {
  auto other = make();
  LoginThrottle* replicas[] = {throttle_.get(), other.get()};
  int allowed = 0;
  for (int i = 0; i < 10; ++i) {
    auto reservation = replicas[i % 2]->reserve("10.0.0.1", "alice");
    if (reservation) {
      ++allowed;
      reservation->failed();
    }
  }
  EXPECT_EQ(allowed, 3) << "round robin over two replicas got more than one replica's limit";
  EXPECT_TRUE(refusal(*other, "10.0.0.1", "alice"));
  EXPECT_EQ(lockouts_.size(), 1u) << "the lockout was reported by each replica";
}

TEST_P(SharedLoginThrottleContract, AnUnlockOnOneReplicaLiftsTheLockoutOnAll) {
  auto other = make();
  for (int i = 0; i < 3; ++i) {
    fail(*other, "10.0.0.1", "alice");
  }
  ASSERT_TRUE(refusal(*throttle_, "10.0.0.1", "alice"));
  throttle_->unlock_user("alice", clock_.now());
  EXPECT_FALSE(refusal(*other, "10.0.0.1", "alice"));
}

TEST_P(SharedLoginThrottleContract, AReservationOfADeadReplicaExpires) {
  // A replica reserved three attempts and died before it settled any: as it left the database.
  std::vector<meta::ThrottleKey> keys;
  for (auto& key : throttle_keys("10.0.0.1", "alice", options_.max_failures_per_address,
                                 options_.max_failures_per_user)) {
    keys.push_back(meta::ThrottleKey{key.name, key.user, key.limit});
  }
  auto& store = dynamic_cast<StoreBackend&>(*backend_).store();
  const auto now = clock_.now();
  for (int i = 0; i < 3; ++i) {
    auto reserved = store.reserve("dead-" + std::to_string(i), keys, now, now - options_.window,
                                  now + StoredLoginThrottle::kReservationLifetime);
    ASSERT_TRUE(reserved && reserved->reserved);
  }
  ASSERT_TRUE(refusal("10.0.0.1", "alice"));
  clock_.advance(StoredLoginThrottle::kReservationLifetime);
  EXPECT_FALSE(refusal("10.0.0.1", "alice"));
}

const BackendFactory kMemory{"Memory", [] { return std::make_unique<MemoryBackend>(); }};
const BackendFactory kSqlite{"Sqlite", [] { return std::make_unique<SqliteBackend>(); }};
const BackendFactory kPostgres{"Postgres", meta::make_pg_backend<Backend, PostgresBackend>};

std::string name_of(const ::testing::TestParamInfo<BackendFactory>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Local, LoginThrottleContract, ::testing::Values(kMemory, kSqlite),
                         name_of);
INSTANTIATE_TEST_SUITE_P(Postgres, LoginThrottleContract, ::testing::Values(kPostgres), name_of);
INSTANTIATE_TEST_SUITE_P(Local, SharedLoginThrottleContract, ::testing::Values(kSqlite), name_of);
INSTANTIATE_TEST_SUITE_P(Postgres, SharedLoginThrottleContract, ::testing::Values(kPostgres),
                         name_of);

}  // namespace
}  // namespace berth::auth
