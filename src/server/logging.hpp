// Process logging: a general logger and an access logger, text or JSON lines, on stderr.
// Both are asynchronous (a queue drained by one thread) so that an event-loop thread never
// waits on the terminal, a pipe or a disk to log a request.
#pragma once

#include <string>

#include "core/error.hpp"
#include "http/server.hpp"

namespace berth::server {

// format: "text" | "json"; level: "trace" ... "error". Replaces spdlog's default logger.
void setup_logging(const std::string& format, const std::string& level);
// Flushes and stops the logging thread.
void shutdown_logging();

// One access-log line.
void log_access(const http::AccessRecord& record);

}  // namespace berth::server
