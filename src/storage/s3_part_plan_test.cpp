// The piece plan up to 1 TiB: sizes within S3's part limits, the closed forms equal to walking
// the pieces, and a 1 TiB blob within 10,000 parts.
#include "storage/s3_part_plan.hpp"

#include <gtest/gtest.h>

namespace berth::storage::s3 {
namespace {

constexpr std::uint64_t kGiB = 1024 * kMiB;
constexpr std::uint64_t kTiB = 1024 * kGiB;

std::uint32_t parts_for(std::uint64_t size) { return size == 0 ? 1 : piece_index_at(size - 1) + 1; }

TEST(S3PartPlanTest, EveryPieceIsAValidPart) {
  for (std::uint32_t i = 0; i < kMaxParts; ++i) {
    ASSERT_GE(piece_size(i), kMinPartBytes) << i;
    ASSERT_LE(piece_size(i), kMaxPartBytes) << i;
    if (i > 0) {
      ASSERT_GE(piece_size(i), piece_size(i - 1)) << "sizes never shrink: " << i;
    }
  }
  EXPECT_EQ(piece_size(0), 8 * kMiB);
  EXPECT_LT(piece_size(kMaxParts - 1), 300 * kMiB) << "memory per upload stays bounded";
}

TEST(S3PartPlanTest, OffsetsAreTheSumOfTheSizesBefore) {
  std::uint64_t sum = 0;
  for (std::uint32_t i = 0; i <= kMaxParts; ++i) {
    ASSERT_EQ(piece_offset(i), sum) << i;
    if (i < kMaxParts) {
      sum += piece_size(i);
    }
  }
  EXPECT_EQ(max_upload_bytes(), sum);
}

TEST(S3PartPlanTest, IndexAtIsTheInverseOfOffset) {
  for (std::uint32_t i = 0; i < kMaxParts; i += 7) {
    ASSERT_EQ(piece_index_at(piece_offset(i)), i);
    ASSERT_EQ(piece_index_at(piece_offset(i) + piece_size(i) - 1), i);
    if (i > 0) {
      ASSERT_EQ(piece_index_at(piece_offset(i) - 1), i - 1);
    }
  }
  EXPECT_EQ(piece_index_at(max_upload_bytes()), kMaxParts);
  EXPECT_EQ(piece_index_at(max_upload_bytes() - 1), kMaxParts - 1);
}

TEST(S3PartPlanTest, OneTebibyteFitsInTenThousandParts) {
  EXPECT_GE(max_upload_bytes(), kTiB);
  EXPECT_LE(parts_for(kTiB), kMaxParts);
  // Where fixed 10 MiB parts (Distribution, its issue #4572) stop.
  EXPECT_LT(parts_for(98 * kGiB), 3500u);
  // Ordinary layers use few, small pieces.
  EXPECT_EQ(parts_for(0), 1u);
  EXPECT_EQ(parts_for(8 * kMiB), 1u);
  EXPECT_EQ(parts_for(8 * kMiB + 1), 2u);
  EXPECT_EQ(parts_for(1 * kGiB), 128u);
  EXPECT_EQ(piece_size(parts_for(8 * kGiB) - 1), 8 * kMiB);
}

}  // namespace
}  // namespace berth::storage::s3
