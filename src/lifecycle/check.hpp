// Checker: `berth check`. Verifies that blob storage and the metadata agree, and repairs what
// can be rebuilt from what is stored.
//
// What it finds (FindingKind):
//  - corrupt blobs: files whose bytes do not hash to their digest, or cannot be read, or whose
//    size is not the one recorded;
//  - missing bytes: blob rows (pushed, linked, or a manifest's own bytes) whose file is gone;
//  - unknown blobs: a manifest names a blob that was never recorded;
//  - bad manifests: stored manifest bytes that do not parse;
//  - missing children: an index names a manifest its repository does not hold;
//  - relation mismatches: manifest_blobs / manifest_children rows, or a repository's links,
//    that disagree with what the stored manifest says (rebuildable);
//  - unreferenced files: blob files whose digest the metadata does not know, older than the
//    grace period (younger ones may be a push in flight: bytes are published before they are
//    linked);
//  - stale uploads: upload files without a session, or sessions without their file, older than
//    the grace period.
//
// It runs beside a serving registry. check() only reads: pages of metadata, each one snapshot,
// and files that may be published or collected meanwhile; so before anything is reported it is
// looked at again (a row that appeared, a file that went, a manifest deleted since), and only
// what is still wrong is a finding. repair() takes the "gc" lease (no collection runs meanwhile)
// and each fix re-checks its condition in the transaction that makes it. Fixes, by kind:
//  - relation mismatch: rows rebuilt from the stored manifest, missing links restored;
//  - corrupt blob: bytes dropped and the digest unlinked everywhere, so no client is served
//    them and a client pushing the image again uploads them again (HEAD answers 404); the
//    images that need it are reported, to be pushed again;
//  - missing bytes: unlinked everywhere for the same reason; the row goes if nothing needs it;
//  - unreferenced file: deleted under the tombstone protocol of meta/gc_store.hpp;
//  - stale upload: the orphan file or session is deleted.
// Unknown blobs, bad manifests and missing children cannot be rebuilt: they are reported with
// the images to push again.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/names.hpp"
#include "core/progress.hpp"
#include "core/upload_id.hpp"
#include "meta/check_store.hpp"
#include "meta/gc_store.hpp"
#include "meta/metadata_store.hpp"
#include "storage/blob_store.hpp"

namespace berth::lifecycle {

enum class FindingKind {
  kCorruptBlob,
  kMissingBytes,
  kUnknownBlob,
  kBadManifest,
  kMissingChild,
  kRelationMismatch,
  kUnreferencedFile,
  kStaleUpload,
};

// "corrupt-blob", "missing-bytes", ...: stable names for output and scripts.
[[nodiscard]] std::string_view kind_name(FindingKind kind);

struct Finding {
  explicit Finding(FindingKind kind) : kind(kind) {}

  FindingKind kind;
  // What it is about: the blob, or the manifest and its repository, or the upload.
  std::optional<core::Digest> digest;
  std::optional<core::RepositoryName> repository;
  std::optional<core::UploadId> upload;
  // One line saying what is wrong.
  std::string detail;
  // Images that cannot be pulled whole because of it: "repo:tag", or "repo@digest" for an
  // untagged manifest. Sorted.
  std::vector<std::string> affected;
  // Whether repair() can make the problem go away by itself.
  bool repairable = false;
  // Set by repair(): what it did (empty: nothing), and whether the problem is gone.
  std::string action;
  bool fixed = false;

  // Whether the images it affects still need pushing once repair() has done its part: repair
  // drops bad or missing bytes, which only a push brings back. A relation mismatch is rebuilt
  // from the stored manifest and leaves its images whole.
  bool needs_push_after_repair() const {
    return !affected.empty() && kind != FindingKind::kRelationMismatch;
  }
  // "repo@digest", the digest, or the upload id.
  std::string subject() const;
  // What the operator must do about what is left ("push again: team/app:v1, ..."), empty
  // when fixed.
  std::string remedy() const;
};

struct CheckOptions {
  // Hash every blob (the point of a check); false only compares sizes with the metadata.
  bool hash = true;
  // Threads hashing in parallel.
  std::size_t threads = 4;
  // Unreferenced files and stale uploads younger than this are left alone.
  std::chrono::milliseconds grace = std::chrono::hours(1);
  // Of the "gc" lease repair() holds: how long it outlives a repair that is killed.
  std::chrono::seconds lease_ttl{60};
  // Told of the blob files hashed so far (of all, with their bytes), one call at a time.
  core::ProgressCallback progress{};
};

struct CheckStats {
  std::uint64_t blob_files = 0;
  std::uint64_t blob_rows = 0;
  std::uint64_t manifests = 0;
  std::uint64_t uploads = 0;
  std::uint64_t bytes_hashed = 0;
  // Unreferenced files and upload leftovers left alone because they are younger than grace.
  std::uint64_t young_leftovers = 0;
  std::chrono::milliseconds elapsed{0};
};

struct CheckReport {
  std::vector<Finding> findings;
  CheckStats stats;

  // Findings that are not fixed.
  [[nodiscard]] std::size_t remaining() const;
};

struct CheckStores {
  meta::MetadataStore& metadata;
  meta::CheckStore& check;
  storage::BlobStore& blobs;
  // For repairs: the lease and the tombstone protocol.
  meta::GcStore& gc;
};

class Checker {
 public:
  Checker(CheckStores stores, const core::Clock& clock, CheckOptions options);

  // Looks; changes nothing. Errors are failures of the machine (database unreachable, a
  // directory unreadable), not problems found.
  [[nodiscard]] core::Result<CheckReport> check();

  // Fixes what it can of report's findings (see the top), under the "gc" lease held by
  // `holder`; on_wait is called if a collection holds the lease and repair waits for it.
  [[nodiscard]] core::Result<void> repair(CheckReport& report, const std::string& holder,
                                          const std::function<void()>& on_wait = {});

 private:
  CheckStores stores_;
  const core::Clock& clock_;
  CheckOptions options_;
};

}  // namespace berth::lifecycle
