// parse_content_range and parse_range. The first 8 input bytes (little-endian, when present)
// are the blob size for parse_range; the rest is the header, given to both parsers.
#include <cstring>
#include <limits>
#include <string>

#include "core/range.hpp"
#include "fuzz_check.hpp"

using berth::core::ByteRange;
using berth::core::ErrorCode;
using berth::core::parse_content_range;
using berth::core::parse_range;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint64_t blob_size = 0;
  if (size >= sizeof blob_size) {
    std::memcpy(&blob_size, data, sizeof blob_size);
    data += sizeof blob_size;
    size -= sizeof blob_size;
  }
  // Mostly small sizes, so that ranges are often satisfiable; sometimes huge ones.
  if ((blob_size >> 63) == 0) {
    blob_size %= 4096;
  }
  const std::string_view header = berth::fuzz::as_text(data, size);
  constexpr std::uint64_t kMaxPosition = std::numeric_limits<std::int64_t>::max();

  auto chunk = parse_content_range(header);
  if (chunk) {
    FUZZ_CHECK(chunk->first <= chunk->last);
    FUZZ_CHECK(chunk->last <= kMaxPosition);
    FUZZ_CHECK(chunk->length() >= 1 && chunk->length() - 1 == chunk->last - chunk->first);
    const std::string plain = std::to_string(chunk->first) + "-" + std::to_string(chunk->last);
    auto again = parse_content_range(plain);
    FUZZ_CHECK(again && *again == *chunk);
    auto with_unit = parse_content_range("bytes " + plain + "/*");
    FUZZ_CHECK(with_unit && *with_unit == *chunk);
  } else {
    FUZZ_CHECK(chunk.error().code == ErrorCode::kBlobUploadInvalid);
  }

  auto request = parse_range(header, blob_size);
  if (request) {
    if (request->range) {
      const ByteRange r = *request->range;
      FUZZ_CHECK(r.first <= r.last);
      FUZZ_CHECK(r.last < blob_size);
      // The range it chose, asked for explicitly, is the same range.
      const std::string explicit_header =
          "bytes=" + std::to_string(r.first) + "-" + std::to_string(r.last);
      auto again = parse_range(explicit_header, blob_size);
      FUZZ_CHECK(again && again->range && *again->range == r);
    }
  } else {
    FUZZ_CHECK(request.error().code == ErrorCode::kRangeInvalid);
    // Unsatisfiable for this size, yet the same text must be syntactically fine: a larger
    // blob can satisfy it, unless it was a zero-length suffix.
    auto bigger = parse_range(header, std::numeric_limits<std::uint64_t>::max());
    FUZZ_CHECK(bigger.has_value() || bigger.error().code == ErrorCode::kRangeInvalid);
  }
  return 0;
}
