// Byte ranges from two headers: the Content-Range of a chunked upload PATCH ("start-end",
// inclusive, as the distribution spec writes it; "bytes start-end/total" is accepted too), and
// the Range of a blob GET (RFC 9110, a single range).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/error.hpp"

namespace berth::core {

// An inclusive byte range [first, last].
struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t length() const { return last - first + 1; }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// "0-99", "bytes 0-99/1000", "bytes 0-99/*". last < first, overflow or junk: BLOB_UPLOAD_INVALID
// (400). Whether the range starts at the right offset is the caller's business (416).
[[nodiscard]] Result<ByteRange> parse_content_range(std::string_view header);

// Result of interpreting a GET Range header against a blob of `size` bytes.
struct RangeRequest {
  // nullopt: serve the whole blob with 200 (no header, a syntax the server ignores per RFC,
  // or several ranges). A value: serve it with 206.
  std::optional<ByteRange> range;
};

// "bytes=0-99", "bytes=100-", "bytes=-100" (suffix). A syntactically valid single range that
// is unsatisfiable (first >= size, or a zero suffix) is RANGE_INVALID (416); the caller sends
// "Content-Range: bytes */<size>". Malformed headers are ignored (whole blob), as RFC 9110
// allows.
[[nodiscard]] Result<RangeRequest> parse_range(std::string_view header, std::uint64_t size);

}  // namespace berth::core
