#include "util/ip_networks.hpp"

#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <charconv>
#include <cstdint>

#include "util/ascii.hpp"

namespace berth::util {
namespace {

namespace ip = boost::asio::ip;

// Whether b is in the network of a with `prefix` bits: Asio's networks, compared canonical (the
// host bits cleared), without allocating.
bool same_prefix(const ip::address& a, const ip::address& b, unsigned prefix) {
  if (a.is_v4()) {
    return ip::make_network_v4(a.to_v4(), prefix).canonical() ==
           ip::make_network_v4(b.to_v4(), prefix).canonical();
  }
  return ip::make_network_v6(a.to_v6(), prefix).canonical() ==
         ip::make_network_v6(b.to_v6(), prefix).canonical();
}

}  // namespace

ip::address unmapped(const ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, address.to_v6());
  }
  return address;
}

std::expected<IpNetworks, std::string> IpNetworks::parse(std::string_view text) {
  IpNetworks out;
  while (!trim_spaces(text).empty()) {
    const auto comma = text.find(',');
    const std::string_view item = trim_spaces(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const auto slash = item.find('/');
    boost::system::error_code ec;
    const auto address = ip::make_address(std::string(item.substr(0, slash)), ec);
    if (ec) {
      return std::unexpected("'" + std::string(item) + "' is not an IP address or network");
    }
    const unsigned width = address.is_v4() ? 32 : 128;
    unsigned prefix = width;
    if (slash != std::string_view::npos) {
      const std::string_view bits = item.substr(slash + 1);
      auto [end, error] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
      if (error != std::errc() || end != bits.data() + bits.size() || bits.empty() ||
          prefix > width) {
        return std::unexpected("'" + std::string(item) + "' has no prefix length from 0 to " +
                               std::to_string(width));
      }
    }
    out.networks_.push_back(Network{unmapped(address), prefix});
  }
  return out;
}

bool IpNetworks::contains(const boost::asio::ip::address& address) const {
  const ip::address plain = unmapped(address);
  for (const Network& network : networks_) {
    if (network.address.is_v4() == plain.is_v4() &&
        same_prefix(network.address, plain, network.prefix)) {
      return true;
    }
  }
  return false;
}

}  // namespace berth::util
