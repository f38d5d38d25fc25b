#include "auth/credentials.hpp"

#include <gtest/gtest.h>

namespace berth::auth {
namespace {

using Kind = Credentials::Kind;

TEST(CredentialsTest, BasicIsDecodedAtTheFirstColon) {
  // base64("alice:pa:ss") = YWxpY2U6cGE6c3M=
  auto c = parse_authorization("Basic YWxpY2U6cGE6c3M=");
  ASSERT_EQ(c.kind, Kind::kBasic);
  EXPECT_EQ(c.user, "alice");
  EXPECT_EQ(c.password, "pa:ss");
  EXPECT_EQ(parse_authorization("basic   YWxpY2U6cGE6c3M=  ").kind, Kind::kBasic);
}

TEST(CredentialsTest, BearerKeepsTheToken) {
  auto c = parse_authorization("Bearer a.b.c");
  ASSERT_EQ(c.kind, Kind::kBearer);
  EXPECT_EQ(c.token, "a.b.c");
}

TEST(CredentialsTest, NothingIsNone) {
  EXPECT_EQ(parse_authorization("").kind, Kind::kNone);
  EXPECT_EQ(parse_authorization("   ").kind, Kind::kNone);
}

TEST(CredentialsTest, BrokenHeadersAreMalformedNotAnonymous) {
  for (const char* header :
       {"Basic", "Basic !!!!", "Basic YWxpY2U=", /* no colon */ "Basic YWxpY2U6cGE6c3M",
        "Basic =YWx", "Digest abc", "Bearer", "Bearer a b", "Negotiate x"}) {
    EXPECT_EQ(parse_authorization(header).kind, Kind::kMalformed) << header;
  }
}

TEST(Base64Test, DecodesExactly) {
  std::string out;
  ASSERT_TRUE(decode_base64("", out));
  EXPECT_EQ(out, "");
  ASSERT_TRUE(decode_base64("YQ==", out));
  EXPECT_EQ(out, "a");
  ASSERT_TRUE(decode_base64("YWI=", out));
  EXPECT_EQ(out, "ab");
  ASSERT_TRUE(decode_base64("YWJj", out));
  EXPECT_EQ(out, "abc");
  EXPECT_FALSE(decode_base64("YQ=", out));
  EXPECT_FALSE(decode_base64("Y=Q=", out));
  EXPECT_FALSE(decode_base64("YQ=a", out));
}

}  // namespace
}  // namespace berth::auth
