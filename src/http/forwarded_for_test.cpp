#include "http/forwarded_for.hpp"

#include <gtest/gtest.h>

namespace berth::http {
namespace {

util::IpNetworks trusted(std::string_view text) {
  auto networks = util::IpNetworks::parse(text);
  EXPECT_TRUE(networks) << text;
  return networks.value_or(util::IpNetworks{});
}

TEST(ForwardedClient, TheAddressTheProxyAppendedIsTheClient) {
  EXPECT_EQ(forwarded_client("203.0.113.7", trusted("127.0.0.1")), "203.0.113.7");
  EXPECT_EQ(forwarded_client(" 2001:db8::7 ", trusted("127.0.0.1")), "2001:db8::7");
}

// Regression: behind a reverse proxy every client had the proxy's address, so 20 wrong
// passwords from anyone locked everyone out, and the audit showed the proxy.
TEST(ForwardedClient, AddressesMadeUpOnTheLeftAreNotBelieved) {
  EXPECT_EQ(forwarded_client("198.51.100.1, 203.0.113.7", trusted("127.0.0.1")), "203.0.113.7")
      << "a client sending its own X-Forwarded-For chooses only what is left of the truth";
}

TEST(ForwardedClient, TrustedProxiesOnTheWayAreSkipped) {
  EXPECT_EQ(forwarded_client("203.0.113.7, 10.0.0.2, 10.0.0.3", trusted("127.0.0.1, 10.0.0.0/8")),
            "203.0.113.7");
  EXPECT_EQ(forwarded_client("10.0.0.2", trusted("10.0.0.0/8")), "10.0.0.2")
      << "only proxies: the farthest one";
}

TEST(ForwardedClient, AnEntryThatIsNoAddressEndsTheWalk) {
  EXPECT_EQ(forwarded_client("203.0.113.7, unknown, 10.0.0.2", trusted("10.0.0.0/8")), "10.0.0.2");
  EXPECT_EQ(forwarded_client("garbage", trusted("10.0.0.0/8")), std::nullopt);
  EXPECT_EQ(forwarded_client("", trusted("10.0.0.0/8")), std::nullopt);
  EXPECT_EQ(forwarded_client(" , ,", trusted("10.0.0.0/8")), std::nullopt);
}

TEST(ForwardedClient, PortsAndMappedAddressesAreTakenApart) {
  EXPECT_EQ(forwarded_client("203.0.113.7:4711", trusted("127.0.0.1")), "203.0.113.7");
  EXPECT_EQ(forwarded_client("[2001:db8::7]:4711", trusted("127.0.0.1")), "2001:db8::7");
  EXPECT_EQ(forwarded_client("::ffff:203.0.113.7", trusted("127.0.0.1")), "203.0.113.7");
  EXPECT_EQ(forwarded_client("[2001:db8::7", trusted("127.0.0.1")), std::nullopt);
}

}  // namespace
}  // namespace berth::http
