#include "core/upload_id.hpp"

#include "util/hex.hpp"

namespace berth::core {

UploadId UploadId::generate() { return UploadId(util::random_hex(kLength / 2)); }

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
