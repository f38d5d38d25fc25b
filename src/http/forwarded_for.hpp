// The client's address behind reverse proxies, from X-Forwarded-For.
//
// Each proxy appends the address it received the request from, so the header reads
// "client, proxy1, proxy2" and only its right end can be trusted: anyone may send a header
// with made-up addresses on its left. The client is therefore the rightmost address that is
// not one of our trusted proxies (http.trusted_proxies), walking left from the end; an entry
// that is not an IP address ends the walk, and the hop that forwarded it is the client.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "util/ip_networks.hpp"

namespace berth::http {

// The client's address by `x_forwarded_for` (all of its values, comma-separated), given that
// the peer that sent it is a trusted proxy; nullopt when the header names no address.
[[nodiscard]] std::optional<std::string> forwarded_client(std::string_view x_forwarded_for,
                                                          const util::IpNetworks& trusted);

}  // namespace berth::http
