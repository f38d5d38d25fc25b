// Tests of the listen-address grammar.
#include "http/listen_address.hpp"

#include <gtest/gtest.h>

namespace berth::http {
namespace {

TEST(ListenAddress, HostAndPort) {
  const auto address = parse_listen_address("127.0.0.1:5000");
  ASSERT_TRUE(address.has_value()) << address.error();
  EXPECT_EQ(address->host, "127.0.0.1");
  EXPECT_EQ(address->port, 5000);
}

TEST(ListenAddress, PortZeroAndName) {
  const auto address = parse_listen_address("localhost:0");
  ASSERT_TRUE(address.has_value()) << address.error();
  EXPECT_EQ(address->host, "localhost");
  EXPECT_EQ(address->port, 0);
}

TEST(ListenAddress, BracketedIpv6) {
  const auto address = parse_listen_address("[::1]:443");
  ASSERT_TRUE(address.has_value()) << address.error();
  EXPECT_EQ(address->host, "::1");
  EXPECT_EQ(address->port, 443);
}

TEST(ListenAddress, EmptyHostMeansEveryIpv4Interface) {
  const auto address = parse_listen_address(":8080");
  ASSERT_TRUE(address.has_value()) << address.error();
  EXPECT_EQ(address->host, "0.0.0.0");
  EXPECT_EQ(address->port, 8080);
}

TEST(ListenAddress, RejectsMalformed) {
  for (const char* text : {"", "5000", "host:", "host:65536", "host:-1", "host:12ab", "::1:5000",
                           "[::1]", "[::1]5000", "[]:5000", "[::1:5000"}) {
    const auto address = parse_listen_address(text);
    EXPECT_FALSE(address.has_value()) << text;
    if (!address) {
      EXPECT_NE(address.error().find(text), std::string::npos) << address.error();
    }
  }
}

}  // namespace
}  // namespace berth::http
