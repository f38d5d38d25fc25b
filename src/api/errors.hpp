// The only place that turns a core::Error into an HTTP response: the OCI error body
// {"errors":[{"code","message","detail"}]} with the status of the code's table entry.
#pragma once

#include <string_view>

#include "core/error.hpp"
#include "http/server.hpp"

namespace berth::api {

// `allow` is the Allow header of a 405 (METHOD_NOT_ALLOWED): the methods of the resource.
[[nodiscard]] http::Response error_response(const core::Error& error, unsigned http_version,
                                            bool keep_alive, std::string_view allow = {});

}  // namespace berth::api
