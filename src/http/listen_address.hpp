// Parsing of the `listen` option ("host:port", "[v6]:port", ":port") into a host and a port.
// Kept apart from the server so the grammar can be tested without sockets.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace berth::http {

struct ListenAddress {
  // An IP literal or a name to resolve; "0.0.0.0" when the text gave no host.
  std::string host;
  std::uint16_t port = 0;
};

// Errors are human-readable messages naming the offending text.
[[nodiscard]] std::expected<ListenAddress, std::string> parse_listen_address(std::string_view text);

}  // namespace berth::http
