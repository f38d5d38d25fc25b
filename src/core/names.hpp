// Repository names, tags and references, validated by the OCI distribution spec's grammar.
// A value of these types is always valid: the only way to make one is parse(). Validation
// here is what keeps client input out of file paths and SQL.
#pragma once

#include <compare>
#include <string>
#include <string_view>
#include <variant>

#include "core/digest.hpp"
#include "core/error.hpp"

namespace berth::core {

// The first path component of a repository name: the project it belongs to ("team" of
// "team/app"; the whole name when it has no slash).
[[nodiscard]] inline std::string_view project_of(std::string_view repository) {
  return repository.substr(0, repository.find('/'));
}

// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*, at most 255 bytes.
class RepositoryName {
 public:
  static constexpr std::size_t kMaxLength = 255;
  [[nodiscard]] static Result<RepositoryName> parse(std::string_view text);

  const std::string& str() const { return text_; }
  // The first path component: the project the repository belongs to.
  std::string_view project() const;

  friend bool operator==(const RepositoryName&, const RepositoryName&) = default;
  friend auto operator<=>(const RepositoryName&, const RepositoryName&) = default;

 private:
  explicit RepositoryName(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
class Tag {
 public:
  static constexpr std::size_t kMaxLength = 128;
  [[nodiscard]] static Result<Tag> parse(std::string_view text);

  const std::string& str() const { return text_; }

  friend bool operator==(const Tag&, const Tag&) = default;
  friend auto operator<=>(const Tag&, const Tag&) = default;

 private:
  explicit Tag(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

// The <reference> of a manifest URL: a tag or a digest.
class Reference {
 public:
  // Text with a ':' is a digest (DIGEST_INVALID if malformed), anything else a tag
  // (TAG_INVALID if malformed).
  [[nodiscard]] static Result<Reference> parse(std::string_view text);

  explicit Reference(Tag tag) : value_(std::move(tag)) {}
  explicit Reference(Digest digest) : value_(std::move(digest)) {}

  bool is_tag() const { return std::holds_alternative<Tag>(value_); }
  bool is_digest() const { return std::holds_alternative<Digest>(value_); }
  const Tag& tag() const { return std::get<Tag>(value_); }
  const Digest& digest() const { return std::get<Digest>(value_); }
  const std::string& str() const;

 private:
  std::variant<Tag, Digest> value_;
};

}  // namespace berth::core
