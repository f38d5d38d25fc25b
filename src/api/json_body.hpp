// Reading a JSON request body of the /api/v1 endpoints.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <cstddef>
#include <optional>

#include "api/context.hpp"

namespace berth::api {

// The request body as a JSON object of at most `limit` bytes; otherwise answers (413
// TOO_LARGE, 400 INVALID_REQUEST) and returns nullopt.
boost::asio::awaitable<std::optional<boost::json::object>> read_json_object(RequestContext& ctx,
                                                                            std::size_t limit);

}  // namespace berth::api
