// MetadataStore: names and relations. Repositories, which blobs each repository may serve,
// manifests and what they reference, tags, referrers and upload sessions. Listing tags or the
// catalog reads only this store, never blob storage.
//
// Contract, for every implementation (checked by metadata_store_contract_test.cpp):
//  - All methods are blocking and safe to call concurrently from any thread.
//  - Each method is one transaction: it happens entirely or not at all.
//  - Repositories come into being implicitly, on the first blob link, manifest or upload.
//  - Lists are in byte-wise lexical order and start strictly after `after` (empty: from the
//    beginning); at most `limit` entries.
//  - Failures of the database are core::Error kInternal / kUnavailable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/names.hpp"
#include "core/upload_id.hpp"
#include "meta/outbox_store.hpp"

namespace berth::meta {

using core::Result;

struct ManifestRecord {
  core::Digest digest;
  std::string media_type;
  std::uint64_t size = 0;
  // Empty when none (see core::Manifest::artifact_type).
  std::string artifact_type;
  std::optional<core::Digest> subject;
  // Serialized JSON object, or empty.
  std::string annotations_json;
  core::TimePoint created;
};

struct BlobRef {
  core::Digest digest;
  std::uint64_t size = 0;
};

struct ManifestPut {
  core::RepositoryName repository;
  ManifestRecord manifest;
  // Blobs the manifest names (config, layers); each must be linked to the repository with
  // this size.
  std::vector<BlobRef> blobs;
  // Child manifests (of an index); each must be a manifest of the repository.
  std::vector<core::Digest> children;
  // Tags to point at this manifest (moved from wherever they pointed).
  std::vector<core::Tag> tags;
  // Those of `tags` that must not move (immutable tags): each may name nothing yet or this
  // manifest already. Checked in the put's transaction, so that of two puts of one new fixed
  // tag with different manifests, in any processes on one database, exactly one is stored.
  std::vector<core::Tag> fixed_tags{};
  // What the browse API lists per tag ("linux/amd64"): an index's entries' platforms, an
  // image's from its config; nullopt when unknown (a put again keeps what was recorded).
  std::optional<std::vector<std::string>> platforms{};
  // Written to the outbox (outbox_store.hpp) in the put's transaction if the manifest is
  // stored.
  std::vector<OutboxEvent> events{};
};

// A fixed tag that a put would have moved, and the manifest it names.
struct FixedTagConflict {
  core::Tag tag;
  core::Digest current;
};

// Why a manifest put was refused. Empty vectors: it was stored.
struct ManifestPutOutcome {
  std::vector<core::Digest> missing_blobs;
  // Blobs linked with a size other than the manifest says, as the manifest names them (the
  // size is the manifest's claim).
  std::vector<BlobRef> wrong_size_blobs;
  std::vector<core::Digest> missing_children;
  std::vector<FixedTagConflict> moved_fixed_tags{};
  bool stored() const {
    return missing_blobs.empty() && wrong_size_blobs.empty() && missing_children.empty() &&
           moved_fixed_tags.empty();
  }
};

// What unlink_unused_blob found, and did.
struct BlobUnlink {
  enum class Outcome {
    kUnlinked,
    // The repository does not link the digest.
    kNotLinked,
    // The digest is a manifest of the repository: its link goes only with the manifest.
    kManifest,
    // Manifests of the repository name the blob (config, layer): it stays.
    kInUse,
  };
  Outcome outcome = Outcome::kNotLinked;
  // kInUse: how many manifests of the repository name the blob, and one of them, a tagged
  // one if any (with its first tag by name).
  std::uint64_t users = 0;
  std::optional<core::Digest> user;
  std::optional<std::string> user_tag;
};

struct UploadRecord {
  core::UploadId id;
  core::RepositoryName repository;
  core::TimePoint started;
  core::TimePoint updated;
  // Bytes received so far, as last recorded.
  std::uint64_t size = 0;
  // The running hash of those bytes (core::Hasher::save), so that any replica continues the
  // upload without reading them back; empty when none was recorded. The store keeps it as
  // opaque text.
  std::string hash_state;
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // ---- repositories
  [[nodiscard]] virtual Result<bool> repository_exists(const core::RepositoryName& repo) = 0;
  // The catalog: repositories that hold at least one manifest.
  [[nodiscard]] virtual Result<std::vector<std::string>> list_repositories(const std::string& after,
                                                                           std::size_t limit) = 0;
  // Cheap round trip to the database, for readiness probes.
  [[nodiscard]] virtual Result<void> ping() = 0;

  // ---- blobs
  // Size of the blob if it is linked to the repository.
  [[nodiscard]] virtual Result<std::optional<std::uint64_t>> linked_blob(
      const core::RepositoryName& repo, const core::Digest& digest) = 0;
  // Size of the blob if any repository links it (it is stored).
  [[nodiscard]] virtual Result<std::optional<std::uint64_t>> known_blob(
      const core::Digest& digest) = 0;
  // Links a stored blob to a repository (idempotent). A digest names one byte sequence, so a
  // size other than the one already recorded for the digest is kInternal. Linking a digest
  // that garbage collection is deleting fails with kUnavailable, reason kBlobBeingCollected
  // (gc_store.hpp); so do complete_upload and put_manifest (for the manifest's own bytes).
  [[nodiscard]] virtual Result<void> link_blob(const core::RepositoryName& repo,
                                               const BlobRef& blob, core::TimePoint now) = 0;
  // Links to `repo` a blob that `from` links, in one transaction, and returns its size; nullopt
  // (and nothing changes) when `from` does not link it. Checking and linking in one
  // transaction matters: between a separate linked_blob() and link_blob(), garbage collection
  // could remove the bytes, and the new link would name a blob that is gone.
  // `events` go to the outbox in the same transaction if the blob is linked.
  [[nodiscard]] virtual Result<std::optional<std::uint64_t>> mount_blob(
      const core::RepositoryName& repo, const core::Digest& digest,
      const core::RepositoryName& from, core::TimePoint now,
      const std::vector<OutboxEvent>& events) = 0;
  [[nodiscard]] Result<std::optional<std::uint64_t>> mount_blob(const core::RepositoryName& repo,
                                                                const core::Digest& digest,
                                                                const core::RepositoryName& from,
                                                                core::TimePoint now) {
    return mount_blob(repo, digest, from, now, {});
  }
  // Removes the link; false if there was none.
  [[nodiscard]] virtual Result<bool> unlink_blob(const core::RepositoryName& repo,
                                                 const core::Digest& digest) = 0;
  // Removes the link as the blob endpoint's DELETE may, in one transaction: only when the
  // digest is no manifest of the repository and no manifest of it names the blob, so that
  // deleting a blob never breaks an image. Otherwise nothing changes.
  [[nodiscard]] virtual Result<BlobUnlink> unlink_unused_blob(const core::RepositoryName& repo,
                                                              const core::Digest& digest) = 0;

  // ---- manifests and tags
  // Checks every reference and, only if all are present, stores the manifest (idempotent for
  // the same digest), links the manifest's own digest as a blob of the repository, and moves
  // the tags to it. All in one transaction.
  [[nodiscard]] virtual Result<ManifestPutOutcome> put_manifest(const ManifestPut& put) = 0;
  [[nodiscard]] virtual Result<std::optional<ManifestRecord>> get_manifest(
      const core::RepositoryName& repo, const core::Digest& digest) = 0;
  [[nodiscard]] virtual Result<std::optional<ManifestRecord>> resolve_tag(
      const core::RepositoryName& repo, const core::Tag& tag) = 0;
  // Deletes the manifest, the tags that point at it and its blob link; false if absent.
  // `events` go to the outbox in the same transaction if something was deleted.
  [[nodiscard]] virtual Result<bool> delete_manifest(const core::RepositoryName& repo,
                                                     const core::Digest& digest,
                                                     const std::vector<OutboxEvent>& events) = 0;
  [[nodiscard]] Result<bool> delete_manifest(const core::RepositoryName& repo,
                                             const core::Digest& digest) {
    return delete_manifest(repo, digest, {});
  }
  // Deletes one tag only; false if absent. `events` as for delete_manifest.
  [[nodiscard]] virtual Result<bool> delete_tag(const core::RepositoryName& repo,
                                                const core::Tag& tag,
                                                const std::vector<OutboxEvent>& events) = 0;
  [[nodiscard]] Result<bool> delete_tag(const core::RepositoryName& repo, const core::Tag& tag) {
    return delete_tag(repo, tag, {});
  }
  [[nodiscard]] virtual Result<std::vector<std::string>> list_tags(const core::RepositoryName& repo,
                                                                   const std::string& after,
                                                                   std::size_t limit) = 0;
  // Manifests of the repository whose subject is `subject`, optionally only those with the
  // given artifact type; ordered by digest.
  [[nodiscard]] virtual Result<std::vector<ManifestRecord>> referrers(
      const core::RepositoryName& repo, const core::Digest& subject,
      const std::optional<std::string>& artifact_type) = 0;

  // ---- upload sessions
  [[nodiscard]] virtual Result<void> create_upload(const UploadRecord& upload) = 0;
  [[nodiscard]] virtual Result<std::optional<UploadRecord>> get_upload(
      const core::UploadId& id) = 0;
  // Records progress of an upload: its size and the hash state of that many bytes, together.
  // BLOB_UPLOAD_UNKNOWN if there is no such upload.
  [[nodiscard]] virtual Result<void> update_upload(const core::UploadId& id, std::uint64_t size,
                                                   const std::string& hash_state,
                                                   core::TimePoint now) = 0;
  // Records that the upload is being written now (a request holds it), without its progress:
  // a purge on any replica spares an upload touched since its cutoff. BLOB_UPLOAD_UNKNOWN if
  // there is no such upload (purged).
  [[nodiscard]] virtual Result<void> touch_upload(const core::UploadId& id,
                                                  core::TimePoint now) = 0;
  // Links the finished blob to the upload's repository and forgets the upload, atomically.
  // BLOB_UPLOAD_UNKNOWN if there is no such upload.
  [[nodiscard]] virtual Result<void> complete_upload(const core::UploadId& id, const BlobRef& blob,
                                                     core::TimePoint now) = 0;
  // Forgets an upload; succeeds if there is none (cleanup may race with completion).
  [[nodiscard]] virtual Result<void> delete_upload(const core::UploadId& id) = 0;
  // Uploads last updated before `cutoff`.
  [[nodiscard]] virtual Result<std::vector<UploadRecord>> stale_uploads(core::TimePoint cutoff) = 0;
  // Forgets the upload only if it was last updated or touched before `cutoff`, in one
  // statement: true if it did. A purge claims a stale upload so, and deletes its bytes only
  // then, so that it never takes an upload a request (on any replica) has touched since.
  [[nodiscard]] virtual Result<bool> delete_stale_upload(const core::UploadId& id,
                                                         core::TimePoint cutoff) = 0;
};

}  // namespace berth::meta
