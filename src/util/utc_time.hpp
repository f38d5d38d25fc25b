// Times as RFC 3339 text in UTC, "2026-12-06T08:30:11Z": token responses, backup manifests, the
// command line, and S3's listings (which add milliseconds).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace berth::util {

// Whole seconds, 'Z' for UTC.
[[nodiscard]] std::string format_utc(std::chrono::system_clock::time_point time);

// "YYYY-MM-DDTHH:MM:SS" with optional fractional seconds (kept to the millisecond) and 'Z';
// nullopt for anything else.
[[nodiscard]] std::optional<std::chrono::system_clock::time_point> parse_utc(std::string_view text);

}  // namespace berth::util
