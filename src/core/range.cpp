#include "core/range.hpp"

#include <charconv>
#include <limits>
#include <string>
#include <system_error>

namespace berth::core {
namespace {

// Sizes are int64 everywhere else (metadata, descriptors), so no byte position above this
// is meaningful, and ByteRange::length() cannot overflow.
constexpr std::uint64_t kMaxPosition =
    static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_ows(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

bool is_digits(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) {
      return false;
    }
  }
  return true;
}

// A run of digits as a number, or nullopt if it is not digits or does not fit.
std::optional<std::uint64_t> to_number(std::string_view s) {
  if (!is_digits(s)) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return value;
}

// A run of digits as a number, saturated at UINT64_MAX: a position past every blob.
std::uint64_t to_saturated(std::string_view digits) {
  auto value = to_number(digits);
  return value ? *value : std::numeric_limits<std::uint64_t>::max();
}

// Compares two runs of digits by numeric value, whatever their length.
int compare_decimal(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
  while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) {
    return a.size() < b.size() ? -1 : 1;
  }
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

std::unexpected<Error> bad_content_range(std::string_view why) {
  return fail(ErrorCode::kBlobUploadInvalid, "invalid Content-Range: " + std::string(why));
}

std::unexpected<Error> unsatisfiable(std::uint64_t size) {
  return fail(ErrorCode::kRangeInvalid, "requested range is not satisfiable for a blob of " +
                                            std::to_string(size) + " bytes");
}

// Interprets one range-spec of a Range header. nullopt: malformed, ignore the header.
std::optional<Result<RangeRequest>> one_range(std::string_view spec, std::uint64_t size) {
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view first_text = spec.substr(0, dash);
  std::string_view last_text = spec.substr(dash + 1);

  if (first_text.empty()) {
    // suffix-range: "-N", the last N bytes.
    if (!is_digits(last_text)) {
      return std::nullopt;
    }
    std::uint64_t suffix = to_saturated(last_text);
    if (suffix == 0 || size == 0) {
      return Result<RangeRequest>(unsatisfiable(size));
    }
    std::uint64_t length = suffix < size ? suffix : size;
    return Result<RangeRequest>(RangeRequest{ByteRange{size - length, size - 1}});
  }

  // int-range: "A-B" or "A-".
  if (!is_digits(first_text) || (!last_text.empty() && !is_digits(last_text))) {
    return std::nullopt;
  }
  if (!last_text.empty() && compare_decimal(last_text, first_text) < 0) {
    return std::nullopt;  // RFC 9110 14.1.1: last < first makes the range invalid.
  }
  std::uint64_t first = to_saturated(first_text);
  if (first >= size) {
    return Result<RangeRequest>(unsatisfiable(size));
  }
  std::uint64_t last = last_text.empty() ? size - 1 : to_saturated(last_text);
  if (last > size - 1) {
    last = size - 1;
  }
  return Result<RangeRequest>(RangeRequest{ByteRange{first, last}});
}

}  // namespace

Result<ByteRange> parse_content_range(std::string_view header) {
  std::string_view text = trim(header);
  // Optional "bytes " unit, as in a response's Content-Range.
  if (text.size() > 5 && iequals(text.substr(0, 5), "bytes") && is_ows(text[5])) {
    text = trim(text.substr(5));
  }
  // Optional "/total" or "/*".
  std::optional<std::uint64_t> total;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    std::string_view total_text = text.substr(slash + 1);
    text = text.substr(0, slash);
    if (total_text != "*") {
      total = to_number(total_text);
      if (!total) {
        return bad_content_range("the total after '/' must be a number or '*'");
      }
    }
  }
  auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    return bad_content_range("expected \"<first>-<last>\"");
  }
  auto first = to_number(text.substr(0, dash));
  auto last = to_number(text.substr(dash + 1));
  if (!first || !last) {
    return bad_content_range("expected \"<first>-<last>\" with decimal byte offsets");
  }
  if (*first > kMaxPosition || *last > kMaxPosition) {
    return bad_content_range("byte offset out of range");
  }
  if (*last < *first) {
    return bad_content_range("last byte is before the first");
  }
  if (total && *last >= *total) {
    return bad_content_range("range ends past the total length");
  }
  return ByteRange{*first, *last};
}

Result<RangeRequest> parse_range(std::string_view header, std::uint64_t size) {
  std::string_view text = trim(header);
  auto equals = text.find('=');
  if (equals == std::string_view::npos || !iequals(trim(text.substr(0, equals)), "bytes")) {
    return RangeRequest{};  // No header, or a unit we do not serve: the whole blob.
  }
  std::string_view set = text.substr(equals + 1);

  // range-set = 1#range-spec; empty list elements are allowed and ignored (RFC 9110 5.6.1).
  std::optional<std::string_view> only;
  std::size_t count = 0;
  while (true) {
    auto comma = set.find(',');
    std::string_view element = trim(set.substr(0, comma));
    if (!element.empty()) {
      ++count;
      only = element;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    set.remove_prefix(comma + 1);
  }
  if (count != 1) {
    // Nothing, or several ranges: Berth does not send multipart/byteranges, and RFC 9110
    // lets a server ignore Range and send the whole representation.
    return RangeRequest{};
  }
  auto result = one_range(*only, size);
  if (!result) {
    return RangeRequest{};  // Malformed: ignored.
  }
  return std::move(*result);
}

}  // namespace berth::core
