// Process logging: a general logger and an access logger, text or JSON lines, on stderr.
// Both are asynchronous (lines formatted by the caller, written by one thread: log_writer.hpp)
// so that an event-loop thread never waits on the terminal, a pipe or a disk to log a request.
#pragma once

#include <spdlog/common.h>

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "http/server.hpp"

namespace berth::server {

// format: "text" | "json"; level: "trace" ... "error". Replaces spdlog's default logger.
void setup_logging(const std::string& format, const std::string& level);
// Writes what the loggers hold and stops the logging thread.
void shutdown_logging();

// One access-log line: request id, method, route class, repository (where the route has
// one), path, status, bytes in and out, duration, user, remote address (the peer), client
// address (the one a trusted proxy's X-Forwarded-For names, else the peer's) and user agent;
// as JSON fields with log.format json.
void log_access(const http::AccessRecord& record);

// A general log line with figures a log collector can read without parsing the message: with
// log.format json they are fields of the line's object beside "msg"; as text they follow the
// message as key=value (strings with blanks, quotes or control characters JSON-quoted).
void log_fields(spdlog::level::level_enum level, std::string_view message,
                const boost::json::object& fields);

// What a log_fields line holds after its time and level (for the tests and the loggers): as
// text the message and key=value; in JSON the rest of the object, "msg":"..",<fields>}.
[[nodiscard]] std::string fields_payload(bool json, std::string_view message,
                                         const boost::json::object& fields);
// Any text as the JSON string of a line's "msg": nothing in it can end the string.
[[nodiscard]] std::string json_message(std::string_view text);

}  // namespace berth::server
