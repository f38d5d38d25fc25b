// Tests of the strict base64url codec.
#include "auth/base64url.hpp"

#include <gtest/gtest.h>

namespace berth::auth {
namespace {

// RFC 4648 section 10 vectors, without padding.
TEST(Base64url, EncodesTheRfcVectors) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64url, UsesTheUrlSafeAlphabet) {
  EXPECT_EQ(base64url_encode("\xfb\xff\xbf"), "-_-_");
  EXPECT_EQ(base64url_decode("-_-_"), "\xfb\xff\xbf");
}

TEST(Base64url, RoundTripsEveryLengthAndByte) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    auto decoded = base64url_decode(base64url_encode(bytes));
    ASSERT_TRUE(decoded.has_value()) << i;
    EXPECT_EQ(*decoded, bytes);
    bytes.push_back(static_cast<char>(i * 7));
  }
}

TEST(Base64url, DecodesStrictly) {
  EXPECT_EQ(base64url_decode(""), "");
  EXPECT_EQ(base64url_decode("Zm9vYg"), "foob");
  EXPECT_FALSE(base64url_decode("Zm9vYg==").has_value());  // padding
  EXPECT_FALSE(base64url_decode("Zm9v+g").has_value());    // standard alphabet
  EXPECT_FALSE(base64url_decode("Zm9v/g").has_value());
  EXPECT_FALSE(base64url_decode("Zm9 vYg").has_value());  // whitespace
  EXPECT_FALSE(base64url_decode("Zm9vY").has_value());    // 4n+1 characters
  EXPECT_FALSE(base64url_decode("Z").has_value());
  EXPECT_FALSE(base64url_decode("Zh").has_value());  // non-zero spare bits
  EXPECT_FALSE(base64url_decode("Zm9").has_value());
  EXPECT_TRUE(base64url_decode("Zm8").has_value());
  EXPECT_FALSE(base64url_decode(std::string("Zm\0v", 4)).has_value());
  EXPECT_FALSE(base64url_decode("Zm9v\xc3\xa9").has_value());
}

}  // namespace
}  // namespace berth::auth
