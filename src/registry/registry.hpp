// Registry: the rules of the OCI Distribution Spec and the Docker Registry API v2, without any
// transport. It takes parsed, validated values (core::RepositoryName, core::Digest, ...) and
// returns results or a core::Error. The api layer turns HTTP into calls of this class.
//
// Every method may block (storage and database I/O): call it from the blocking pool, never
// from an event loop. All methods are safe to call concurrently.
//
// What it guarantees, whatever the client sends:
//  - a blob becomes visible in a repository only after its bytes were hashed while they
//    arrived, matched the digest the client claimed, and were published atomically;
//  - a blob is served from a repository only when linked to it (pushed, mounted, or the
//    manifest itself), so knowing a digest does not leak another repository's content;
//  - a manifest is stored byte for byte, and only when every blob and child manifest it names
//    is present in the repository.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/names.hpp"
#include "core/upload_id.hpp"
#include "meta/metadata_store.hpp"
#include "registry/manifest_cache.hpp"
#include "registry/registry_policy.hpp"
#include "storage/blob_store.hpp"

namespace berth::registry {

using core::Result;

struct RegistryOptions {
  std::uint64_t max_manifest_bytes = 4 * 1024 * 1024;
  // Bytes of manifests kept in memory for GETs. Manifests are immutable per digest, so the
  // cache is never stale.
  std::size_t manifest_cache_bytes = 32 * 1024 * 1024;
  // Upper bound on n for tags/list and the catalog; more is PAGINATION_NUMBER_INVALID.
  std::size_t max_page_size = 100'000;
  // Page size of the catalog when the client gives no n.
  std::size_t default_catalog_page = 1000;
  // How long a push keeps publishing again a blob that garbage collection is deleting (the
  // tombstone protocol of meta/gc_store.hpp) before it answers 503. A collection deletes one
  // blob's bytes in about a file unlink and two transactions, so the wait is normally short.
  std::chrono::milliseconds collection_wait = std::chrono::seconds(30);
  // The first pause between those attempts; it doubles up to a second.
  std::chrono::milliseconds collection_retry = std::chrono::milliseconds(20);
};

struct BlobStat {
  core::Digest digest;
  std::uint64_t size = 0;
};

struct ManifestContent {
  meta::ManifestRecord record;
  std::shared_ptr<const std::string> bytes;
};

struct PutManifestResult {
  core::Digest digest;
  std::optional<core::Digest> subject;
  // cache_manifest only: references (blobs, child manifests) not in the repository yet, so
  // left out of the recorded relations.
  std::size_t missing_references = 0;
};

// One page of names (tags or repositories). next_last is set when there may be more: it is the
// `last` to ask for the next page.
struct NamePage {
  std::vector<std::string> names;
  std::optional<std::string> next_last;
};

struct ReferrersIndex {
  // An OCI image index (application/vnd.oci.image.index.v1+json).
  std::string json;
  // True when an artifactType filter was applied (the OCI-Filters-Applied header).
  bool filtered = false;
};

class Registry;
struct UploadSession;

// Exclusive access to one upload for the duration of one request. Appending hashes the bytes
// as they are written. Releasing the lease (destruction) makes the upload available to the
// next request.
class UploadLease {
 public:
  UploadLease(UploadLease&&) noexcept;
  UploadLease& operator=(UploadLease&&) noexcept;
  ~UploadLease();

  const core::UploadId& id() const;
  const core::RepositoryName& repository() const;
  // Bytes received so far.
  std::uint64_t size() const;
  // The digest (sha256) of the bytes received so far. For a caller that passes the bytes on
  // as they arrive and must know they are right before it hands out the last of them, ahead
  // of finish_upload's publication (proxy/); finish_upload checks again.
  core::Digest digest() const;
  // Writes and hashes bytes at the end of the upload.
  [[nodiscard]] Result<void> append(std::span<const std::byte> bytes);
  // Gives the upload back now rather than at destruction. Release before answering the
  // client: it may send its next request for this upload the moment it has the answer.
  // Only destruction and assignment are valid afterwards.
  void release();

 private:
  friend class Registry;
  UploadLease(Registry* registry, std::shared_ptr<UploadSession> session,
              std::unique_ptr<storage::UploadWriter> writer);

  Registry* registry_ = nullptr;
  std::shared_ptr<UploadSession> session_;
  std::unique_ptr<storage::UploadWriter> writer_;
};

class Registry {
 public:
  // policy may be null (no quotas, no immutable tags, no pull statistics); it must outlive
  // the registry.
  Registry(storage::BlobStore& blobs, meta::MetadataStore& meta, const core::Clock& clock,
           RegistryOptions options = {}, RegistryPolicy* policy = nullptr);
  ~Registry();

  // ---- blobs
  // BLOB_UNKNOWN unless the blob is linked to the repository.
  [[nodiscard]] Result<BlobStat> stat_blob(const core::RepositoryName& repo,
                                           const core::Digest& digest);
  [[nodiscard]] Result<std::unique_ptr<storage::BlobReader>> open_blob(
      const core::RepositoryName& repo, const core::Digest& digest);
  // A URL the client may fetch the blob's bytes from directly (the S3 driver with
  // storage.s3.redirect), or nullopt when the store serves them only through open_blob.
  // BLOB_UNKNOWN as stat_blob when there is a URL but no link.
  [[nodiscard]] Result<std::optional<std::string>> blob_url(const core::RepositoryName& repo,
                                                            const core::Digest& digest);
  // Unlinks the blob from the repository (the bytes stay while anything else uses them).
  [[nodiscard]] Result<void> delete_blob(const core::RepositoryName& repo,
                                         const core::Digest& digest);

  // ---- uploads
  // Whether `size` bytes of `digest` may join `repo` (quotas), asked when the size is known
  // before the bytes arrive (a monolithic upload's Content-Length).
  [[nodiscard]] Result<void> admit_blob(const core::RepositoryName& repo,
                                        const core::Digest& digest, std::uint64_t size);
  // Starts a resumable upload session.
  [[nodiscard]] Result<core::UploadId> start_upload(const core::RepositoryName& repo);
  // Starts an upload that lives only for this request (monolithic POST ?digest=): no session
  // record is written, so a client cannot resume it.
  [[nodiscard]] Result<UploadLease> start_single_request_upload(const core::RepositoryName& repo);
  // Takes the upload for one request. BLOB_UPLOAD_UNKNOWN if there is no such upload in this
  // repository; BLOB_UPLOAD_INVALID if another request holds it.
  [[nodiscard]] Result<UploadLease> open_upload(const core::RepositoryName& repo,
                                                const core::UploadId& id);
  // Size of an upload (GET upload status), without taking it.
  [[nodiscard]] Result<std::uint64_t> upload_size(const core::RepositoryName& repo,
                                                  const core::UploadId& id);
  // The bytes of an upload so far, as a snapshot (appends after the call do not show), while
  // another request holds its lease: a pull-through cache's clients read a blob this way as
  // it arrives (proxy/). BLOB_UPLOAD_UNKNOWN once the upload is finished or abandoned.
  [[nodiscard]] Result<std::unique_ptr<storage::BlobReader>> read_upload(const core::UploadId& id);
  // Records the progress of a leased upload (after a PATCH).
  [[nodiscard]] Result<void> save_upload(UploadLease& lease);
  // Verifies the bytes against `claimed`, publishes the blob and links it to the repository.
  // On a mismatch the upload is discarded and DIGEST_INVALID returned. The lease is consumed.
  [[nodiscard]] Result<BlobStat> finish_upload(UploadLease lease, const core::Digest& claimed);
  // Cancels an upload (DELETE). BLOB_UPLOAD_UNKNOWN if absent.
  [[nodiscard]] Result<void> cancel_upload(const core::RepositoryName& repo,
                                           const core::UploadId& id);
  // Cancels a leased upload (e.g. after a failed request body), consuming the lease.
  void abandon_upload(UploadLease lease);
  // Links a blob of `from` into `repo`. nullopt when it cannot (unknown in `from`): the
  // caller falls back to an ordinary upload.
  [[nodiscard]] Result<std::optional<BlobStat>> mount_blob(const core::RepositoryName& repo,
                                                           const core::Digest& digest,
                                                           const core::RepositoryName& from);
  // Deletes uploads untouched since cutoff, recorded or not. Returns how many.
  [[nodiscard]] Result<std::size_t> purge_stale_uploads(core::TimePoint cutoff);

  // ---- manifests
  [[nodiscard]] Result<PutManifestResult> put_manifest(const core::RepositoryName& repo,
                                                       const core::Reference& reference,
                                                       std::string bytes,
                                                       std::string_view content_type,
                                                       const std::vector<core::Tag>& extra_tags);
  // For pull-through caches (proxy/): stores a manifest fetched from an upstream registry,
  // whose blobs and child manifests may not have been fetched yet. Checks, limits and tags are
  // as for put_manifest, but references that are not in the repository are left out of the
  // recorded relations instead of refusing the manifest; storing it again later (by digest)
  // records those that have arrived since. A blob the relations do not name is kept by
  // garbage collection only for its grace period.
  [[nodiscard]] Result<PutManifestResult> cache_manifest(const core::RepositoryName& repo,
                                                         const core::Reference& reference,
                                                         std::string bytes,
                                                         std::string_view content_type);
  // Stores a manifest of the repository again as cache_manifest would, from its own bytes, so
  // that the references that have arrived since it was cached are recorded. MANIFEST_UNKNOWN
  // if it is gone. Counts no pull.
  [[nodiscard]] Result<PutManifestResult> refill_manifest(const core::RepositoryName& repo,
                                                          const core::Digest& digest);
  [[nodiscard]] Result<meta::ManifestRecord> stat_manifest(const core::RepositoryName& repo,
                                                           const core::Reference& reference);
  [[nodiscard]] Result<ManifestContent> get_manifest(const core::RepositoryName& repo,
                                                     const core::Reference& reference);
  // get_manifest without counting a pull, for callers that count it themselves.
  [[nodiscard]] Result<ManifestContent> read_manifest(const core::RepositoryName& repo,
                                                      const core::Reference& reference);
  // Counts a pull of a manifest (by digest, or by `tag`) in the pull statistics. Cheap.
  void record_pull(const core::RepositoryName& repo, const core::Digest& digest,
                   const std::optional<core::Tag>& tag);
  // Whether deleting this tag needs the project's owner (it matches an immutable pattern).
  [[nodiscard]] Result<bool> tag_is_immutable(const core::RepositoryName& repo,
                                              const core::Tag& tag);
  // By tag: removes only the tag. By digest: removes the manifest and every tag on it.
  [[nodiscard]] Result<void> delete_manifest(const core::RepositoryName& repo,
                                             const core::Reference& reference);

  // ---- discovery
  // Whether the repository holds anything (a blob link, a manifest).
  [[nodiscard]] Result<bool> repository_exists(const core::RepositoryName& repo) {
    return meta_.repository_exists(repo);
  }
  // n: nullopt for all tags. NAME_UNKNOWN for a repository that does not exist.
  [[nodiscard]] Result<NamePage> list_tags(const core::RepositoryName& repo,
                                           std::optional<std::size_t> n, const std::string& last);
  // Repositories for which `visible` (if given) is true, so each caller sees only what it may
  // pull; pages are filled from further batches when the filter drops names.
  using RepositoryFilter = std::function<bool(const std::string& repository)>;
  [[nodiscard]] Result<NamePage> catalog(std::optional<std::size_t> n, const std::string& last,
                                         const RepositoryFilter& visible = {});
  [[nodiscard]] Result<ReferrersIndex> referrers(const core::RepositoryName& repo,
                                                 const core::Digest& subject,
                                                 const std::optional<std::string>& artifact_type);

 private:
  friend class UploadLease;
  [[nodiscard]] Result<std::shared_ptr<UploadSession>> session_for(const core::RepositoryName& repo,
                                                                   const core::UploadId& id);
  [[nodiscard]] Result<UploadLease> lease(std::shared_ptr<UploadSession> session);
  void release(UploadSession& session);
  void forget_session(const core::UploadId& id);
  [[nodiscard]] Result<PutManifestResult> store_manifest(
      const core::RepositoryName& repo, const core::Reference& reference, std::string bytes,
      std::string_view content_type, const std::vector<core::Tag>& extra_tags, bool partial);
  [[nodiscard]] Result<meta::ManifestRecord> resolve(const core::RepositoryName& repo,
                                                     const core::Reference& reference);
  [[nodiscard]] Result<std::shared_ptr<const std::string>> manifest_bytes(
      const meta::ManifestRecord& record);
  [[nodiscard]] Result<core::Digest> rehash_upload(const core::UploadId& id,
                                                   core::DigestAlgorithm algorithm,
                                                   std::uint64_t expected_size);
  // Publishes bytes, then commits the link that makes them reachable, by the tombstone
  // protocol; see registry.cpp. `link` returns false when it refused for reasons of its own
  // (nothing linked). `published` turns true at the first publication that succeeds.
  [[nodiscard]] Result<bool> publish_then_link(const core::Digest& digest,
                                               const std::function<Result<void>()>& publish,
                                               const std::function<Result<bool>()>& link,
                                               bool& published);

  storage::BlobStore& blobs_;
  meta::MetadataStore& meta_;
  const core::Clock& clock_;
  RegistryOptions options_;
  RegistryPolicy* policy_;
  ManifestCache manifest_cache_;

  // Hash states of uploads seen by this process, so a PATCH never re-reads earlier chunks.
  // A session missing here (restart, another replica) is rebuilt from the stored bytes.
  std::mutex sessions_mutex_;
  std::unordered_map<std::string, std::shared_ptr<UploadSession>> sessions_;
};

}  // namespace berth::registry
