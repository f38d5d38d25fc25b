// Time as the rest of Berth sees it. Everything that compares times (upload expiry, and later
// retention and GC grace periods) takes a Clock so tests can use testing::FakeClock.
#pragma once

#include <chrono>

namespace berth::core {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  // Safe to call from any thread.
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
};

// Milliseconds since the Unix epoch, the unit the metadata store keeps.
inline std::int64_t to_unix_ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline TimePoint from_unix_ms(std::int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

}  // namespace berth::core
