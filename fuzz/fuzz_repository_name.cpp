// RepositoryName::parse and Tag::parse against the distribution spec's regular expressions,
// used here as an independent oracle.
#include <regex>
#include <string>

#include "core/names.hpp"
#include "fuzz_check.hpp"

namespace {

using berth::core::ErrorCode;
using berth::core::RepositoryName;
using berth::core::Tag;

const std::regex& name_grammar() {
  static const std::regex re(
      "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*",
      std::regex::ECMAScript);
  return re;
}

const std::regex& tag_grammar() {
  static const std::regex re("[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", std::regex::ECMAScript);
  return re;
}

// Matches the whole of `text`, whatever bytes it holds (std::regex would stop at nothing,
// but being explicit about the range keeps NUL bytes in).
bool full_match(std::string_view text, const std::regex& re) {
  return std::regex_match(text.begin(), text.end(), re);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = berth::fuzz::as_text(data, size);

  auto name = RepositoryName::parse(text);
  if (name) {
    FUZZ_CHECK(name->str() == text);
    FUZZ_CHECK(!text.empty() && text.size() <= RepositoryName::kMaxLength);
    // Nothing a path could use to escape its directory.
    FUZZ_CHECK(text.find("..") == std::string_view::npos);
    FUZZ_CHECK(text.front() != '/' && text.back() != '/');
    FUZZ_CHECK(text.find("//") == std::string_view::npos);
    auto again = RepositoryName::parse(name->str());
    FUZZ_CHECK(again && *again == *name);
    std::string_view project = name->project();
    FUZZ_CHECK(!project.empty() && text.substr(0, project.size()) == project);
    FUZZ_CHECK(project.size() == text.size() || text[project.size()] == '/');
    FUZZ_CHECK(RepositoryName::parse(project).has_value());
  } else {
    FUZZ_CHECK(name.error().code == ErrorCode::kNameInvalid);
    FUZZ_CHECK(!name.error().message.empty());
  }
  // The oracle. The length bound keeps std::regex's recursive matcher within its stack.
  if (text.size() <= 2 * RepositoryName::kMaxLength) {
    bool want = text.size() <= RepositoryName::kMaxLength && full_match(text, name_grammar());
    FUZZ_CHECK(name.has_value() == want);
  }

  auto tag = Tag::parse(text);
  if (tag) {
    FUZZ_CHECK(tag->str() == text);
    auto again = Tag::parse(tag->str());
    FUZZ_CHECK(again && *again == *tag);
  } else {
    FUZZ_CHECK(tag.error().code == ErrorCode::kTagInvalid);
  }
  if (text.size() <= 2 * Tag::kMaxLength) {
    FUZZ_CHECK(tag.has_value() == full_match(text, tag_grammar()));
  } else {
    FUZZ_CHECK(!tag.has_value());
  }
  return 0;
}
