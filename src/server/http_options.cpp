#include "server/http_options.hpp"

#include <spdlog/spdlog.h>

namespace berth::server {

http::ServerOptions http_server_options(const config::Config& config) {
  http::ServerOptions options;
  options.listen = config.listen;
  if (config.tls_enabled()) {
    options.tls = http::TlsOptions{.listen = config.tls.listen,
                                   .certificate = config.tls.certificate,
                                   .key = config.tls.key,
                                   .reload_check = config.tls.reload_check};
  }
  options.warn = [](std::string message) { spdlog::warn("{}", message); };
  options.io_threads = config.http.io_threads;
  options.header_limit = config.http.max_header_bytes;
  options.default_body_limit = config.http.max_manifest_bytes;
  options.read_timeout = config.http.read_timeout;
  options.write_timeout = config.http.write_timeout;
  options.idle_timeout = config.http.idle_timeout;
  options.drain_timeout = config.http.drain_timeout;
  options.body_min_rate = config.http.body_min_rate;
  options.max_connections = config.http.max_connections;
  // Validated with the configuration (config_keys.cpp), so it parses.
  options.trusted_proxies =
      util::IpNetworks::parse(config.http.trusted_proxies).value_or(util::IpNetworks{});
  return options;
}

}  // namespace berth::server
