// Histogram buckets: values below 32 ns have one bucket each; above, the power of two and the
// next five bits pick the bucket.
#include "loadgen/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace berth::bench {

int Histogram::index_of(std::uint64_t value) {
  if (value < kSub) {
    return static_cast<int>(value);
  }
  const int exponent = 63 - std::countl_zero(value);  // >= kSubBits
  const int shift = exponent - kSubBits;
  const auto mantissa = static_cast<int>((value >> shift) & (kSub - 1));
  return (shift + 1) * kSub + mantissa;
}

std::uint64_t Histogram::middle_of(int index) {
  if (index < kSub) {
    return static_cast<std::uint64_t>(index);
  }
  const int shift = index / kSub - 1;
  const auto mantissa = static_cast<std::uint64_t>(index % kSub);
  const std::uint64_t low = (std::uint64_t{kSub} + mantissa) << shift;
  const std::uint64_t width = std::uint64_t{1} << shift;
  return low + width / 2;
}

void Histogram::record(std::chrono::nanoseconds value) {
  const auto v = static_cast<std::uint64_t>(std::max<std::int64_t>(0, value.count()));
  ++buckets_[static_cast<std::size_t>(index_of(v))];
  ++count_;
  max_ = std::max(max_, v);
  sum_ += static_cast<long double>(v);
}

void Histogram::merge(const Histogram& other) {
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    buckets_[i] += other.buckets_[i];
  }
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

std::chrono::nanoseconds Histogram::quantile(double q) const {
  if (count_ == 0) {
    return std::chrono::nanoseconds(0);
  }
  const auto rank =
      static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= std::max<std::uint64_t>(rank, 1)) {
      return std::chrono::nanoseconds(
          static_cast<std::int64_t>(std::min(middle_of(static_cast<int>(i)), max_)));
    }
  }
  return max();
}

std::chrono::nanoseconds Histogram::mean() const {
  if (count_ == 0) {
    return std::chrono::nanoseconds(0);
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(sum_ / count_));
}

}  // namespace berth::bench
