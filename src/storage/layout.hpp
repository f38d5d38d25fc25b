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
// An object store (the S3 driver) uses the same blob keys, under its configured prefix, and
// keeps an upload as several objects rather than one growing file (S3 objects cannot be
// appended to; see s3_blob_store.hpp for why):
//
//   <prefix>uploads/<upload id>/
//   ├── started                                  empty marker: the upload exists
//   ├── piece-00000                              the upload's bytes, cut as s3_part_plan.hpp
//   ├── piece-00001                              says (5 digits: at most 10,000 pieces);
//   └── ...                                      only the last may be short
//
// The data directory that usually is <root> also holds the metadata store's berth.db (and
// its WAL files). They are not part of this layout; nothing here lists or touches them.
//
// Only values that are already validated become keys: core::Digest (lowercase hex of fixed
// length, algorithm from a closed set) and core::UploadId (32 lowercase hex). No request
// string ever reaches a path, so no key can escape <root>.
#pragma once

#include <cstdint>
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

// Object-store uploads (tree above). "uploads/<upload id>/", the prefix of all its objects.
[[nodiscard]] std::string upload_object_prefix(const core::UploadId& id);
// "uploads/<upload id>/started".
[[nodiscard]] std::string upload_marker_key(const core::UploadId& id);
// "uploads/<upload id>/piece-<index, 5 digits>".
[[nodiscard]] std::string upload_piece_key(const core::UploadId& id, std::uint32_t index);
// What an object key under uploads/ is: its upload, and the piece index if it is a piece (for a
// marker, nullopt). nullopt for anything upload_marker_key or upload_piece_key would not make.
struct UploadObject {
  core::UploadId id;
  std::optional<std::uint32_t> piece;
};
[[nodiscard]] std::optional<UploadObject> parse_upload_object_key(std::string_view key);

// "tmp/put-<32 random hex>": a fresh name for put()'s temporary file, unique without
// coordination (128 random bits, like an upload id).
[[nodiscard]] std::string new_tmp_key();

}  // namespace berth::storage::layout
