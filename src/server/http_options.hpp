// The HTTP server's options from the configuration: listeners, TLS, threads, limits, timeouts.
#pragma once

#include "config/config.hpp"
#include "http/server.hpp"

namespace berth::server {

[[nodiscard]] http::ServerOptions http_server_options(const config::Config& config);

}  // namespace berth::server
