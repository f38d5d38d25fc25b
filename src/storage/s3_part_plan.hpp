// How an upload is cut into pieces on S3, which become the parts of the multipart upload that
// publishes it. S3 allows at most 10,000 parts of 5 MiB to 5 GiB (the last may be smaller), so
// fixed 10 MiB parts, as Distribution uses, stop at ~98 GiB. Here piece i has a size fixed by i
// alone: 8 MiB for the first 1,024 pieces (8 GiB: every ordinary layer), then 1 MiB more every
// 32 pieces, up to 289 MiB for the 10,000th. The first 10,000 pieces hold 1.28 TiB, so a 1 TiB
// blob fits (s3_part_plan_test.cpp checks the arithmetic up to there), while memory stays at one
// piece per upload in flight: 8 MiB below 8 GiB, 77 MiB at 100 GiB.
//
// Since every piece but an upload's last has exactly its planned size, a piece's offset and
// index determine each other; a writer that finds the last piece short continues it.
#pragma once

#include <cstdint>

namespace berth::storage::s3 {

inline constexpr std::uint64_t kMiB = 1024 * 1024;
// S3's limits on parts (all but the last part of a multipart upload are at least kMinPart).
inline constexpr std::uint64_t kMinPartBytes = 5 * kMiB;
inline constexpr std::uint64_t kMaxPartBytes = 5 * 1024 * kMiB;
inline constexpr std::uint32_t kMaxParts = 10'000;

// Size of piece `index` (0-based).
[[nodiscard]] std::uint64_t piece_size(std::uint32_t index);
// Where piece `index` starts: the sum of the sizes before it. Defined up to kMaxParts.
[[nodiscard]] std::uint64_t piece_offset(std::uint32_t index);
// The piece that holds byte `offset`; kMaxParts when the offset is beyond the last piece.
[[nodiscard]] std::uint32_t piece_index_at(std::uint64_t offset);
// The largest upload the plan holds: piece_offset(kMaxParts).
[[nodiscard]] std::uint64_t max_upload_bytes();

}  // namespace berth::storage::s3
