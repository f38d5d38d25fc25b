// hash_blob and copy_blob (blob_copy.hpp).
#include "lifecycle/blob_copy.hpp"

#include <memory>
#include <span>

#include "core/upload_id.hpp"

namespace berth::lifecycle {
namespace {

// Large enough that the per-call cost vanishes, small enough for a few threads at once.
constexpr std::size_t kChunk = std::size_t{1} << 20;

}  // namespace

BlobHash hash_blob(storage::BlobStore& blobs, const core::Digest& digest) {
  BlobHash result;
  auto reader = blobs.open(digest);
  if (!reader) {
    if (reader.error().code == core::ErrorCode::kBlobUnknown) {
      result.state = BlobHash::State::kVanished;
    } else {
      result.state = BlobHash::State::kUnreadable;
      result.detail = reader.error().message;
    }
    return result;
  }
  core::Hasher hasher(digest.algorithm());
  auto buffer = std::make_unique<std::byte[]>(kChunk);
  std::uint64_t offset = 0;
  while (true) {
    auto n = (*reader)->read_at(offset, std::span(buffer.get(), kChunk));
    if (!n) {
      result.state = BlobHash::State::kUnreadable;
      result.detail = n.error().message;
      return result;
    }
    if (*n == 0) {
      break;
    }
    hasher.update(buffer.get(), *n);
    offset += *n;
  }
  result.bytes = offset;
  if (offset != (*reader)->size()) {
    result.state = BlobHash::State::kMismatch;
    result.detail = "the file shrank while it was read (" + std::to_string(offset) + " of " +
                    std::to_string((*reader)->size()) + " bytes)";
    return result;
  }
  if (auto actual = hasher.digest(); actual != digest) {
    result.state = BlobHash::State::kMismatch;
    result.detail = "its bytes hash to " + actual.str();
  }
  return result;
}

core::Result<BlobCopy> copy_blob(storage::BlobStore& from, storage::BlobStore& to,
                                 const core::Digest& digest, std::uint64_t size) {
  BlobCopy result;
  auto reader = from.open(digest);
  if (!reader) {
    if (reader.error().code != core::ErrorCode::kBlobUnknown) {
      return std::unexpected(reader.error());
    }
    result.detail = "its bytes are missing";
    return result;
  }
  const auto id = core::UploadId::generate();
  if (auto created = to.create_upload(id); !created) {
    return std::unexpected(created.error());
  }
  // Whatever happens below, the upload goes: committed (and so renamed away), or deleted.
  struct DropUpload {
    storage::BlobStore& store;
    const core::UploadId& id;
    ~DropUpload() { (void)store.delete_upload(id); }
  } drop{to, id};
  auto writer = to.append_upload(id);
  if (!writer) {
    return std::unexpected(writer.error());
  }
  core::Hasher hasher(digest.algorithm());
  auto buffer = std::make_unique<std::byte[]>(kChunk);
  std::uint64_t offset = 0;
  while (true) {
    auto n = (*reader)->read_at(offset, std::span(buffer.get(), kChunk));
    if (!n) {
      return std::unexpected(n.error());
    }
    if (*n == 0) {
      break;
    }
    hasher.update(buffer.get(), *n);
    if (auto appended = (*writer)->append(std::span<const std::byte>(buffer.get(), *n));
        !appended) {
      return std::unexpected(appended.error());
    }
    offset += *n;
  }
  if (auto flushed = (*writer)->flush(); !flushed) {
    return std::unexpected(flushed.error());
  }
  writer->reset();
  result.bytes = offset;
  if (auto actual = hasher.digest(); actual != digest) {
    result.detail = "its bytes are corrupt (they hash to " + actual.str() + ")";
    return result;
  }
  if (offset != size) {
    result.detail =
        "it is " + std::to_string(offset) + " bytes, not the " + std::to_string(size) + " recorded";
    return result;
  }
  if (auto committed = to.commit_upload(id, digest); !committed) {
    return std::unexpected(committed.error());
  }
  result.copied = true;
  return result;
}

}  // namespace berth::lifecycle
