// Upload session ids: 128 random bits from OpenSSL's CSPRNG, as 32 lowercase hex characters.
// Unguessable, so knowing one is the capability to write to that upload; and always safe as
// a file name, because parse() accepts nothing else.
#pragma once

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace berth::core {

class UploadId {
 public:
  static constexpr std::size_t kLength = 32;
  [[nodiscard]] static UploadId generate();
  // BLOB_UPLOAD_UNKNOWN for anything that generate() could not have made.
  [[nodiscard]] static Result<UploadId> parse(std::string_view text);

  const std::string& str() const { return text_; }
  friend bool operator==(const UploadId&, const UploadId&) = default;

 private:
  explicit UploadId(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

}  // namespace berth::core
