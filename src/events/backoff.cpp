#include "events/backoff.hpp"

#include <algorithm>

namespace berth::events {

std::chrono::milliseconds backoff(int failed, std::chrono::milliseconds base,
                                  std::chrono::milliseconds cap, double unit) {
  // Doubling past the cap, or 2^62, gains nothing and would overflow.
  auto ceiling = base;
  for (int i = 1; i < failed && ceiling < cap; ++i) {
    ceiling *= 2;
  }
  ceiling = std::min(ceiling, cap);
  const double wait = static_cast<double>(ceiling.count()) * std::clamp(unit, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(wait));
}

}  // namespace berth::events
