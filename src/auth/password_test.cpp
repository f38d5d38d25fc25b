// Tests of bcrypt hashing, token hashes and random tokens. Hashes are made with cost 4, the
// lowest bcrypt allows: each cost step doubles the work, and the default 12 would make every
// hash here take ~0.2 s (much more under the sanitizers) without testing anything more.
#include "auth/password.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace berth::auth {
namespace {

constexpr int kTestCost = 4;

TEST(HashPassword, VerifiesTheSamePasswordOnly) {
  auto hash = hash_password("correct horse", kTestCost);
  ASSERT_TRUE(hash.has_value()) << hash.error().message;
  EXPECT_TRUE(hash->starts_with("$2b$04$"));
  EXPECT_TRUE(is_bcrypt_hash(*hash));
  EXPECT_TRUE(verify_password("correct horse", *hash));
  EXPECT_FALSE(verify_password("correct horsf", *hash));
  EXPECT_FALSE(verify_password("", *hash));
  EXPECT_FALSE(verify_password("correct horse ", *hash));
}

TEST(HashPassword, SaltsEveryHash) {
  auto a = hash_password("same", kTestCost);
  auto b = hash_password("same", kTestCost);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(verify_password("same", *a));
  EXPECT_TRUE(verify_password("same", *b));
}

TEST(HashPassword, EmptyPasswordHashes) {
  auto hash = hash_password("", kTestCost);
  ASSERT_TRUE(hash.has_value());
  EXPECT_TRUE(verify_password("", *hash));
  EXPECT_FALSE(verify_password("x", *hash));
}

TEST(HashPassword, RefusesPasswordsBcryptWouldTruncate) {
  auto with_nul = hash_password(std::string("ab\0cd", 5), kTestCost);
  ASSERT_FALSE(with_nul.has_value());
  EXPECT_EQ(with_nul.error().code, core::ErrorCode::kUnsupported);

  auto too_long = hash_password(std::string(kMaxPasswordLength + 1, 'a'), kTestCost);
  ASSERT_FALSE(too_long.has_value());
  EXPECT_EQ(too_long.error().code, core::ErrorCode::kUnsupported);

  auto longest = hash_password(std::string(kMaxPasswordLength, 'a'), kTestCost);
  ASSERT_TRUE(longest.has_value());
  EXPECT_TRUE(verify_password(std::string(kMaxPasswordLength, 'a'), *longest));
}

TEST(HashPassword, RefusesCostsOutsideBcryptsRange) {
  EXPECT_FALSE(hash_password("x", 3).has_value());
  EXPECT_FALSE(hash_password("x", 32).has_value());
}

TEST(VerifyPassword, PasswordWithNulNeverMatchesItsPrefix) {
  auto hash = hash_password("ab", kTestCost);
  ASSERT_TRUE(hash.has_value());
  EXPECT_FALSE(verify_password(std::string("ab\0cd", 5), *hash));
}

// Hashes written by other implementations keep verifying: "$2a$" from the Openwall
// crypt_blowfish test vectors, "$2y$" from PHP's password_verify documentation (cost 10, the
// one slow hash here).
TEST(VerifyPassword, AcceptsHashesFromOtherTools) {
  const std::string a = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
  EXPECT_TRUE(verify_password("U*U", a));
  EXPECT_FALSE(verify_password("U*V", a));
  const std::string y = "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a";
  EXPECT_TRUE(verify_password("rasmuslerdorf", y));
  EXPECT_FALSE(verify_password("rasmuslerdorF", y));
}

TEST(VerifyPassword, RefusesEveryOtherHashKind) {
  // MD5 (apr1), SHA1, DES crypt, SHA-512 crypt, plaintext: even when the password "matches"
  // in that scheme, only bcrypt is ever accepted.
  EXPECT_FALSE(verify_password("password", "$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/"));
  EXPECT_FALSE(verify_password("password", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="));
  EXPECT_FALSE(verify_password("password", "rl0uE2H5m5ENE"));
  EXPECT_FALSE(verify_password(
      "password",
      "$6$salt$IxDD3jeSOb5eB1CX5LBsqZFVkJdido3OUILO5Ifz5iwMuTS4XMS130MTSuDDl3aCI6WouIL9AjRbLCelDCy."
      "g."));
  EXPECT_FALSE(verify_password("password", "password"));
  EXPECT_FALSE(verify_password("", ""));
}

TEST(IsBcryptHash, ChecksTheShape) {
  const std::string good = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";
  EXPECT_TRUE(is_bcrypt_hash(good));
  EXPECT_FALSE(is_bcrypt_hash(good.substr(0, 59)));
  EXPECT_FALSE(is_bcrypt_hash(good + "y"));
  std::string x = good;
  x[2] = 'x';  // $2x$: the buggy pre-2011 variant, not accepted.
  EXPECT_FALSE(is_bcrypt_hash(x));
  std::string cost = good;
  cost[4] = '0';
  cost[5] = '3';
  EXPECT_FALSE(is_bcrypt_hash(cost));
  cost[4] = '3';
  cost[5] = '2';
  EXPECT_FALSE(is_bcrypt_hash(cost));
  std::string bad_char = good;
  bad_char[30] = '+';
  EXPECT_FALSE(is_bcrypt_hash(bad_char));
}

TEST(TokenHash, IsSha256Hex) {
  EXPECT_EQ(token_hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(RandomToken, HasPrefixAnd256Bits) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const std::string token = random_token("berth_rt_");
    ASSERT_TRUE(token.starts_with("berth_rt_"));
    const std::string body = token.substr(9);
    EXPECT_EQ(body.size(), 43u);
    EXPECT_EQ(
        body.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        std::string::npos);
    seen.insert(token);
  }
  EXPECT_EQ(seen.size(), 50u);
}

TEST(ConstantTimeEqual, ComparesContentAndLength) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

}  // namespace
}  // namespace berth::auth
