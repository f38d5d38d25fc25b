// The verified-token cache on a fake clock: a token seen before is not verified again (the
// same claims come back), until it expires; a token that fails is never kept; the cache stays
// within its bound.
#include "auth/token_cache.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "testing/fake_clock.hpp"
#include "testing/temp_dir.hpp"

namespace berth::auth {
namespace {

using namespace std::chrono_literals;

class TokenCacheTest : public ::testing::Test {
 protected:
  TokenCacheTest() {
    TokenServiceOptions options;
    options.ttl = 300s;
    options.leeway = 60s;
    tokens_ = TokenService::open(dir_.path() / "key.pem", options, clock_).value();
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  std::unique_ptr<TokenService> tokens_;
};

TEST_F(TokenCacheTest, ATokenSeenBeforeIsNotVerifiedAgain) {
  TokenCache cache(*tokens_, clock_);
  const auto token = tokens_->issue("alice", {Access{"repository", "app/web", {"pull"}}}, "u1");
  auto first = cache.verify(token);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ((*first)->subject, "alice");
  EXPECT_EQ((*first)->account, "u1");
  ASSERT_EQ((*first)->access.size(), 1u);
  clock_.advance(299s);
  auto again = cache.verify(token);
  ASSERT_TRUE(again);
  // The very claims of the first verification: no new ones were made.
  EXPECT_EQ(again->get(), first->get());
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(TokenCacheTest, AnExpiredTokenIsVerifiedAgainAndRefusedPastTheLeeway) {
  TokenCache cache(*tokens_, clock_);
  const auto token = tokens_->issue("alice", {});
  auto first = cache.verify(token);
  ASSERT_TRUE(first);
  clock_.advance(300s);
  // At its expiry the entry is gone: verified again (within the verifier's leeway: accepted).
  auto within_leeway = cache.verify(token);
  ASSERT_TRUE(within_leeway);
  EXPECT_NE(within_leeway->get(), first->get());
  clock_.advance(61s);
  auto late = cache.verify(token);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, core::ErrorCode::kUnauthorized);
}

TEST_F(TokenCacheTest, ATokenThatFailsIsNeverKept) {
  TokenCache cache(*tokens_, clock_);
  auto token = tokens_->issue("alice", {});
  char& inside = token[token.size() - 10];  // in the signature, clear of its padding bits
  inside = inside == 'A' ? 'B' : 'A';
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(cache.verify(token));
  }
  EXPECT_FALSE(cache.verify("not a token"));
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(TokenCacheTest, StaysWithinItsBound) {
  TokenCache cache(*tokens_, clock_, 64);
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(cache.verify(tokens_->issue("user" + std::to_string(i), {})));
  }
  EXPECT_LE(cache.size(), 64u);
  EXPECT_GT(cache.size(), 0u);
}

}  // namespace
}  // namespace berth::auth
