#include "client/challenge.hpp"

#include <gtest/gtest.h>

namespace berth::client {
namespace {

TEST(Challenge, ParsesDockerHubsBearerChallenge) {
  auto challenge = parse_challenge(
      "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
      "scope=\"repository:library/alpine:pull\"");
  ASSERT_TRUE(challenge);
  EXPECT_EQ(challenge->scheme, "bearer");
  EXPECT_EQ(challenge->param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(challenge->param("service"), "registry.docker.io");
  EXPECT_EQ(challenge->param("scope"), "repository:library/alpine:pull");
}

TEST(Challenge, ParsesBasicWithSpacesTokensAndEscapes) {
  auto challenge = parse_challenge("  Basic  Realm = \"a \\\"quoted\\\" realm\" , charset=UTF-8");
  ASSERT_TRUE(challenge);
  EXPECT_EQ(challenge->scheme, "basic");
  EXPECT_EQ(challenge->param("realm"), "a \"quoted\" realm");
  EXPECT_EQ(challenge->param("charset"), "UTF-8");
}

TEST(Challenge, RefusesEmptyAndUnterminated) {
  EXPECT_FALSE(parse_challenge(""));
  EXPECT_FALSE(parse_challenge("Bearer realm=\"open"));
}

TEST(Url, SplitsSchemeHostPortAndTarget) {
  auto url = parse_url("https://registry-1.docker.io");
  ASSERT_TRUE(url);
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(url->host, "registry-1.docker.io");
  EXPECT_EQ(url->port, "443");
  EXPECT_EQ(url->target, "/");
  EXPECT_EQ(url->authority(), "registry-1.docker.io");
  auto local = parse_url("http://127.0.0.1:5001/v2/?x=1");
  ASSERT_TRUE(local);
  EXPECT_FALSE(local->tls);
  EXPECT_EQ(local->port, "5001");
  EXPECT_EQ(local->target, "/v2/?x=1");
  EXPECT_EQ(local->authority(), "127.0.0.1:5001");
  EXPECT_FALSE(parse_url("ftp://example.com"));
  EXPECT_FALSE(parse_url("not a url"));
  // "host:" is the scheme's port.
  EXPECT_EQ(parse_url("https://example.com:/v2/")->port, "443");
}

// Found by fuzz_challenge: Boost.URL reads "h:x" after "//" as host h, an empty port and the
// path "x", which is no target for a request line.
TEST(Url, RefusesAPathThatDoesNotStartWithASlash) {
  EXPECT_FALSE(parse_url("http://user:secrem="));
  Challenge challenge{"bearer", {{"realm", "http://user:secrem="}}};
  EXPECT_FALSE(token_url(challenge, "repository:a:pull"));
}

TEST(Url, TokenUrlAddsServiceAndScope) {
  Challenge challenge{"bearer",
                      {{"realm", "https://auth.example/token?x=1"}, {"service", "reg istry"}}};
  auto url = token_url(challenge, "repository:a/b:pull");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "auth.example");
  EXPECT_EQ(url->target, "/token?x=1&service=reg%20istry&scope=repository:a/b:pull");
}

TEST(BasicAuthorization, EncodesUserAndPassword) {
  EXPECT_EQ(basic_authorization("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  EXPECT_EQ(basic_authorization("a", "b"), "Basic YTpi");
  EXPECT_EQ(basic_authorization("ab", "c"), "Basic YWI6Yw==");
}

}  // namespace
}  // namespace berth::client
