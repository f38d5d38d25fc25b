// GarbageCollector: online garbage collection. Removes what nothing references (untagged
// manifests if asked, blob links no manifest names, blobs no repository links, files the
// metadata does not know) while the registry serves pushes and pulls: no downtime, no
// read-only mode. The rules of what is live and the protocol that makes deleting bytes safe
// against a concurrent push are meta/gc_store.hpp's; this class runs them in order:
//
//   1. finish tombstones an earlier run left (killed, or a file deletion that failed);
//   2. untagged manifests older than untagged_after (only when set);
//   3. blob links no manifest of their repository names, older than blob_grace;
//   4. blobs no repository links: tombstone (durable), delete the bytes, clear the tombstone;
//   5. sweep files of digests the metadata does not know, older than blob_grace (only with
//      GcOptions::sweep_storage: the one step that lists the storage).
//
// Each deletion is its own short transaction that re-checks the candidate, so pushes never
// wait behind a collection; orphan blobs are tombstoned a few dozen per transaction, each
// re-checked, because that commit must be durable (an fsync) and one per blob made large
// collections slow. Files are deleted outside transactions. A failed file deletion is
// reported and leaves its tombstone, which the next run finishes.
//
// Cancellable: a run whose GcOptions::stop is requested (a server shutting down) stops at the
// next safe point, between two deletions or two chunks of orphan blobs, each of which it
// finishes. What it stopped before is simply not done yet; a tombstone is left only where a
// file deletion failed, as in any run, and the next run (or a server's start) finishes it. The
// lease is released as after any run.
//
// One collector at a time, across processes (berth gc beside berth serve): run() takes the
// "gc" lease (lifecycle/maintenance_lease.hpp), renewed in the background while it runs, and
// stops before deleting anything more if the lease is ever lost. A dry run takes no lease and
// changes nothing: it reports exactly what a run would remove now (GcStore::plan).
//
// Blocking; call it from a thread that may block. Safe to call concurrently (the lease
// serializes runs).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/progress.hpp"
#include "meta/gc_store.hpp"
#include "storage/blob_store.hpp"

namespace berth::lifecycle {

struct GcOptions {
  // Unreferenced blob links and unknown files younger than this are kept: a push in progress
  // has uploaded its blobs but not yet put the manifest that names them. It bounds how long a
  // client may take between its first blob and its manifest.
  std::chrono::milliseconds blob_grace = std::chrono::hours(24);
  // Untagged manifests pushed longer ago than this are removed (with the referrers and index
  // children that only they kept). nullopt, the default, keeps them: an untagged manifest is
  // not necessarily garbage. Deployments pull by digest (Kubernetes specs, lock files, the
  // `@sha256:` pins of CI), multi-platform pushes put the children before the index, and
  // referrers may arrive before their subject; deleting what no tag names would break those
  // silently, so it is for an operator to turn on who knows nobody pulls that way.
  std::optional<std::chrono::milliseconds> untagged_after;
  // Step 5, the sweep of files the metadata does not know. It lists every blob in storage, so
  // its time grows with the bucket; steps 1-4 work from the metadata alone. Such files come
  // only from a process killed between writing a blob and recording it, so the schedule sweeps
  // far less often than it collects (gc.sweep_interval).
  bool sweep_storage = true;
  // Report what would be removed, remove nothing.
  bool dry_run = false;
  // Candidates listed at a time; each is still deleted in its own transaction.
  std::size_t batch_size = 500;
  // How long the lease lasts unrenewed: a crashed collector blocks the next one this long.
  std::chrono::seconds lease_ttl{60};
  // Once requested, the run stops at its next safe point (see the top of this file).
  std::stop_token stop{};
  // Who asked, as the run's record says (a user, "schedule", "berth gc"): every collection
  // that ends with a report is recorded in the database (meta::GcStore::record_run).
  std::string started_by = "unknown";
  // Told of the items removed so far and their bytes (totals unknown: a run learns what it
  // removes as it goes), after each.
  core::ProgressCallback progress{};
};

enum class GcItemKind {
  kManifest,   // an untagged manifest (its metadata; its bytes are a blob)
  kLink,       // a repository's link to a blob
  kBlob,       // a blob's bytes and row
  kFile,       // a file whose digest the metadata did not know
  kTombstone,  // bytes an earlier run had begun to delete
};

[[nodiscard]] std::string_view item_kind_name(GcItemKind kind);

struct GcItem {
  GcItemKind kind;
  // For manifests and links; empty otherwise.
  std::string repository;
  core::Digest digest;
  // Bytes: of the manifest, of the linked blob, of the blob or file removed.
  std::uint64_t size = 0;
};

struct GcReport {
  bool dry_run = false;
  std::size_t manifests_removed = 0;
  std::size_t links_removed = 0;
  std::size_t blobs_removed = 0;
  std::size_t files_swept = 0;
  std::size_t tombstones_finished = 0;
  // Bytes of blob storage freed: blobs, swept files and finished tombstones.
  std::uint64_t bytes_reclaimed = 0;
  // Everything removed (or that would be, in a dry run), in the order of the steps.
  std::vector<GcItem> removed;
  // What went wrong; a run stops at a metadata failure, and goes on past a file it could not
  // delete (its tombstone stays for the next run).
  std::vector<std::string> errors;
  // The run stopped early because GcOptions::stop was requested (also said in errors).
  bool cancelled = false;
  std::chrono::milliseconds duration{0};
};

class GarbageCollector {
 public:
  // All three must outlive the collector.
  GarbageCollector(meta::GcStore& store, storage::BlobStore& blobs, const core::Clock& clock);

  // One collection, recorded in the store's history (with at most kRecordedItems of its
  // removed items). kConflict if another collector holds the lease (a dry run never does).
  [[nodiscard]] core::Result<GcReport> run(const GcOptions& options);
  static constexpr std::size_t kRecordedItems = 100;

  // Only step 1, for a server starting up: what a killed collector left half done. kConflict
  // if another collector holds the lease (it finishes them itself). Stops between tombstones
  // once `stop` is requested.
  [[nodiscard]] core::Result<GcReport> finish_tombstones(std::stop_token stop = {});

 private:
  class Run;
  [[nodiscard]] core::Result<GcReport> run_once(const GcOptions& options);
  // Records a finished run; a failure to do so is added to its errors.
  void record(const GcOptions& options, core::TimePoint started, GcReport& report);

  meta::GcStore& store_;
  storage::BlobStore& blobs_;
  const core::Clock& clock_;
};

// The report as JSON (the admin API's answer and `berth gc --json`):
//   {"dry_run":false,"manifests_removed":0,"links_removed":2,"blobs_removed":2,
//    "files_swept":0,"tombstones_finished":0,"bytes_reclaimed":1234,"duration_ms":5,
//    "errors":[],"removed":[{"kind":"link","repository":"a/b","digest":"sha256:...",
//    "size":1000},...]}
[[nodiscard]] std::string report_json(const GcReport& report);

// One line for logs and the CLI: "removed 0 manifests, 2 links, 2 blobs, swept 0 files,
// finished 0 tombstones, reclaimed 1234 bytes in 5 ms".
[[nodiscard]] std::string report_summary(const GcReport& report);

}  // namespace berth::lifecycle
