#include "core/upload_id.hpp"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace berth::core {

UploadId UploadId::generate() {
  std::array<unsigned char, kLength / 2> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  text.reserve(kLength);
  for (unsigned char b : raw) {
    text.push_back(kHex[b >> 4]);
    text.push_back(kHex[b & 0xf]);
  }
  return UploadId(std::move(text));
}

Result<UploadId> UploadId::parse(std::string_view text) {
  bool ok = text.size() == kLength;
  for (char c : text) {
    ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  }
  if (!ok) {
    return fail(ErrorCode::kBlobUploadUnknown, "upload id is not one this registry issued");
  }
  return UploadId(std::string(text));
}

}  // namespace berth::core
