// Conditional requests (RFC 9110 section 13): whether an If-None-Match header matches an
// entity tag, so a client that has the content gets 304 instead of the bytes again.
#pragma once

#include <string_view>

namespace berth::api {

// True when `header` ("*", or a comma-separated list of entity tags, weak or strong) matches
// `etag` (a quoted strong tag) under the weak comparison If-None-Match uses.
[[nodiscard]] bool if_none_match(std::string_view header, std::string_view etag);

}  // namespace berth::api
