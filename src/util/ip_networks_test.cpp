#include "util/ip_networks.hpp"

#include <gtest/gtest.h>

namespace berth::util {
namespace {

namespace ip = boost::asio::ip;

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

}  // namespace
}  // namespace berth::util
