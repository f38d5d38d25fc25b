#include "util/ip_networks.hpp"

#include <gtest/gtest.h>

namespace berth::util {
namespace {

namespace ip = boost::asio::ip;

ip::address address(const char* text) { return ip::make_address(text); }

TEST(IpNetworks, AddressesAndCidrsMatchTheirPeers) {
  auto networks = IpNetworks::parse(" 127.0.0.1, 10.0.0.0/8 ,fd00::/8, ::1");
  ASSERT_TRUE(networks) << networks.error();
  EXPECT_TRUE(networks->contains(ip::make_address("127.0.0.1")));
  EXPECT_FALSE(networks->contains(ip::make_address("127.0.0.2")));
  EXPECT_TRUE(networks->contains(ip::make_address("10.200.3.4")));
  EXPECT_FALSE(networks->contains(ip::make_address("11.0.0.1")));
  EXPECT_TRUE(networks->contains(ip::make_address("fd12::5")));
  EXPECT_TRUE(networks->contains(ip::make_address("::1")));
  EXPECT_FALSE(networks->contains(ip::make_address("fe80::1")));
  // What a dual-stack socket reports for an IPv4 peer.
  EXPECT_TRUE(networks->contains(ip::make_address("::ffff:10.1.2.3")));
}

TEST(IpNetworks, EmptyTextTrustsNobody) {
  auto networks = IpNetworks::parse("");
  ASSERT_TRUE(networks);
  EXPECT_TRUE(networks->empty());
  EXPECT_FALSE(networks->contains(ip::make_address("127.0.0.1")));
}

TEST(IpNetworks, BadItemsAreNamed) {
  EXPECT_EQ(IpNetworks::parse("10.0.0.1, proxy.local").error(),
            "'proxy.local' is not an IP address or network");
  EXPECT_EQ(IpNetworks::parse("10.0.0.0/33").error(),
            "'10.0.0.0/33' has no prefix length from 0 to 32");
  EXPECT_EQ(IpNetworks::parse("10.0.0.0/").error(),
            "'10.0.0.0/' has no prefix length from 0 to 32");
}

// Prefixes that are not whole bytes, and the two ends (/0 and a full-width host).
TEST(IpNetworks, PrefixesCutInsideAByteAndAtTheEnds) {
  const auto networks = IpNetworks::parse("192.168.4.0/22, fd00:ab:c000::/35").value();
  EXPECT_TRUE(networks.contains(address("192.168.7.255")));
  EXPECT_FALSE(networks.contains(address("192.168.8.0")));
  EXPECT_TRUE(networks.contains(address("fd00:ab:dfff::1")));
  EXPECT_FALSE(networks.contains(address("fd00:ab:e000::1")));
  EXPECT_TRUE(IpNetworks::parse("0.0.0.0/0").value().contains(address("203.0.113.9")));
  EXPECT_FALSE(IpNetworks::parse("0.0.0.0/0").value().contains(address("::1")));
  EXPECT_FALSE(IpNetworks::parse("10.0.0.1").value().contains(address("10.0.0.2")));
}

TEST(IpNetworks, UnmappedGivesTheIpv4AddressOfAMappedOne) {
  EXPECT_EQ(unmapped(address("::ffff:10.0.0.1")), address("10.0.0.1"));
  EXPECT_EQ(unmapped(address("::1")), address("::1"));
  EXPECT_EQ(unmapped(address("10.0.0.1")), address("10.0.0.1"));
}

}  // namespace
}  // namespace berth::util
