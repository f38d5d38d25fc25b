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
#include "registry/events.hpp"
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
  // The registry never waits itself: it refuses the attempt (try_finish_upload, put_manifest)
  // and the api layer waits on a timer, holding no thread, before it tries again.
  std::chrono::milliseconds collection_wait = std::chrono::seconds(30);
  // The first pause between those attempts; it doubles up to a second.
  std::chrono::milliseconds collection_retry = std::chrono::milliseconds(20);
  // The largest blob an upload may grow to (uploads.max_size); 0: no limit.
  std::uint64_t max_blob_bytes = 0;
  // New uploads are refused while the blob store has less free space than this
  // (storage.min_free); 0: never.
  std::uint64_t min_free_bytes = 0;
  // How often a recorded upload that a request is writing tells the database it is active
  // (see purge_stale_uploads); well below uploads.max_age.
  std::chrono::milliseconds upload_touch_interval = std::chrono::minutes(1);
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
struct UploadBounds;

// Exclusive access to one upload for the duration of one request. Appending hashes the bytes
// as they are written. Releasing the lease (destruction) makes the upload available to the
// next request.
class UploadLease {
 public:
  UploadLease(UploadLease&&) noexcept;
  UploadLease& operator=(UploadLease&&) noexcept;
  ~UploadLease();

  // Whether the lease still holds its upload (not released, moved from, or consumed).
  bool held() const;
  const core::UploadId& id() const;
  const core::RepositoryName& repository() const;
  // Bytes received so far.
  std::uint64_t size() const;
  // The digest (sha256) of the bytes received so far. For a caller that passes the bytes on
  // as they arrive and must know they are right before it hands out the last of them, ahead
  // of finish_upload's publication (proxy/); finish_upload checks again.
  core::Digest digest() const;
  // Whether `more` bytes may still be appended: SIZE_INVALID (413) past uploads.max_size,
  // DENIED (reason kQuotaExceeded) past what is left of the project's byte quota. Both are
  // final for the upload: the caller discards it (abandon_upload). Ask it before reading a
  // body of known length.
  [[nodiscard]] Result<void> admit(std::uint64_t more) const;
  // Writes and hashes bytes at the end of the upload, refusing (as admit) bytes past its
  // bounds before they are written. Refused once the upload was published
  // (try_finish_upload).
  [[nodiscard]] Result<void> append(std::span<const std::byte> bytes);
  // After a failed write (disk full): cuts the upload back to what it held when leased, the
  // bytes the client was told of, freeing the rest at once.
  [[nodiscard]] Result<void> roll_back();
  // How many stored bytes were read back to rebuild the hash state when the upload was leased:
  // 0 unless its saved state was missing, of an unknown format, or behind what is stored (a
  // request cut off after its bytes were written, before they were recorded).
  std::uint64_t rehashed_bytes() const { return rehashed_; }
  // Gives the upload back now rather than at destruction. Release before answering the
  // client: it may send its next request for this upload the moment it has the answer.
  // Only destruction and assignment are valid afterwards.
  void release();

 private:
  friend class Registry;
  UploadLease(Registry* registry, std::shared_ptr<UploadSession> session,
              std::unique_ptr<storage::UploadWriter> writer, UploadBounds bounds);

  Registry* registry_ = nullptr;
  std::shared_ptr<UploadSession> session_;
  std::unique_ptr<storage::UploadWriter> writer_;
  std::unique_ptr<UploadBounds> bounds_;
  std::uint64_t rehashed_ = 0;
};

class Registry {
 public:
  // policy may be null (no quotas, no immutable tags, no pull statistics); it must outlive
  // the registry.
  Registry(storage::BlobStore& blobs, meta::MetadataStore& meta, const core::Clock& clock,
           RegistryOptions options = {}, RegistryPolicy* policy = nullptr);
  ~Registry();

  const RegistryOptions& options() const { return options_; }
  // Where pulls and quota refusals are noted (events.hpp); null (the default): nowhere. Set
  // before the registry serves; it must outlive the registry.
  void set_event_sink(EventSink* sink) { events_ = sink; }
  // Notes an event that is no database change (a quota refusal the api layer saw), if a sink
  // is set and anyone wants it. Cheap.
  void note_event(meta::OutboxEvent event);
  // Whether anyone wants events of `type` about `project` (false without a sink): events
  // nobody wants are neither built nor written.
  bool wants_event(std::string_view type, std::string_view project) const {
    return events_ != nullptr && events_->wants(type, project);
  }
  // A webhook was added or deleted here: the sink's subscriptions follow. Blocking.
  void event_subscriptions_changed() {
    if (events_ != nullptr) {
      events_->subscriptions_changed();
    }
  }

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
  // BLOB_UNKNOWN for a digest the repository does not link, or links as a manifest (deleted
  // only through the manifest endpoint); kBlobInUse (409 DENIED) while a manifest of the
  // repository names it, naming one (a tagged one if any).
  [[nodiscard]] Result<void> delete_blob(const core::RepositoryName& repo,
                                         const core::Digest& digest);

  // ---- uploads
  // Whether `size` bytes of `digest` may join `repo` (quotas).
  [[nodiscard]] Result<void> admit_blob(const core::RepositoryName& repo,
                                        const core::Digest& digest, std::uint64_t size);
  // Before an upload of `size` bytes of `digest` is read (a monolithic upload's
  // Content-Length): SIZE_INVALID (413) past uploads.max_size, UNAVAILABLE (reason
  // kStorageLow) when the bytes would leave less than storage.min_free, and admit_blob.
  [[nodiscard]] Result<void> admit_upload(const core::RepositoryName& repo,
                                          const core::Digest& digest, std::uint64_t size);
  // Starts a resumable upload session. UNAVAILABLE (reason kStorageLow, with Retry-After)
  // while the blob store has less than storage.min_free free.
  [[nodiscard]] Result<core::UploadId> start_upload(const core::RepositoryName& repo);
  // Starts an upload that lives only for this request (monolithic POST ?digest=): no session
  // record is written, so a client cannot resume it. Refused as start_upload is. Its bytes are
  // bounded by uploads.max_size; the quota is checked by finish_upload (and, for a size known
  // before, by admit_blob).
  [[nodiscard]] Result<UploadLease> start_single_request_upload(const core::RepositoryName& repo);
  // The same for an upload of `claimed`, whose bytes are also bounded by what is left of the
  // project's quota, unless the project holds `claimed` already.
  [[nodiscard]] Result<UploadLease> start_single_request_upload(const core::RepositoryName& repo,
                                                                const core::Digest& claimed);
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
  // While garbage collection is deleting the digest the upload is discarded too and the error
  // is UNAVAILABLE with reason kBlobBeingCollected and a Retry-After: it does not wait.
  [[nodiscard]] Result<BlobStat> finish_upload(UploadLease lease, const core::Digest& claimed);
  // finish_upload for a caller that can wait without holding a thread: when garbage collection
  // is deleting the digest (reason kBlobBeingCollected) the lease stays held, its bytes
  // published (no more appends), and the caller may call again later, or give up with
  // abandon_upload. After any other outcome the lease is consumed.
  [[nodiscard]] Result<BlobStat> try_finish_upload(UploadLease& lease, const core::Digest& claimed);
  // Cancels an upload (DELETE). BLOB_UPLOAD_UNKNOWN if absent.
  [[nodiscard]] Result<void> cancel_upload(const core::RepositoryName& repo,
                                           const core::UploadId& id);
  // Cancels a leased upload (e.g. after a failed request body), consuming the lease.
  void abandon_upload(UploadLease lease);
  // Links a blob of `from` into `repo`. nullopt when it cannot (unknown in `from`): the
  // caller falls back to an ordinary upload.
  // `origin`: who asks, for the events of the change (the same for put_manifest,
  // get_manifest and delete_manifest).
  [[nodiscard]] Result<std::optional<BlobStat>> mount_blob(const core::RepositoryName& repo,
                                                           const core::Digest& digest,
                                                           const core::RepositoryName& from,
                                                           const EventOriginFn& origin = {});
  // Deletes uploads untouched since cutoff, recorded or not. Returns how many. A recorded
  // upload is spared while a request on any replica writes it (keep_active touches its record
  // every upload_touch_interval, and it is claimed by a conditional delete in the database
  // before its bytes go); an unrecorded one (a single-request upload) by the blob store's
  // modification time of its bytes, and in this process by its lease.
  [[nodiscard]] Result<std::size_t> purge_stale_uploads(core::TimePoint cutoff);

  // ---- manifests
  // While garbage collection is deleting the manifest's digest (its own bytes were an orphan)
  // it fails at once with UNAVAILABLE, reason kBlobBeingCollected: call again after a pause.
  [[nodiscard]] Result<PutManifestResult> put_manifest(const core::RepositoryName& repo,
                                                       const core::Reference& reference,
                                                       std::string bytes,
                                                       std::string_view content_type,
                                                       const std::vector<core::Tag>& extra_tags,
                                                       const EventOriginFn& origin = {});
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
                                                     const core::Reference& reference,
                                                     const EventOriginFn& origin = {});
  // get_manifest when the manifest's bytes are in memory; nullopt, with no pull counted, when
  // they would have to come from the blob store (the caller then asks get_manifest where blob
  // I/O may wait). Reads only the metadata store and the manifest cache.
  [[nodiscard]] Result<std::optional<ManifestContent>> get_cached_manifest(
      const core::RepositoryName& repo, const core::Reference& reference,
      const EventOriginFn& origin = {});
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
                                             const core::Reference& reference,
                                             const EventOriginFn& origin = {});

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
  // Brings a leased session's hash state up to the `stored` bytes of its upload, starting from
  // the state saved with its record when it can. Returns how many bytes it read back.
  [[nodiscard]] Result<std::uint64_t> catch_up(UploadSession& session, std::uint64_t stored);
  [[nodiscard]] Result<UploadLease> start_upload_lease(const core::RepositoryName& repo,
                                                       const std::optional<core::Digest>& claimed,
                                                       bool quota_bound);
  // `claimed`: the digest the upload is said to be, when known (see RegistryPolicy::byte_room).
  [[nodiscard]] Result<UploadBounds> bounds_for(const UploadSession& session,
                                                const std::optional<core::Digest>& claimed,
                                                bool quota_bound);
  // UNAVAILABLE (reason kStorageLow) when the blob store's free space less `incoming` is below
  // storage.min_free.
  [[nodiscard]] Result<void> check_free_space(std::uint64_t incoming);
  // Touches the record of a leased, recorded upload if upload_touch_interval has passed since
  // it was last written (BLOB_UPLOAD_UNKNOWN once it was purged).
  [[nodiscard]] Result<void> keep_active(UploadSession& session);
  void release(UploadSession& session);
  void forget_session(const core::UploadId& id);
  [[nodiscard]] Result<PutManifestResult> store_manifest(const core::RepositoryName& repo,
                                                         const core::Reference& reference,
                                                         std::string bytes,
                                                         std::string_view content_type,
                                                         const std::vector<core::Tag>& extra_tags,
                                                         bool partial, const EventOriginFn* origin);
  [[nodiscard]] Result<meta::ManifestRecord> resolve(const core::RepositoryName& repo,
                                                     const core::Reference& reference);
  // What get_manifest records of a pull: the pull statistics and, if anyone wants it, an event.
  void count_pull(const core::RepositoryName& repo, const core::Reference& reference,
                  const meta::ManifestRecord& record, const EventOriginFn& origin);
  [[nodiscard]] Result<std::shared_ptr<const std::string>> manifest_bytes(
      const meta::ManifestRecord& record);
  [[nodiscard]] Result<core::Digest> rehash_upload(const core::UploadId& id,
                                                   core::DigestAlgorithm algorithm,
                                                   std::uint64_t expected_size);
  // Publishes bytes, then commits the link that makes them reachable, by the tombstone
  // protocol; see registry.cpp. `link` returns false when it refused for reasons of its own
  // (nothing linked). `published` turns true when the publication succeeds. One attempt: a
  // link refused while the digest is collected is UNAVAILABLE, reason kBlobBeingCollected.
  [[nodiscard]] Result<bool> publish_then_link(const core::Digest& digest,
                                               const std::function<Result<void>()>& publish,
                                               const std::function<Result<bool>()>& link,
                                               bool& published);

  storage::BlobStore& blobs_;
  meta::MetadataStore& meta_;
  const core::Clock& clock_;
  RegistryOptions options_;
  RegistryPolicy* policy_;
  EventSink* events_ = nullptr;
  ManifestCache manifest_cache_;

  // Uploads that requests of this process hold now (and published ones, never leased again).
  // Between requests an upload lives in its record alone, hash state included, so that its
  // next request may come to any replica without reading back earlier chunks.
  std::mutex sessions_mutex_;
  std::unordered_map<std::string, std::shared_ptr<UploadSession>> sessions_;
};

}  // namespace berth::registry
