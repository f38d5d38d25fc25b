// When a failed webhook delivery is tried again: exponential backoff with full jitter (AWS's
// "Exponential Backoff And Jitter"), so that the retries of many deliveries to a receiver that
// was down spread out instead of arriving together when it comes back.
#pragma once

#include <chrono>

namespace berth::events {

// The wait after `failed` attempts (1 or more): uniform in [0, min(cap, base * 2^(failed-1))],
// `unit` being a uniform random number in [0, 1).
std::chrono::milliseconds backoff(int failed, std::chrono::milliseconds base,
                                  std::chrono::milliseconds cap, double unit);

}  // namespace berth::events
