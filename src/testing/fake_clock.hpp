// A Clock that moves only when told to.
#pragma once

#include <atomic>

#include "core/clock.hpp"

namespace berth::testing {

class FakeClock final : public core::Clock {
 public:
  explicit FakeClock(core::TimePoint start = core::from_unix_ms(1'700'000'000'000))
      : now_ms_(core::to_unix_ms(start)) {}
  core::TimePoint now() const override { return core::from_unix_ms(now_ms_.load()); }
  void advance(std::chrono::milliseconds by) { now_ms_ += by.count(); }
  void set(core::TimePoint t) { now_ms_ = core::to_unix_ms(t); }

 private:
  std::atomic<std::int64_t> now_ms_;
};

}  // namespace berth::testing
