#include "client/upstream_trust.hpp"

#include <algorithm>
#include <array>

#include "util/ip_networks.hpp"

namespace berth::client {
namespace {

namespace ip = boost::asio::ip;

bool same_host(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

bool matches(const Url& realm, const Url& entry) {
  if (realm.tls != entry.tls || !same_host(realm.host, entry.host) || realm.port != entry.port) {
    return false;
  }
  const std::string_view path = path_of(entry.target);
  return path.empty() || path == "/" || path == path_of(realm.target);
}

}  // namespace

bool is_docker_hub(std::string_view host) {
  constexpr std::array<std::string_view, 4> kHosts = {"registry-1.docker.io", "docker.io",
                                                      "index.docker.io", "registry.hub.docker.com"};
  return std::ranges::any_of(kHosts, [host](std::string_view known) { return host == known; });
}

bool may_receive_credentials(const Url& upstream, const Url& realm,
                             const std::vector<Url>& listed) {
  if (upstream.tls && !realm.tls) {
    return false;
  }
  if (same_host(upstream.host, realm.host)) {
    return true;
  }
  if (is_docker_hub(upstream.host) && realm.tls && same_host(realm.host, "auth.docker.io") &&
      realm.port == "443") {
    return true;
  }
  return std::ranges::any_of(listed, [&realm](const Url& entry) { return matches(realm, entry); });
}

AddressKind address_kind(const ip::address& given) {
  const ip::address address = util::unmapped(given);
  if (address.is_v6()) {
    const ip::address_v6 v6 = address.to_v6();
    // AWS's instance metadata service over IPv6.
    static const ip::address_v6 kAwsMetadata = ip::make_address_v6("fd00:ec2::254");
    if (v6.is_link_local() || v6 == kAwsMetadata) {
      return AddressKind::kLinkLocal;
    }
    return v6.is_loopback() || v6.is_unspecified() ? AddressKind::kLoopback
                                                   : AddressKind::kOrdinary;
  }
  const ip::address_v4 v4 = address.to_v4();
  if ((v4.to_uint() & 0xffff0000U) == 0xa9fe0000U) {  // 169.254.0.0/16
    return AddressKind::kLinkLocal;
  }
  return v4.is_loopback() || v4.is_unspecified() ? AddressKind::kLoopback : AddressKind::kOrdinary;
}

std::optional<std::string> refuse_destination(const std::vector<ip::address>& resolved,
                                              bool upstream_on_loopback) {
  for (const ip::address& address : resolved) {
    switch (address_kind(address)) {
      case AddressKind::kLinkLocal:
        return address.to_string() + " is a link-local address";
      case AddressKind::kLoopback:
        if (!upstream_on_loopback) {
          return address.to_string() + " is a loopback address and the upstream is not on one";
        }
        break;
      case AddressKind::kOrdinary:
        break;
    }
  }
  return std::nullopt;
}

}  // namespace berth::client
