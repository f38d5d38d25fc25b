// GcStore: what online garbage collection asks of the metadata, and the protocol that lets it
// run while pushes go on (no downtime, no read-only mode).
//
// Reachability: a manifest is live if a tag names it, if it is a child of a live manifest of
// the same repository, if its subject is a live manifest of the same repository (referrers
// live with their subject), or if it is younger than the untagged cutoff. A blob link
// (repository, digest) is live if a manifest of that repository names the digest (config,
// layer) or is that digest (a manifest's own bytes), or if it is younger than the grace
// cutoff (a push in progress has uploaded blobs but not yet put its manifest). A blob's bytes
// are live while any repository links the digest. Ages count from the latest push: linking
// a digest again (a re-upload, a mount, putting the same manifest again) makes its link, and
// the manifest whose own bytes it is, young again, so a push that reuses old content is not
// collected under its feet.
//
// Every deletion re-checks its condition inside the transaction that deletes, so a push that
// starts referencing a candidate at that moment wins. Bytes are deleted outside transactions,
// with the tombstone protocol:
//   1. tombstone_orphan_blob(d): in one transaction, if no repository links d (and no manifest
//      names it or is it), delete its row and record a tombstone for d;
//   2. delete the bytes (retried by a later run if it fails: the tombstone stays);
//   3. clear_tombstone(d).
// Linking a tombstoned digest (complete_upload, link_blob, put_manifest's own-bytes link)
// fails with kUnavailable and reason kBlobBeingCollected, so the pusher retries after the
// bytes are gone and publishes them again (it keeps its upload until its link commits).
//
// Blocking, safe to call concurrently, and from several processes (berth gc beside berth
// serve): the lease keeps to one collector at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/names.hpp"

namespace berth::meta {

using core::Result;

// The message of the kUnavailable error (reason kBlobBeingCollected) for linking a tombstoned
// digest.
inline constexpr std::string_view kBlobBeingCollected = "blob is being garbage-collected";

struct LinkCandidate {
  core::RepositoryName repository;
  core::Digest digest;
  std::uint64_t size = 0;
};

struct ManifestCandidate {
  core::RepositoryName repository;
  core::Digest digest;
  std::uint64_t size = 0;
};

struct OrphanBlob {
  core::Digest digest;
  std::uint64_t size = 0;
};

// What a collection with given cutoffs would delete from the metadata (a dry run).
struct GcPlan {
  std::vector<ManifestCandidate> manifests;
  // Including the own-bytes links that go with those manifests.
  std::vector<LinkCandidate> links;
  std::vector<OrphanBlob> blobs;
};

// One finished collection, for the history GET /api/v1/gc shows on every replica.
struct GcRun {
  core::TimePoint started;
  core::TimePoint finished;
  bool dry_run = false;
  // A user's name, "schedule" or "berth gc".
  std::string started_by;
  // lifecycle::report_json of its report.
  std::string report_json;
};

// Runs kept in the database: the newest ones.
inline constexpr std::size_t kGcRunsKept = 20;

// Who holds a lease, for messages that name them.
struct LeaseHolder {
  std::string holder;
  core::TimePoint expires;
};

class GcStore {
 public:
  virtual ~GcStore() = default;

  // Manifests not live with untagged_cutoff (see above), at most limit.
  [[nodiscard]] virtual Result<std::vector<ManifestCandidate>> unreachable_manifests(
      core::TimePoint untagged_cutoff, std::size_t limit) = 0;
  // Deletes the manifest (and its reference rows and own-bytes link) iff it is still not live.
  [[nodiscard]] virtual Result<bool> delete_unreachable_manifest(
      const core::RepositoryName& repo, const core::Digest& digest,
      core::TimePoint untagged_cutoff) = 0;

  // Blob links not live with grace_cutoff, at most limit.
  [[nodiscard]] virtual Result<std::vector<LinkCandidate>> unreferenced_links(
      core::TimePoint grace_cutoff, std::size_t limit) = 0;
  // Deletes the link iff it is still not live.
  [[nodiscard]] virtual Result<bool> delete_unreferenced_link(const core::RepositoryName& repo,
                                                              const core::Digest& digest,
                                                              core::TimePoint grace_cutoff) = 0;

  // Blob rows that no repository links, at most limit.
  [[nodiscard]] virtual Result<std::vector<OrphanBlob>> orphan_blobs(std::size_t limit) = 0;
  // Step 1 of the protocol: true if the blob was unlinked, its row deleted and tombstoned.
  // Also tombstones a digest with no row at all (a file nothing references). When it returns
  // true the tombstone, and every commit before it, survives a power loss: the bytes are
  // deleted because of them.
  [[nodiscard]] virtual Result<bool> tombstone_orphan_blob(const core::Digest& digest,
                                                           core::TimePoint now) = 0;
  // Step 1 for several digests in one transaction, each checked as tombstone_orphan_blob
  // does; returns those tombstoned, in the order given. One durable commit for all of them:
  // a collection of thousands of blobs syncs the database once per batch, not once per blob.
  // Callers keep batches small (tens), so that pushes never wait long behind the transaction.
  [[nodiscard]] virtual Result<std::vector<core::Digest>> tombstone_orphan_blobs(
      const std::vector<core::Digest>& digests, core::TimePoint now) = 0;
  // Tombstones left by runs that did not finish (and this one's).
  [[nodiscard]] virtual Result<std::vector<core::Digest>> tombstones() = 0;
  [[nodiscard]] virtual Result<void> clear_tombstone(const core::Digest& digest) = 0;
  // Whether the metadata knows the digest (a blob row or a tombstone): files of unknown
  // digests are swept.
  [[nodiscard]] virtual Result<bool> blob_known(const core::Digest& digest) = 0;

  // What the three deleting steps above would remove, run in this order (manifests, then
  // links, then blobs) on the metadata as it is now, without changing anything: one
  // consistent snapshot. untagged_cutoff nullopt: no manifest is removed.
  [[nodiscard]] virtual Result<GcPlan> plan(std::optional<core::TimePoint> untagged_cutoff,
                                            core::TimePoint grace_cutoff) = 0;

  // A lease on `name` ("gc") for holder until now + ttl; true if acquired or renewed by the
  // same holder, false if another holder's lease has not expired.
  [[nodiscard]] virtual Result<bool> acquire_lease(std::string_view name, std::string_view holder,
                                                   core::TimePoint now,
                                                   std::chrono::seconds ttl) = 0;
  [[nodiscard]] virtual Result<void> release_lease(std::string_view name,
                                                   std::string_view holder) = 0;

  // Records a finished collection, forgetting all but the newest kGcRunsKept.
  [[nodiscard]] virtual Result<void> record_run(const GcRun& run) = 0;
  // The recorded collections, newest first.
  [[nodiscard]] virtual Result<std::vector<GcRun>> recent_runs() = 0;
  // The lease's holder if it has one (expired or not).
  [[nodiscard]] virtual Result<std::optional<LeaseHolder>> lease_holder(std::string_view name) = 0;
};

}  // namespace berth::meta
