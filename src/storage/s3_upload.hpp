// The pieces of the S3 driver below the store (s3_blob_store.hpp describes the design): a reader
// over a sequence of objects and in-memory chunks, an upload's pieces as listed in the bucket,
// and the upload writer with the in-process view of what it holds in memory.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/upload_id.hpp"
#include "storage/blob_store.hpp"
#include "storage/s3_client.hpp"

namespace berth::storage::s3 {

// Bytes appended to an upload, immutable once made, shared by the writer and readers' snapshots.
using Chunk = std::shared_ptr<const std::vector<std::byte>>;

// A run of bytes: an object (key set) or a chunk in memory.
struct Segment {
  std::string key;
  Chunk chunk;
  std::uint64_t size = 0;
};

// Reads the segments one after the other as one sequence of bytes. Sequential reads of an
// object stream through one GET; a jump opens another. A GET cut short is reopened where it
// stopped, twice at most.
[[nodiscard]] std::unique_ptr<BlobReader> make_segment_reader(std::shared_ptr<Client> client,
                                                              std::vector<Segment> segments);

// What a writer of an upload holds in memory, for read_upload() in the same process.
struct LiveUpload {
  std::mutex mutex;  // guards the three below
  // Pieces before this one are in the bucket, whole.
  std::uint32_t pending_index = 0;
  // The bytes of piece pending_index so far.
  std::vector<Chunk> chunks;
  std::uint64_t pending_bytes = 0;
};

// An upload as the bucket has it.
struct StoredUpload {
  bool exists = false;  // its marker is there
  // Piece objects in index order, checked against the plan (contiguous, full but the last).
  std::vector<ObjectInfo> pieces;
  std::uint64_t size = 0;
};

// Lists uploads/<id>/ under `prefix`. kInternal if the pieces break the plan.
[[nodiscard]] Result<StoredUpload> load_upload(Client& client, const std::string& prefix,
                                               const core::UploadId& id);

// Opens the upload for appending: the bytes of a short last piece are read back, to be
// continued. `live` is shared with the store for read_upload(); the writer keeps it current.
[[nodiscard]] Result<std::unique_ptr<UploadWriter>> open_upload_writer(
    std::shared_ptr<Client> client, const std::string& prefix, const core::UploadId& id,
    const StoredUpload& stored, std::shared_ptr<LiveUpload> live);

}  // namespace berth::storage::s3
