// What an upstream registry's answers may make Berth do. A registry names other places in its
// answers: the token realm of a Bearer challenge, the Location of a redirect. Whoever controls
// the upstream (or a man in the middle of a plain-HTTP one) controls those, so:
//  - the configured credentials go only to the upstream's own host, or to a token realm the
//    operator listed (token_realms), or for Docker Hub to Docker's own auth.docker.io; never
//    from https down to http;
//  - a place the upstream names must not resolve to a link-local address (169.254.0.0/16,
//    fe80::/10: cloud metadata services live there) nor, unless the upstream itself is on this
//    machine, to a loopback (or unspecified) one: Berth must not be a way into the services
//    of its own host or network. Every resolved address counts, not the name.
// Pure functions, no I/O.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/challenge.hpp"

namespace berth::client {

// Docker Hub's registry host names.
[[nodiscard]] bool is_docker_hub(std::string_view host);

// Whether the upstream at `upstream` may send its credentials to the token realm `realm`.
// `listed`: the proxy's token_realms; an entry matches on scheme, host and port, and on its
// path when it has one other than "/".
[[nodiscard]] bool may_receive_credentials(const Url& upstream, const Url& realm,
                                           const std::vector<Url>& listed);

enum class AddressKind { kOrdinary, kLoopback, kLinkLocal };

// What kind of address this is; an IPv4-mapped IPv6 address counts as its IPv4 one, an
// unspecified one (0.0.0.0, ::) as loopback, AWS's IPv6 metadata address as link-local.
[[nodiscard]] AddressKind address_kind(const boost::asio::ip::address& address);

// Why a place the upstream named must not be visited, or nullopt when it may: `resolved` are
// all the addresses its host resolved to; `upstream_on_loopback` whether the upstream answered
// from a loopback address.
[[nodiscard]] std::optional<std::string> refuse_destination(
    const std::vector<boost::asio::ip::address>& resolved, bool upstream_on_loopback);

}  // namespace berth::client
