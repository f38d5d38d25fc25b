// The storage layout: every key under which a BlobStore driver keeps bytes is made here, and
// nowhere else. Keys are relative, '/'-separated strings, so the filesystem driver joins them
// to its root directory and an object-store driver can use them (under a prefix) as object
// keys. Drivers never build a key by hand.
//
//   <root>/
//   ├── blobs/                                   published, content-addressed, immutable
//   │   ├── sha256/
//   │   │   └── 3f/                              first two hex digits: keeps directories small
//   │   │       └── 3f4a...e1                    the blob's bytes (whole hex as file name)
//   │   └── sha512/
//   │       └── 9c/
//   │           └── 9c01...7d
//   ├── uploads/
//   │   └── <upload id>                          one file per upload in progress, appended to
//   └── tmp/
//       └── put-<32 random hex>                  put() writes here, then renames into blobs/
//
// The data directory that usually is <root> also holds the metadata store's berth.db (and
// its WAL files). They are not part of this layout; nothing here lists or touches them.
//
// Only values that are already validated become keys: core::Digest (lowercase hex of fixed
// length, algorithm from a closed set) and core::UploadId (32 lowercase hex). No request
// string ever reaches a path, so no key can escape <root>.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/digest.hpp"
#include "core/upload_id.hpp"

namespace berth::storage::layout {

inline constexpr std::string_view kBlobsDir = "blobs";
inline constexpr std::string_view kUploadsDir = "uploads";
inline constexpr std::string_view kTmpDir = "tmp";

// "blobs/<algorithm>", the parent of the fan-out directories of one algorithm.
[[nodiscard]] std::string blob_algorithm_dir(core::DigestAlgorithm algorithm);
// "blobs/<algorithm>/<first two hex>", the directory a blob's file is renamed into.
[[nodiscard]] std::string blob_fanout_dir(const core::Digest& digest);
// "blobs/<algorithm>/<first two hex>/<hex>".
[[nodiscard]] std::string blob_key(const core::Digest& digest);
// The inverse of blob_key, for walking the tree: the digest iff key is exactly what blob_key
// would make for it (right fan-out directory included). Anything else, e.g. a stray file an
// operator left behind, is nullopt and must be skipped.
[[nodiscard]] std::optional<core::Digest> parse_blob_key(std::string_view key);

// "uploads/<upload id>".
[[nodiscard]] std::string upload_key(const core::UploadId& id);
// The inverse of upload_key's last component: the id iff name is a valid upload id.
[[nodiscard]] std::optional<core::UploadId> parse_upload_name(std::string_view name);

// "tmp/put-<32 random hex>": a fresh name for put()'s temporary file, unique without
// coordination (128 random bits, like an upload id).
[[nodiscard]] std::string new_tmp_key();

}  // namespace berth::storage::layout
