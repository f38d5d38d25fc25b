// The only place that turns a core::Error into an HTTP response: the OCI error body
// {"errors":[{"code","message","detail"}]} with the status of the code's table entry.
#pragma once

#include "core/error.hpp"
#include "http/server.hpp"

namespace berth::api {

[[nodiscard]] http::Response error_response(const core::Error& error, unsigned http_version,
                                            bool keep_alive);

}  // namespace berth::api
