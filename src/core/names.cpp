#include "core/names.hpp"

namespace berth::core {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool is_component(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  if (n == 0 || !is_lower_alnum(s[0])) {
    return false;
  }
  while (i < n) {
    while (i < n && is_lower_alnum(s[i])) {
      ++i;
    }
    if (i == n) {
      return true;
    }
    // A separator: ".", "_", "__" or one or more "-".
    if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      ++i;
      if (i < n && s[i] == '_') {
        ++i;
      }
    } else if (s[i] == '-') {
      while (i < n && s[i] == '-') {
        ++i;
      }
    } else {
      return false;
    }
    if (i == n || !is_lower_alnum(s[i])) {
      return false;
    }
  }
  return true;
}

bool is_tag_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

}  // namespace

Result<RepositoryName> RepositoryName::parse(std::string_view text) {
  if (text.empty()) {
    return fail(ErrorCode::kNameInvalid, "repository name is empty");
  }
  if (text.size() > kMaxLength) {
    return fail(ErrorCode::kNameInvalid, "repository name is longer than 255 characters");
  }
  std::size_t start = 0;
  while (true) {
    auto slash = text.find('/', start);
    auto component =
        text.substr(start, slash == std::string_view::npos ? text.npos : slash - start);
    if (!is_component(component)) {
      return fail(ErrorCode::kNameInvalid,
                  "invalid repository name: components are lowercase letters and digits, "
                  "separated by '.', '_', '__' or '-', joined by '/'");
    }
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  return RepositoryName(std::string(text));
}

std::string_view RepositoryName::project() const { return project_of(text_); }

Result<Tag> Tag::parse(std::string_view text) {
  if (text.empty() || text.size() > kMaxLength) {
    return fail(ErrorCode::kTagInvalid, "tag must be 1 to 128 characters");
  }
  if (text[0] == '.' || text[0] == '-') {
    return fail(ErrorCode::kTagInvalid, "tag must start with a letter, digit or '_'");
  }
  for (char c : text) {
    if (!is_tag_char(c)) {
      return fail(ErrorCode::kTagInvalid, "tag may contain only letters, digits, '_', '.', '-'");
    }
  }
  return Tag(std::string(text));
}

Result<Reference> Reference::parse(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    auto digest = Digest::parse(text);
    if (!digest) {
      return std::unexpected(digest.error());
    }
    return Reference(std::move(*digest));
  }
  auto tag = Tag::parse(text);
  if (!tag) {
    return std::unexpected(tag.error());
  }
  return Reference(std::move(*tag));
}

const std::string& Reference::str() const { return is_tag() ? tag().str() : digest().str(); }

}  // namespace berth::core
