// Glob matching of tag patterns (see tag_pattern.hpp).
#include "lifecycle/tag_pattern.hpp"

namespace berth::lifecycle {
namespace {

bool is_tag_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

}  // namespace

core::Result<TagPattern> TagPattern::parse(std::string_view text) {
  if (text.empty()) {
    return core::fail(core::ErrorCode::kInvalidRequest, "a tag pattern may not be empty");
  }
  if (text.size() > kMaxLength) {
    return core::fail(core::ErrorCode::kInvalidRequest,
                      "a tag pattern is at most " + std::to_string(kMaxLength) + " characters");
  }
  for (char c : text) {
    if (!is_tag_char(c) && c != '*' && c != '?') {
      std::string shown =
          (c >= 0x20 && c < 0x7f) ? std::string(1, c) : "a control or non-ASCII byte";
      return core::fail(core::ErrorCode::kInvalidRequest,
                        "tag pattern '" + std::string(text) + "' holds '" + shown +
                            "'; patterns use tag characters (letters, digits, _ . -) and the "
                            "wildcards * and ?");
    }
  }
  return TagPattern(std::string(text));
}

// The classic two-pointer glob: on a mismatch after a '*', let that star swallow one more
// character and retry from there. Each star is resumed at most once per tag position, so the
// work is O(pattern + tag) in practice and O(pattern * tag) at worst, never exponential.
bool TagPattern::matches(std::string_view tag) const {
  const std::string_view pattern = text_;
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t resume = 0;
  while (t < tag.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == tag[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++p;
  }
  return p == pattern.size();
}

core::Result<std::vector<TagPattern>> parse_tag_patterns(const std::vector<std::string>& texts,
                                                         std::string_view what) {
  std::vector<TagPattern> patterns;
  patterns.reserve(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto pattern = TagPattern::parse(texts[i]);
    if (!pattern) {
      return core::fail(pattern.error().code, std::string(what) + "[" + std::to_string(i) +
                                                  "]: " + pattern.error().message);
    }
    patterns.push_back(std::move(*pattern));
  }
  return patterns;
}

const TagPattern* first_match(const std::vector<TagPattern>& patterns, std::string_view tag) {
  for (const auto& pattern : patterns) {
    if (pattern.matches(tag)) {
      return &pattern;
    }
  }
  return nullptr;
}

}  // namespace berth::lifecycle
