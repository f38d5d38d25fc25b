// Glob patterns on tag names, as used by retention policies (include/exclude) and immutable
// tags: '*' matches any run of characters (also none), '?' exactly one, every other character
// itself, case-sensitively, over the whole tag ("v1*" matches "v1" and "v1.2", not "av1").
// A pattern is 1 to 128 characters, each a tag character (letters, digits, '_', '.', '-') or
// a wildcard, so a pattern can never smuggle anything a tag cannot hold.
//
// Matching takes time proportional to the lengths of pattern and tag (no backtracking
// blow-up), so patterns from owners are safe to run on every push.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace berth::lifecycle {

class TagPattern {
 public:
  static constexpr std::size_t kMaxLength = 128;

  // kInvalidRequest saying what is wrong with the pattern.
  [[nodiscard]] static core::Result<TagPattern> parse(std::string_view text);

  bool matches(std::string_view tag) const;
  const std::string& str() const { return text_; }

  friend bool operator==(const TagPattern&, const TagPattern&) = default;

 private:
  explicit TagPattern(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

// Parses every pattern; the first error names the pattern's position ("immutable_tags[2]").
[[nodiscard]] core::Result<std::vector<TagPattern>> parse_tag_patterns(
    const std::vector<std::string>& texts, std::string_view what);

// The first pattern that matches the tag, or nullptr.
const TagPattern* first_match(const std::vector<TagPattern>& patterns, std::string_view tag);

}  // namespace berth::lifecycle
