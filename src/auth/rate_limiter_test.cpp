// Tests of the login rate limiter, on a fake clock.
#include "auth/rate_limiter.hpp"

#include <gtest/gtest.h>

#include "testing/fake_clock.hpp"

namespace berth::auth {
namespace {

using std::chrono::seconds;

RateLimitOptions small_limits() {
  RateLimitOptions options;
  options.max_failures_per_address = 5;
  options.max_failures_per_user = 3;
  options.window = seconds(60);
  options.max_tracked_keys = 1000;
  return options;
}

TEST(LoginRateLimiter, FreshClientsGoAhead) {
  testing::FakeClock clock;
  LoginRateLimiter limiter(small_limits(), clock);
  EXPECT_FALSE(limiter.check("10.0.0.1", "alice").has_value());
  EXPECT_FALSE(limiter.check("", "").has_value());
}

TEST(LoginRateLimiter, LimitsFailuresPerUser) {
  testing::FakeClock clock;
  LoginRateLimiter limiter(small_limits(), clock);
  // Three addresses guessing one user's password.
  limiter.record_failure("10.0.0.1", "alice");
  limiter.record_failure("10.0.0.2", "alice");
  EXPECT_FALSE(limiter.check("10.0.0.3", "alice").has_value());
  limiter.record_failure("10.0.0.3", "alice");
  auto retry = limiter.check("10.0.0.4", "alice");
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(*retry, seconds(60));
  // Other users, from the same addresses, are not affected.
  EXPECT_FALSE(limiter.check("10.0.0.1", "bob").has_value());
}

TEST(LoginRateLimiter, LimitsFailuresPerAddress) {
  testing::FakeClock clock;
  LoginRateLimiter limiter(small_limits(), clock);
  // One address trying many users, each below the per-user limit.
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(limiter.check("10.0.0.1", "user" + std::to_string(i)).has_value());
    limiter.record_failure("10.0.0.1", "user" + std::to_string(i));
    clock.advance(seconds(1));
  }
  auto retry = limiter.check("10.0.0.1", "somebody-else");
  ASSERT_TRUE(retry.has_value());
  // The first failure was 5 s ago; it leaves the 60 s window in 55 s.
  EXPECT_EQ(*retry, seconds(55));
  EXPECT_FALSE(limiter.check("10.0.0.2", "somebody-else").has_value());
}

TEST(LoginRateLimiter, AnonymousRequestsCountOnlyTheAddress) {
  testing::FakeClock clock;
  LoginRateLimiter limiter(small_limits(), clock);
  for (int i = 0; i < 5; ++i) {
    limiter.record_failure("10.0.0.1", "");
  }
  EXPECT_TRUE(limiter.check("10.0.0.1", "").has_value());
  EXPECT_FALSE(limiter.check("10.0.0.2", "").has_value());
}

TEST(LoginRateLimiter, WindowSlides) {
  testing::FakeClock clock;
  LoginRateLimiter limiter(small_limits(), clock);
  limiter.record_failure("a", "alice");  // t = 0
  clock.advance(seconds(20));
  limiter.record_failure("b", "alice");  // t = 20
  clock.advance(seconds(20));
  limiter.record_failure("c", "alice");  // t = 40
  clock.advance(seconds(10));            // t = 50
  auto retry = limiter.check("d", "alice");
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(*retry, seconds(10));

  clock.advance(std::chrono::milliseconds(9'500));  // t = 59.5: rounded up, not to zero
  retry = limiter.check("d", "alice");
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(*retry, seconds(1));

  clock.advance(std::chrono::milliseconds(500));  // t = 60: the first failure has left
  EXPECT_FALSE(limiter.check("d", "alice").has_value());
  limiter.record_failure("d", "alice");  // t = 60: three in the window again
  retry = limiter.check("e", "alice");
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(*retry, seconds(20));  // until the t = 20 failure leaves
}

TEST(LoginRateLimiter, EverythingExpiresAfterTheWindow) {
  testing::FakeClock clock;
  LoginRateLimiter limiter(small_limits(), clock);
  for (int i = 0; i < 50; ++i) {
    limiter.record_failure("10.0.0.1", "alice");
  }
  EXPECT_TRUE(limiter.check("10.0.0.1", "alice").has_value());
  clock.advance(seconds(60));
  EXPECT_FALSE(limiter.check("10.0.0.1", "alice").has_value());
}

TEST(LoginRateLimiter, WhenBothAreBlockedWaitsForTheLater) {
  testing::FakeClock clock;
  LoginRateLimiter limiter(small_limits(), clock);
  for (int i = 0; i < 5; ++i) {
    limiter.record_failure("10.0.0.1", "x" + std::to_string(i));  // address: t = 0
  }
  clock.advance(seconds(30));
  for (int i = 0; i < 3; ++i) {
    limiter.record_failure("10.0.0.2", "alice");  // user: t = 30
  }
  auto retry = limiter.check("10.0.0.1", "alice");
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(*retry, seconds(60));
}

TEST(LoginRateLimiter, ZeroLimitTurnsCountingOff) {
  testing::FakeClock clock;
  RateLimitOptions options = small_limits();
  options.max_failures_per_user = 0;
  LoginRateLimiter limiter(options, clock);
  for (int i = 0; i < 4; ++i) {
    limiter.record_failure("10.0.0." + std::to_string(i), "alice");
  }
  EXPECT_FALSE(limiter.check("10.0.0.9", "alice").has_value());
}

TEST(LoginRateLimiter, EvictsTheLeastRecentlyFailingKeyAtTheBound) {
  testing::FakeClock clock;
  RateLimitOptions options = small_limits();
  options.max_tracked_keys = 4;
  LoginRateLimiter limiter(options, clock);
  for (int i = 0; i < 5; ++i) {
    limiter.record_failure("victim", "");
  }
  ASSERT_TRUE(limiter.check("victim", "").has_value());
  clock.advance(seconds(1));
  // Three more keys fit beside the victim; its count survives.
  for (int i = 0; i < 3; ++i) {
    limiter.record_failure("other" + std::to_string(i), "");
  }
  EXPECT_TRUE(limiter.check("victim", "").has_value());
  // A fifth key pushes out the key whose last failure is oldest: the victim.
  limiter.record_failure("other3", "");
  EXPECT_FALSE(limiter.check("victim", "").has_value());
  EXPECT_FALSE(limiter.check("other0", "").has_value());  // not at its limit anyway
}

TEST(LoginRateLimiter, RecentFailureKeepsAKeyFromEviction) {
  testing::FakeClock clock;
  RateLimitOptions options = small_limits();
  options.max_tracked_keys = 3;
  LoginRateLimiter limiter(options, clock);
  for (int i = 0; i < 4; ++i) {
    limiter.record_failure("busy", "");
  }
  limiter.record_failure("quiet1", "");
  limiter.record_failure("quiet2", "");
  clock.advance(seconds(1));
  limiter.record_failure("busy", "");  // fifth failure, and now the most recent key
  limiter.record_failure("new", "");   // evicts quiet1, not busy
  EXPECT_TRUE(limiter.check("busy", "").has_value());
}

TEST(LoginRateLimiter, MemoryStaysBoundedUnderAFlood) {
  testing::FakeClock clock;
  RateLimitOptions options = small_limits();
  options.max_tracked_keys = 100;
  LoginRateLimiter limiter(options, clock);
  for (int i = 0; i < 10'000; ++i) {
    limiter.record_failure("10.1." + std::to_string(i), "user" + std::to_string(i));
    ASSERT_LE(limiter.tracked_keys(), 100u);
  }
  EXPECT_EQ(limiter.tracked_keys(), 100u);
  // The newest keys are the ones kept.
  for (int j = 0; j < 2; ++j) {
    limiter.record_failure("", "user9999");
  }
  EXPECT_TRUE(limiter.check("", "user9999").has_value());
}

TEST(LoginRateLimiter, ExpiredKeysArePruned) {
  testing::FakeClock clock;
  LoginRateLimiter limiter(small_limits(), clock);
  for (int i = 0; i < 50; ++i) {
    limiter.record_failure("10.1." + std::to_string(i), "");
  }
  EXPECT_EQ(limiter.tracked_keys(), 50u);
  clock.advance(seconds(61));
  limiter.record_failure("10.2.0.1", "");
  EXPECT_EQ(limiter.tracked_keys(), 1u);
}

TEST(LoginRateLimiter, LongUserNamesAreCountedToo) {
  testing::FakeClock clock;
  LoginRateLimiter limiter(small_limits(), clock);
  const std::string long_name(10'000, 'x');
  for (int i = 0; i < 3; ++i) {
    limiter.record_failure("10.0.0." + std::to_string(i), long_name);
  }
  EXPECT_TRUE(limiter.check("10.0.0.9", long_name).has_value());
  EXPECT_FALSE(limiter.check("10.0.0.9", long_name + "y").has_value());
}

}  // namespace
}  // namespace berth::auth
