// See listen_address.hpp.
#include "http/listen_address.hpp"

#include <charconv>
#include <system_error>

namespace berth::http {

namespace {

std::expected<std::uint16_t, std::string> parse_port(std::string_view text,
                                                     std::string_view whole) {
  unsigned value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value > 65535) {
    return std::unexpected("invalid port in listen address \"" + std::string(whole) + "\"");
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::expected<ListenAddress, std::string> parse_listen_address(std::string_view text) {
  const auto invalid = [&](std::string_view why) {
    return std::unexpected("invalid listen address \"" + std::string(text) +
                           "\": " + std::string(why));
  };
  ListenAddress out;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return invalid("missing ']'");
    }
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return invalid("expected \"[address]:port\"");
    }
    out.host = std::string(text.substr(1, close - 1));
    if (out.host.empty()) {
      return invalid("empty IPv6 address");
    }
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return invalid("expected \"host:port\"");
    }
    if (text.substr(0, colon).find(':') != std::string_view::npos) {
      return invalid("IPv6 addresses must be written in brackets, e.g. \"[::1]:5000\"");
    }
    out.host = std::string(text.substr(0, colon));
    if (out.host.empty()) {
      out.host = "0.0.0.0";
    }
    port_text = text.substr(colon + 1);
  }
  auto port = parse_port(port_text, text);
  if (!port) {
    return std::unexpected(port.error());
  }
  out.port = *port;
  return out;
}

}  // namespace berth::http
