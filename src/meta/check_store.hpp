// CheckStore: what `berth check` and `berth backup` read from the metadata beyond the registry's
// own queries (every blob row, every manifest with its recorded relations, who needs a digest),
// and the few repairs `berth check --repair` may make to relation rows and links.
//
// Reads are paged and each page is one consistent snapshot, so a check can walk a store of any
// size while the server writes; a caller that finds something wrong looks again (find_blob,
// find_manifest) before it believes it, because the page it saw may be out of date.
//
// Repairs are each one write transaction that re-checks its precondition inside, like garbage
// collection's deletions: a push that changes the same rows at that moment wins or is seen.
// They never delete a manifest or a tag: what cannot be rebuilt from stored bytes is reported,
// not guessed at.
//
// Blocking, safe to call concurrently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/names.hpp"
#include "meta/metadata_store.hpp"

namespace berth::meta {

using core::Result;

// A row of the blobs table: bytes the metadata says are in blob storage.
struct StoredBlob {
  core::Digest digest;
  std::uint64_t size = 0;
  core::TimePoint created;
  // How many repositories link it.
  std::uint64_t links = 0;
};

// A manifest as recorded, with the relations put_manifest wrote for it.
struct StoredManifest {
  // Opaque, increasing: the position to continue a listing after this manifest.
  std::int64_t cursor = 0;
  core::RepositoryName repository;
  core::Digest digest;
  std::string media_type;
  std::uint64_t size = 0;
  // Sorted.
  std::vector<std::string> tags;
  // manifest_blobs rows (what the manifest names: config, layers), sorted.
  std::vector<core::Digest> blobs;
  // manifest_children rows (child manifests of an index), sorted.
  std::vector<core::Digest> children;
};

// A manifest that cannot be pulled whole without some digest's bytes.
struct ManifestUse {
  core::RepositoryName repository;
  core::Digest digest;
  // Sorted; empty when the manifest is untagged.
  std::vector<std::string> tags;
};

struct StoreCounts {
  std::uint64_t repositories = 0;
  std::uint64_t manifests = 0;
  std::uint64_t tags = 0;
  std::uint64_t blobs = 0;
  // Sum of the sizes of all blob rows (each digest once).
  std::uint64_t blob_bytes = 0;
};

struct RebuildOutcome {
  // False: the manifest is gone (deleted meanwhile); nothing was written.
  bool found = false;
  // Relation rows and links inserted or deleted.
  std::uint64_t changes = 0;
  // Blobs the manifest names that have no blob row: their relation row cannot be written (the
  // bytes were never recorded), so the manifest must be pushed again.
  std::vector<core::Digest> unknown_blobs;
};

class CheckStore {
 public:
  virtual ~CheckStore() = default;

  // ---- reading

  // Blob rows with a digest after `after` (empty: from the start), in digest order, at most
  // limit.
  [[nodiscard]] virtual Result<std::vector<StoredBlob>> list_blobs(const std::string& after,
                                                                   std::size_t limit) = 0;
  [[nodiscard]] virtual Result<std::optional<StoredBlob>> find_blob(const core::Digest& digest) = 0;
  // Manifests after `cursor` (0: from the start), at most limit, in cursor order.
  [[nodiscard]] virtual Result<std::vector<StoredManifest>> list_manifests(std::int64_t cursor,
                                                                           std::size_t limit) = 0;
  [[nodiscard]] virtual Result<std::optional<StoredManifest>> find_manifest(
      const core::RepositoryName& repo, const core::Digest& digest) = 0;
  // Every manifest that needs digest's bytes to be pulled whole: the manifests that are the
  // digest, those that name it (config, layer), and, transitively, the indexes of the same
  // repository that have any of those as a child. Ordered by repository, then digest.
  [[nodiscard]] virtual Result<std::vector<ManifestUse>> manifests_needing(
      const core::Digest& digest) = 0;
  [[nodiscard]] virtual Result<StoreCounts> counts() = 0;

  // ---- repairs (each one write transaction)

  // Makes the manifest's relation rows exactly `blobs` and `children` (what its stored bytes
  // say), and links each blob that has a blob row, and the manifest's own digest, to its
  // repository (pulling through the repository needs the links). Blobs in `unlinkable` get
  // their relation row but no link: their bytes are gone, and a link would tell clients they
  // need not push them again.
  [[nodiscard]] virtual Result<RebuildOutcome> rebuild_relations(
      const core::RepositoryName& repo, const core::Digest& digest,
      const std::vector<core::Digest>& blobs, const std::vector<core::Digest>& children,
      const std::vector<core::Digest>& unlinkable, core::TimePoint now) = 0;
  // Removes every repository's link to digest, so that every repository answers "unknown" for
  // it and a client pushing an image that needs it uploads the bytes again. Returns the
  // repositories it was linked to, sorted.
  [[nodiscard]] virtual Result<std::vector<core::RepositoryName>> unlink_everywhere(
      const core::Digest& digest) = 0;
  // Deletes the blob row iff no repository links it and no manifest is or names it; true if
  // deleted.
  [[nodiscard]] virtual Result<bool> delete_unreferenced_blob_row(const core::Digest& digest) = 0;
};

}  // namespace berth::meta
