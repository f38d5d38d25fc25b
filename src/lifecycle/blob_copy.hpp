// Reading blobs back to prove their digests, and copying them from one store to another with
// the same proof: what `berth check` hashes and what `berth backup` / `berth restore` move.
// Internal to lifecycle/.
#pragma once

#include <cstdint>
#include <string>

#include "core/digest.hpp"
#include "core/error.hpp"
#include "storage/blob_store.hpp"

namespace berth::lifecycle {

struct BlobHash {
  enum class State {
    kOk,
    // The bytes do not hash to the digest (detail says what they hash to).
    kMismatch,
    // Reading failed (an I/O error; detail has it).
    kUnreadable,
    // There is no such blob.
    kVanished,
  };
  State state = State::kOk;
  std::string detail;
  // Bytes read.
  std::uint64_t bytes = 0;
};

// Reads the whole blob and hashes it with its digest's algorithm.
[[nodiscard]] BlobHash hash_blob(storage::BlobStore& blobs, const core::Digest& digest);

struct BlobCopy {
  // False: the source's bytes are absent or not what the digest and size say; nothing was
  // published in the destination, and detail says why.
  bool copied = false;
  std::string detail;
  std::uint64_t bytes = 0;
};

// Streams the blob from `from` into an upload of `to`, hashing as it goes, and publishes it
// there (fsync'ed, atomically) only if the bytes hash to the digest and are `size` long.
// Errors are failures of the destination (disk full) or of reading the source.
[[nodiscard]] core::Result<BlobCopy> copy_blob(storage::BlobStore& from, storage::BlobStore& to,
                                               const core::Digest& digest, std::uint64_t size);

}  // namespace berth::lifecycle
