// What the audit log (audit/audit_log.hpp) learns from the API: after a request is answered,
// the changes it made or tried (manifest pushes, tag and manifest deletes, the /api/v1 changes
// of projects, members, robots, users, settings, webhooks, retention and collections) and
// sign-ins (the web UI's, and token fetches that create an offline token, as `docker login`),
// with who, from where and the status answered. Reads are not audited, nor the access tokens
// clients fetch per pull session (one database write per pull), nor requests answered 401
// (nobody is known; the failed sign-in behind them is, coalesced, by the authenticator's
// failure log).
//
// One place that sees every request after its answer, rather than a line in each handler: the
// handlers stay as they are, and a new endpoint is audited by adding it to the table here.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <optional>
#include <string_view>

#include "api/context.hpp"
#include "api/route.hpp"
#include "meta/audit_store.hpp"

namespace berth::api {

// What the audit entry of a request is made of.
struct RequestFacts {
  boost::beast::http::verb method;
  const Route& route;
  // The caller's name, "" when anonymous.
  std::string_view actor{};
  std::string_view remote{};
  unsigned status = 0;
  // The object a handler created, named in its body rather than its path (a new project,
  // user or robot, an "offline token"); RequestContext::audit_target.
  std::string_view named{};
};

// The entry for the request, or nullopt when it is not audited.
[[nodiscard]] std::optional<meta::AuditEntry> audit_entry(const RequestFacts& facts);

// Queues the request's entry, if any, with the services' audit log (if there is one).
void audit_request(RequestContext& ctx);

// Queues a "tag.shadow" entry for each pushed tag of an overlay project that hides one its
// upstream has (proxy::ProxyProject::note_push).
void audit_shadowed(RequestContext& ctx, const std::string& upstream,
                    const std::vector<core::Tag>& shadowed);

// GET /api/v1/audit (administrators): the entries, newest first, filtered by ?user= &project=
// &action= &since= &until= (RFC 3339), paged by ?n= (default 100, at most 1000) and ?cursor=
// (the "next" of the previous page) or ?page= (from 1).
boost::asio::awaitable<void> serve_audit(RequestContext& ctx);

}  // namespace berth::api
