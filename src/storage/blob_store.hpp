// BlobStore: content-addressed bytes, and the temporary objects (uploads) they are made from.
// It knows digests and upload ids, nothing else: no repositories, tags or users. Which
// repository may see which blob is the metadata store's business.
//
// Contract, for every implementation (checked by blob_store_contract_test.cpp):
//  - All methods are blocking and safe to call concurrently from any thread. Callers on an
//    event loop post them to a thread pool.
//  - A blob becomes visible only complete: put() and commit_upload() publish atomically, so a
//    crash leaves either no blob or the whole blob. The store never checks digests itself;
//    callers verify before publishing (they hash while the bytes stream in).
//  - put(), commit_upload() and publish_upload() of a digest that already exists succeed and
//    keep the existing bytes (content addressing makes them equal).
//  - remove() and delete_upload() of something absent succeed.
//  - Failures of the machine (disk full, I/O error) are core::Error with code kInternal or
//    kUnavailable and a message naming the operation; absence is BLOB_UNKNOWN or
//    BLOB_UPLOAD_UNKNOWN.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/upload_id.hpp"

namespace berth::storage {

using core::Result;

// A readable, immutable sequence of bytes (a blob, or an upload's bytes so far).
// Not thread-safe: one reader per request.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual std::uint64_t size() const = 0;
  // Reads up to out.size() bytes at offset; returns how many (0 only at or past the end).
  [[nodiscard]] virtual Result<std::size_t> read_at(std::uint64_t offset,
                                                    std::span<std::byte> out) = 0;
  // An open file descriptor for sendfile(2), valid while the reader lives; -1 when the
  // driver has none (memory, S3).
  virtual int native_fd() const { return -1; }
};

// Appends to one upload. Not thread-safe: the registry gives an upload to one request at a
// time.
class UploadWriter {
 public:
  virtual ~UploadWriter() = default;
  // Bytes in the upload so far.
  virtual std::uint64_t size() const = 0;
  // The bytes are part of the upload for this process's read_upload() at once. Other processes,
  // and writers opened later, may see them only after flush(): a driver may hold up to one part
  // in memory (S3, whose objects cannot be appended to).
  [[nodiscard]] virtual Result<void> append(std::span<const std::byte> bytes) = 0;
  // Makes every byte appended so far durable and visible to read_upload() and append_upload()
  // from any process. The registry calls it before it reports an upload's size and before it
  // publishes. Destruction flushes too, as a last resort that cannot report failure.
  [[nodiscard]] virtual Result<void> flush() { return {}; }
  // Cuts the upload back to its first `size` bytes (at most size()), freeing the storage the
  // rest held: a request whose write failed (disk full) leaves only what the client had been
  // told was received. Appends continue from there.
  [[nodiscard]] virtual Result<void> truncate(std::uint64_t size) = 0;
};

struct UploadEntry {
  core::UploadId id;
  core::TimePoint modified;
};

struct BlobEntry {
  core::Digest digest;
  std::uint64_t size = 0;
  // When the blob was last published (put, commit_upload, publish_upload).
  core::TimePoint modified;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Size of the blob, or nullopt if absent.
  [[nodiscard]] virtual Result<std::optional<std::uint64_t>> stat(const core::Digest& digest) = 0;
  // BLOB_UNKNOWN if absent.
  [[nodiscard]] virtual Result<std::unique_ptr<BlobReader>> open(const core::Digest& digest) = 0;
  // Stores small content whole (manifests). The caller has verified that digest is
  // the digest of bytes.
  [[nodiscard]] virtual Result<void> put(const core::Digest& digest, std::string_view bytes) = 0;
  [[nodiscard]] virtual Result<void> remove(const core::Digest& digest) = 0;
  // remove() of each digest, in as few round trips as the driver can (S3: DeleteObjects, 1,000
  // keys a request). Stops at the first failure; what was removed before it stays removed.
  [[nodiscard]] virtual Result<void> remove_many(std::span<const core::Digest> digests) {
    for (const core::Digest& digest : digests) {
      if (auto removed = remove(digest); !removed) {
        return removed;
      }
    }
    return {};
  }
  // A URL from which a client may GET the blob's bytes directly for a while (an S3 presigned
  // URL), or nullopt when the driver serves bytes only through open(). Answered without I/O and
  // without checking that the blob exists: the caller has (its metadata links it).
  [[nodiscard]] virtual std::optional<std::string> presigned_url(const core::Digest& digest) {
    (void)digest;
    return std::nullopt;
  }
  // When the blob's bytes were last written, nullopt if it is absent or the driver cannot
  // tell. A blob nothing references yet may belong to a push in flight (bytes are published
  // before the metadata links them); `berth check` leaves such files alone while they are
  // young.
  [[nodiscard]] virtual Result<std::optional<core::TimePoint>> modified(
      const core::Digest& digest) {
    (void)digest;
    return std::optional<core::TimePoint>();
  }
  // Calls fn for every stored blob (for integrity checks and GC; never for listing names).
  [[nodiscard]] virtual Result<void> for_each_blob(
      const std::function<void(const core::Digest&, std::uint64_t size)>& fn) = 0;
  // The same, with each blob's modification time: garbage collection sweeps only files older
  // than its grace, since bytes are published before the metadata links them.
  [[nodiscard]] virtual Result<void> for_each_blob_entry(
      const std::function<void(const BlobEntry&)>& fn) = 0;

  // Creates an empty upload. Fails if it exists.
  [[nodiscard]] virtual Result<void> create_upload(const core::UploadId& id) = 0;
  // Opens an existing upload for appending at its end. BLOB_UPLOAD_UNKNOWN if absent.
  [[nodiscard]] virtual Result<std::unique_ptr<UploadWriter>> append_upload(
      const core::UploadId& id) = 0;
  // Reads the upload's bytes so far (to rebuild a hash state after a restart).
  [[nodiscard]] virtual Result<std::unique_ptr<BlobReader>> read_upload(
      const core::UploadId& id) = 0;
  // Makes the upload's bytes durable and publishes them as the blob `digest`, atomically;
  // the upload is gone afterwards. The caller has verified the digest.
  [[nodiscard]] virtual Result<void> commit_upload(const core::UploadId& id,
                                                   const core::Digest& digest) = 0;
  // Like commit_upload, but the upload stays: the registry deletes it only once the blob's
  // metadata link has committed, so that it can publish again if garbage collection removed
  // the bytes in between (the tombstone protocol, meta/gc_store.hpp). A blob that exists
  // already is kept. Either way the blob's modification time becomes now, so the sweep's grace
  // counts from this publication. Afterwards the upload may share storage with the blob (a hard
  // link): it must never be appended to again, only published again or deleted.
  [[nodiscard]] virtual Result<void> publish_upload(const core::UploadId& id,
                                                    const core::Digest& digest) = 0;
  [[nodiscard]] virtual Result<void> delete_upload(const core::UploadId& id) = 0;
  // Every upload with its last modification time (to expire abandoned ones).
  [[nodiscard]] virtual Result<std::vector<UploadEntry>> list_uploads() = 0;
  // Bytes still free for blobs and uploads, nullopt when the driver cannot tell or has no such
  // limit (an object store).
  [[nodiscard]] virtual Result<std::optional<std::uint64_t>> free_bytes() {
    return std::optional<std::uint64_t>();
  }
};

}  // namespace berth::storage
