// A list of IP networks ("127.0.0.1, 10.0.0.0/8, ::1, fd00::/8"), and whether an address is in
// one of them: which peers are trusted proxies (http.trusted_proxies). In util because both the
// configuration (to validate the key) and the HTTP server (to decide) need the same grammar.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace berth::util {

// An IPv4-mapped IPv6 address (::ffff:10.0.0.1, what a dual-stack socket reports) as its IPv4
// address; any other address as it is.
[[nodiscard]] boost::asio::ip::address unmapped(const boost::asio::ip::address& address);

class IpNetworks {
 public:
  // Comma-separated addresses or CIDRs, blanks around items ignored; empty text: no network.
  // The error names the item that is not one.
  [[nodiscard]] static std::expected<IpNetworks, std::string> parse(std::string_view text);

  // IPv4-mapped IPv6 addresses (::ffff:10.0.0.1, what a dual-stack socket reports) count as
  // their IPv4 address.
  bool contains(const boost::asio::ip::address& address) const;
  bool empty() const { return networks_.empty(); }

  bool operator==(const IpNetworks&) const = default;

 private:
  struct Network {
    boost::asio::ip::address address;
    unsigned prefix = 0;
    bool operator==(const Network&) const = default;
  };
  std::vector<Network> networks_;
};

}  // namespace berth::util
