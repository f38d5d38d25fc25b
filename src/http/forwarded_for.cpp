#include "http/forwarded_for.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/system/error_code.hpp>

#include "util/ascii.hpp"

namespace berth::http {
namespace {

// An entry as an address: "1.2.3.4", "2001:db8::1", or with a port, "1.2.3.4:80" or
// "[2001:db8::1]:80" (some proxies send those).
std::optional<boost::asio::ip::address> entry_address(std::string_view entry) {
  std::string text(entry);
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string::npos) {
      return std::nullopt;
    }
    text = text.substr(1, close - 1);
  } else if (const auto colon = text.find(':');
             colon != std::string::npos && text.find(':', colon + 1) == std::string::npos) {
    text.resize(colon);  // IPv4 with a port: an IPv6 address has at least two colons
  }
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(text, ec);
  if (ec) {
    return std::nullopt;
  }
  return util::unmapped(address);
}

}  // namespace

std::optional<std::string> forwarded_client(std::string_view x_forwarded_for,
                                            const util::IpNetworks& trusted) {
  std::optional<std::string> client;
  std::string_view rest = x_forwarded_for;
  while (!rest.empty()) {
    const auto comma = rest.rfind(',');
    const std::string_view entry =
        util::trim_spaces(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    if (entry.empty()) {
      continue;
    }
    const auto address = entry_address(entry);
    if (!address) {
      break;
    }
    client = address->to_string();
    if (!trusted.contains(*address)) {
      break;
    }
  }
  return client;
}

}  // namespace berth::http
