// The only wiring: builds every object of a running Berth from a Config, owns the threads,
// the signals and the background jobs, and tears them down in order.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "core/error.hpp"

namespace berth::server {

struct ServeOptions {
  // Where to write the bound port once listening (for supervisors and tests using port 0).
  std::optional<std::filesystem::path> port_file;
  // The same for the TLS listener.
  std::optional<std::filesystem::path> tls_port_file;
  // The same for the metrics listener (metrics.listen).
  std::optional<std::filesystem::path> metrics_port_file;
  // What GET /api/v1/system says the server is.
  std::string version;
};

// Runs the server until SIGTERM or SIGINT, then drains. Returns the process exit code.
int serve(const config::Config& config, const ServeOptions& options);

}  // namespace berth::server
