#include "client/upstream_trust.hpp"

#include <gtest/gtest.h>

namespace berth::client {
namespace {

namespace ip = boost::asio::ip;

Url url(const std::string& text) { return *parse_url(text); }

TEST(UpstreamTrust, CredentialsGoToTheUpstreamsHostAndListedRealmsOnly) {
  const Url upstream = url("https://registry.example.com");
  EXPECT_TRUE(may_receive_credentials(upstream, url("https://registry.example.com/token"), {}));
  EXPECT_TRUE(may_receive_credentials(upstream, url("https://REGISTRY.example.com:8443/t"), {}));
  // Never in clear text from an https upstream.
  EXPECT_FALSE(may_receive_credentials(upstream, url("http://registry.example.com/token"), {}));
  EXPECT_FALSE(may_receive_credentials(upstream, url("https://auth.example.com/token"), {}));
  EXPECT_FALSE(may_receive_credentials(upstream, url("https://registry.example.com.evil/t"), {}));

  const std::vector<Url> listed{url("https://auth.example.com"),
                                url("https://login.example.com:8443/jwt/auth")};
  EXPECT_TRUE(may_receive_credentials(upstream, url("https://auth.example.com/token?x=1"), listed));
  EXPECT_TRUE(may_receive_credentials(upstream, url("https://login.example.com:8443/jwt/auth?s=r"),
                                      listed));
  EXPECT_FALSE(
      may_receive_credentials(upstream, url("https://login.example.com:8443/other"), listed));
  EXPECT_FALSE(
      may_receive_credentials(upstream, url("https://login.example.com/jwt/auth"), listed));
  EXPECT_FALSE(may_receive_credentials(upstream, url("http://auth.example.com/token"), listed));
}

TEST(UpstreamTrust, DockerHubMaySendCredentialsToDockersAuthService) {
  const Url hub = url("https://registry-1.docker.io");
  EXPECT_TRUE(may_receive_credentials(hub, url("https://auth.docker.io/token"), {}));
  EXPECT_FALSE(may_receive_credentials(hub, url("http://auth.docker.io/token"), {}));
  EXPECT_FALSE(may_receive_credentials(url("https://registry.example.com"),
                                       url("https://auth.docker.io/token"), {}));
}

TEST(UpstreamTrust, ClassifiesAddresses) {
  auto kind = [](const char* text) { return address_kind(ip::make_address(text)); };
  EXPECT_EQ(kind("169.254.169.254"), AddressKind::kLinkLocal);
  EXPECT_EQ(kind("169.254.0.1"), AddressKind::kLinkLocal);
  EXPECT_EQ(kind("::ffff:169.254.169.254"), AddressKind::kLinkLocal);
  EXPECT_EQ(kind("fe80::1"), AddressKind::kLinkLocal);
  EXPECT_EQ(kind("fd00:ec2::254"), AddressKind::kLinkLocal);
  EXPECT_EQ(kind("127.0.0.1"), AddressKind::kLoopback);
  EXPECT_EQ(kind("127.1.2.3"), AddressKind::kLoopback);
  EXPECT_EQ(kind("::1"), AddressKind::kLoopback);
  EXPECT_EQ(kind("::ffff:127.0.0.1"), AddressKind::kLoopback);
  EXPECT_EQ(kind("0.0.0.0"), AddressKind::kLoopback);
  EXPECT_EQ(kind("::"), AddressKind::kLoopback);
  EXPECT_EQ(kind("192.0.2.10"), AddressKind::kOrdinary);
  EXPECT_EQ(kind("169.255.0.1"), AddressKind::kOrdinary);
  EXPECT_EQ(kind("2001:db8::1"), AddressKind::kOrdinary);
}

TEST(UpstreamTrust, AnyForbiddenAddressRefusesTheDestination) {
  const std::vector<ip::address> mixed{ip::make_address("192.0.2.10"),
                                       ip::make_address("169.254.169.254")};
  EXPECT_EQ(refuse_destination(mixed, true), "169.254.169.254 is a link-local address");
  const std::vector<ip::address> local{ip::make_address("192.0.2.10"), ip::make_address("::1")};
  EXPECT_TRUE(refuse_destination(local, false));
  EXPECT_FALSE(refuse_destination(local, true));
  EXPECT_FALSE(refuse_destination({ip::make_address("192.0.2.10")}, false));
}

}  // namespace
}  // namespace berth::client
