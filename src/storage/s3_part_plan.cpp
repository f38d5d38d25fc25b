// The piece plan of s3_part_plan.hpp, in closed form so that no call walks 10,000 pieces.
#include "storage/s3_part_plan.hpp"

namespace berth::storage::s3 {
namespace {

constexpr std::uint64_t kBaseBytes = 8 * kMiB;
// Pieces before growth starts.
constexpr std::uint64_t kFlatPieces = 1024;
// After them, a piece grows by kMiB every kGrowEvery pieces.
constexpr std::uint64_t kGrowEvery = 32;

// Extra MiB of piece i over the base.
std::uint64_t growth(std::uint64_t index) {
  return index < kFlatPieces ? 0 : (index - kFlatPieces) / kGrowEvery + 1;
}

// Sum of growth(j) for j < index: n pieces have grown, by 1 + floor(m / kGrowEvery) for m < n.
std::uint64_t growth_before(std::uint64_t index) {
  if (index <= kFlatPieces) {
    return 0;
  }
  const std::uint64_t n = index - kFlatPieces;
  const std::uint64_t q = n / kGrowEvery;
  const std::uint64_t r = n % kGrowEvery;
  return n + kGrowEvery * q * (q - (q > 0 ? 1 : 0)) / 2 + q * r;
}

}  // namespace

std::uint64_t piece_size(std::uint32_t index) { return kBaseBytes + growth(index) * kMiB; }

std::uint64_t piece_offset(std::uint32_t index) {
  return kBaseBytes * index + growth_before(index) * kMiB;
}

std::uint32_t piece_index_at(std::uint64_t offset) {
  if (offset >= max_upload_bytes()) {
    return kMaxParts;
  }
  // The last index whose offset is <= offset.
  std::uint32_t low = 0;
  std::uint32_t high = kMaxParts;
  while (high - low > 1) {
    const std::uint32_t middle = low + (high - low) / 2;
    if (piece_offset(middle) <= offset) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return low;
}

std::uint64_t max_upload_bytes() { return piece_offset(kMaxParts); }

}  // namespace berth::storage::s3
