#include "util/utc_time.hpp"

#include <ctime>

namespace berth::util {

std::string format_utc(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  const std::size_t size = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(text, size);
}

std::optional<std::chrono::system_clock::time_point> parse_utc(std::string_view text) {
  std::tm utc{};
  const std::string copy(text);  // strptime needs a terminated string
  const char* rest = strptime(copy.c_str(), "%Y-%m-%dT%H:%M:%S", &utc);
  if (rest == nullptr) {
    return std::nullopt;
  }
  auto time = std::chrono::system_clock::from_time_t(timegm(&utc));
  if (*rest == '.') {
    int millis = 0;
    int digits = 0;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest) {
      if (digits++ < 3) {
        millis = millis * 10 + (*rest - '0');
      }
    }
    if (digits == 0) {
      return std::nullopt;
    }
    for (; digits < 3; ++digits) {
      millis *= 10;
    }
    time += std::chrono::milliseconds(millis);
  }
  if (rest[0] != 'Z' || rest[1] != '\0') {
    return std::nullopt;
  }
  return time;
}

}  // namespace berth::util
