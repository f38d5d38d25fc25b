#include "storage/read_blob.hpp"

#include <span>

namespace berth::storage {

Result<std::string> read_blob(BlobStore& blobs, const core::Digest& digest, std::uint64_t limit) {
  auto reader = blobs.open(digest);
  if (!reader) {
    return std::unexpected(reader.error());
  }
  return read_blob(**reader, digest, limit);
}

Result<std::string> read_blob(BlobReader& reader, const core::Digest& digest, std::uint64_t limit) {
  const std::uint64_t size = reader.size();
  if (size > limit) {
    return core::fail(core::ErrorCode::kTooLarge,
                      "blob " + digest.str() + " has " + std::to_string(size) +
                          " bytes, more than the " + std::to_string(limit) + " read here");
  }
  std::string bytes(size, '\0');
  std::uint64_t offset = 0;
  while (offset < bytes.size()) {
    auto n = reader.read_at(offset, std::span(reinterpret_cast<std::byte*>(bytes.data()) + offset,
                                              bytes.size() - offset));
    if (!n) {
      return std::unexpected(n.error());
    }
    if (*n == 0) {
      return core::fail(core::ErrorCode::kInternal, "blob " + digest.str() + " is truncated");
    }
    offset += *n;
  }
  return bytes;
}

}  // namespace berth::storage
