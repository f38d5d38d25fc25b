// A latency histogram with about 3 % relative precision (32 sub-buckets per power of two of
// nanoseconds), fixed size, no allocation per sample: record() is a few instructions, so every
// request is recorded, not a sample of them. Quantiles report the middle of their bucket.
// Not thread-safe: one per worker, merged at the end.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace berth::bench {

class Histogram {
 public:
  void record(std::chrono::nanoseconds value);
  void merge(const Histogram& other);

  std::uint64_t count() const { return count_; }
  // q in [0, 1]; zero when empty.
  std::chrono::nanoseconds quantile(double q) const;
  std::chrono::nanoseconds max() const { return std::chrono::nanoseconds(max_); }
  std::chrono::nanoseconds mean() const;

 private:
  static constexpr int kSubBits = 5;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;

  static int index_of(std::uint64_t value);
  static std::uint64_t middle_of(int index);

  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace berth::bench
