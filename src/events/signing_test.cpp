#include "events/signing.hpp"

#include <gtest/gtest.h>

namespace berth::events {
namespace {

// RFC 4231, test case 2: an independent oracle for the HMAC.
TEST(Signing, IsHexHmacSha256OfTheBodyWithThePrefix) {
  EXPECT_EQ(signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Signing, ChangesWithEveryByteOfTheBodyAndTheSecret) {
  const auto base = signature("secret", R"({"a":1})");
  EXPECT_NE(signature("secret", R"({"a":2})"), base);
  EXPECT_NE(signature("secreT", R"({"a":1})"), base);
  EXPECT_EQ(base.size(), 7u + 64u);
}

}  // namespace
}  // namespace berth::events
