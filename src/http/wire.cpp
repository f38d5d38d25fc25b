// The shared HTTP/1.1 pieces of wire.hpp.
#include "http/wire.hpp"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <cstdint>
#include <ctime>
#include <random>

namespace berth::http::detail {

std::string make_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t bits = rng();
  std::string id(16, '0');
  for (char& c : id) {
    c = kHex[bits & 0xf];
    bits >>= 4;
  }
  return id;
}

bool valid_request_id(std::string_view id) {
  constexpr std::size_t kMaxLength = 128;
  if (id.empty() || id.size() > kMaxLength) {
    return false;
  }
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  for (char c : id) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && kSymbols.find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::string http_date() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[64];
  const std::size_t n = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &utc);
  return std::string(text, n);
}

std::string format_endpoint(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const std::string port = std::to_string(endpoint.port());
  if (address.is_v6()) {
    return "[" + address.to_string() + "]:" + port;
  }
  return address.to_string() + ":" + port;
}

bool has_token(beast::string_view list, beast::string_view token) {
  for (const auto& item : bhttp::token_list{list}) {
    if (beast::iequals(item, token)) {
      return true;
    }
  }
  return false;
}

bool bodiless_status(unsigned status) {
  return status / 100 == 1 || status == 204 || status == 304;
}

bool valid_host(std::string_view value) {
  // unreserved, pct-encoded, sub-delims, ':' of the port and the brackets of an IPv6 literal;
  // no '@' (userinfo), '/', '?', '#' or whitespace.
  static constexpr std::string_view kAllowed =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=:[]";
  return value.find_first_not_of(kAllowed) == std::string_view::npos;
}

bool is_protocol_error(const ErrorCode& ec) {
  if (ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category()) {
    return false;
  }
  return ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message &&
         ec != bhttp::error::need_more && ec != bhttp::error::need_buffer;
}

}  // namespace berth::http::detail
