// What the browse endpoints (browse_*.cpp) share: the caller's rights in a project, the
// paging arguments of a listing read from the query string, and JSON for times.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/context.hpp"
#include "meta/browse_store.hpp"

namespace berth::api {

// The largest page a listing gives (limit above it: 400).
inline constexpr std::size_t kMaxPageLimit = 500;

// What the caller may do in a project, for the UI to hide what the server would refuse.
struct Rights {
  bool pull = false;
  bool push = false;
  bool remove = false;
  bool manage = false;
  bool admin = false;
  boost::json::object json() const;
};

// The caller's rights in `project` (AccessControl::allowed: the same rules as the registry).
boost::asio::awaitable<core::Result<Rights>> rights_in(RequestContext& ctx,
                                                       const std::string& project);

// A listing's query: ?q=&sort=&order=asc|desc&limit=&offset=. `sorts` names the accepted
// sort keys, the first the default. The order defaults to asc for "name", desc otherwise.
// Bad values are answered (400 INVALID_REQUEST) and nullopt returned.
struct Listing {
  std::string sort;
  meta::PageQuery page;
};
boost::asio::awaitable<std::optional<Listing>> read_listing(RequestContext& ctx,
                                                            std::vector<std::string_view> sorts);

// A decimal count from a query string, at most `max`; nullopt otherwise.
std::optional<std::size_t> parse_count(const std::string& text, std::size_t max);

// Unix milliseconds, or null.
boost::json::value time_json(const std::optional<core::TimePoint>& time);
boost::json::value optional_json(const std::optional<std::uint64_t>& value);
boost::json::value text_or_null(const std::string& text);
// A manifest's artifact type as the browse API shows it: null for none and for images (whose
// recorded artifact type is their config's media type, what the referrers API needs).
boost::json::value artifact_type_json(const std::string& artifact_type);

boost::asio::awaitable<void> reply_json(RequestContext& ctx, boost::json::value body);

}  // namespace berth::api
