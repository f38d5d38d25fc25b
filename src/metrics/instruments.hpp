// The instruments of Berth's metrics: counters, gauges and fixed-bucket histograms.
//
// Why by hand: Debian 12 packages no Prometheus client library for C++ (prometheus-cpp is not
// in the allowed set), and what Berth needs is small: relaxed atomic increments on the request
// path and a text rendering at scrape time (exposition.hpp). Every instrument is a fixed slot
// made once at startup; the hot path does one or two relaxed fetch_adds and never allocates,
// locks or looks anything up by name. Readers (a scrape) see each value torn-free but not a
// snapshot across values, which is what Prometheus expects of a live process.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

namespace berth::metrics {

class Counter {
 public:
  void add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void add(std::int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  void sub(std::int64_t n = 1) { value_.fetch_sub(n, std::memory_order_relaxed); }
  void set(std::int64_t n) { value_.store(n, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Observations in microseconds, counted into the bucket of the first upper bound they do not
// exceed (the last bucket is +Inf). Buckets are kept apart (not cumulative) so that one
// observation is one increment; the exposition adds them up.
class Histogram {
 public:
  // Upper bounds in microseconds, ascending, shared by every histogram of a family: the
  // request latency buckets (0.25 ms to 5 min: HEADs and GETs of manifests and blobs answered
  // from the page cache take well under a millisecond, and would all fall in one bucket).
  static constexpr std::array<std::uint64_t, 18> kLatencyBoundsUs = {
      250,       500,       1'000,      2'500,      5'000,      10'000,
      25'000,    50'000,    100'000,    250'000,    500'000,    1'000'000,
      2'500'000, 5'000'000, 10'000'000, 30'000'000, 60'000'000, 300'000'000};
  static constexpr std::size_t kBuckets = kLatencyBoundsUs.size() + 1;

  void observe_us(std::uint64_t us) {
    std::size_t i = 0;
    while (i < kLatencyBoundsUs.size() && us > kLatencyBoundsUs[i]) {
      ++i;
    }
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(us, std::memory_order_relaxed);
  }

  // Counts per bucket (not cumulative), the last for +Inf.
  std::array<std::uint64_t, kBuckets> counts() const {
    std::array<std::uint64_t, kBuckets> out{};
    for (std::size_t i = 0; i < kBuckets; ++i) {
      out[i] = buckets_[i].load(std::memory_order_relaxed);
    }
    return out;
  }
  std::uint64_t sum_us() const { return sum_us_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> sum_us_{0};
};

}  // namespace berth::metrics
