// Small pieces of HTTP/1.1 that the listener, the connection and the exchange share: the
// parser type, request ids, dates, and how to tell a malformed request from a vanished peer.
// Internal to the server (server.hpp is the interface).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "http/server.hpp"

namespace berth::http::detail {

namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using RequestParser = bhttp::request_parser<bhttp::buffer_body>;

inline constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// Size of the read that waits for the first byte of a request.
inline constexpr std::size_t kFirstReadSize = 16 * 1024;

// What a connection does after a request.
enum class After { kKeepAlive, kClose, kLingerClose };

// 16 hex digits.
std::string make_request_id();
inline constexpr std::string_view kRequestIdHeader = "X-Request-Id";
// Whether an incoming X-Request-Id may be kept: 1 to 128 characters of RFC 9110's token
// (letters, digits and !#$%&'*+-.^_`|~), so it cannot break a log line or a header.
bool valid_request_id(std::string_view id);
// Now, as an HTTP Date header.
std::string http_date();
// "ip:port", "[v6]:port".
std::string format_endpoint(const tcp::endpoint& endpoint);
// Whether a comma-separated header list holds `token` (case-insensitive).
bool has_token(beast::string_view list, beast::string_view token);
// Statuses that never carry a body (RFC 9110 6.4.1).
bool bodiless_status(unsigned status);
// Whether a Host header's value is a host[:port] (RFC 9110 7.2, RFC 3986 3.2.2): registered
// names, IPv4 and bracketed IPv6 literals, and an optional port. Empty is allowed (RFC 9112 3.2).
bool valid_host(std::string_view value);
// Errors in the request bytes themselves (as opposed to the peer going away or a deadline):
// the client deserves a 4xx for these, and may still be sending.
bool is_protocol_error(const ErrorCode& ec);

}  // namespace berth::http::detail
