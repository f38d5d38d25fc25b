// GarbageCollector (garbage_collector.hpp): the steps of a collection, the lease around them,
// the dry run, and the report.
#include "lifecycle/garbage_collector.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <functional>
#include <map>
#include <utility>

#include "core/upload_id.hpp"
#include "lifecycle/gc_report_fields.hpp"
#include "lifecycle/maintenance_lease.hpp"
#include "util/utc_time.hpp"

namespace berth::lifecycle {
namespace {

using core::ErrorCode;

// A holder name unique to one run: runs of one process (the schedule, the admin API) must not
// mistake each other's lease for their own.
std::string run_holder() {
  return lease_holder_name("gc") + "/" + core::UploadId::generate().str().substr(0, 8);
}

// Names the holder (lease_holder_name says what it is, where, and since when): a backup or a
// check's repair hold the lease as well as another collection.
std::unexpected<core::Error> already_running(meta::GcStore& store) {
  auto held = store.lease_holder(kGcLeaseName);
  std::string who = "another process or request";
  std::string until;
  if (held && *held) {
    who = (*held)->holder;
    until = "; if it died, the lease lapses at " + util::format_utc((*held)->expires);
  }
  return core::fail(ErrorCode::kConflict,
                    "garbage collection cannot start: the \"gc\" lease is held by " + who +
                        "; try again when it has finished" + until);
}

}  // namespace

std::string_view item_kind_name(GcItemKind kind) {
  switch (kind) {
    case GcItemKind::kManifest:
      return "manifest";
    case GcItemKind::kLink:
      return "link";
    case GcItemKind::kBlob:
      return "blob";
    case GcItemKind::kFile:
      return "file";
    case GcItemKind::kTombstone:
      return "tombstone";
  }
  return "unknown";
}

// One collection: the options, the cutoffs fixed at its start, the report it fills.
class GarbageCollector::Run {
 public:
  Run(GarbageCollector& gc, const GcOptions& options, const MaintenanceLease* lease)
      : store_(gc.store_),
        blobs_(gc.blobs_),
        clock_(gc.clock_),
        options_(options),
        lease_(lease),
        now_(gc.clock_.now()),
        grace_cutoff_(now_ - options.blob_grace),
        started_(std::chrono::steady_clock::now()) {
    if (options.untagged_after) {
      untagged_cutoff_ = now_ - *options.untagged_after;
    }
    report_.dry_run = options.dry_run;
  }

  GcReport collect() {
    // Each step stops the run on a metadata failure: what follows depends on it.
    (void)(finish_tombstones() && remove_manifests() && remove_links() && remove_blobs() &&
           (!options_.sweep_storage || sweep_files()));
    return finish();
  }

  GcReport tombstones_only() {
    (void)finish_tombstones();
    return finish();
  }

  GcReport plan() {
    (void)(list_tombstones() && list_plan() && (!options_.sweep_storage || list_unknown_files()));
    return finish();
  }

 private:
  GcReport finish() {
    report_.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started_);
    return std::move(report_);
  }

  // Records a failure; false, so that `return failed(...)` stops the step.
  bool failed(std::string what, const core::Error& error) {
    report_.errors.push_back(std::move(what) + ": " + error.message);
    return false;
  }

  // Whether the run may go on to its next deletion: not once it was asked to stop, nor once the
  // lease may belong to someone else. Called only between deletions, each of which is whole.
  bool may_go_on() {
    if (options_.stop.stop_requested()) {
      if (!report_.cancelled) {
        report_.errors.push_back(
            "stopped early: the server is shutting down; the next collection goes on from here");
        report_.cancelled = true;
      }
      return false;
    }
    if (lease_ != nullptr && lease_->lost()) {
      if (!lease_lost_reported_) {
        report_.errors.push_back(
            "the \"gc\" lease was lost (the database was unreachable for longer than its ttl, or "
            "another collector took it); stopped");
        lease_lost_reported_ = true;
      }
      return false;
    }
    return true;
  }

  void removed(GcItemKind kind, std::string repository, const core::Digest& digest,
               std::uint64_t size) {
    report_.removed.push_back(GcItem{kind, std::move(repository), digest, size});
    if (options_.progress) {
      progress_.items += 1;
      progress_.bytes += size;
      options_.progress(progress_);
    }
  }

  // Steps 2 to 4 of the tombstone protocol for digests already tombstoned: delete their bytes
  // in as few requests as the driver can (S3: DeleteObjects, up to 1,000 keys each), then clear
  // their tombstones. Returns the digests that are gone. If deleting the bytes fails, none is:
  // every tombstone stays for the next run (which deletes again; deleting is idempotent).
  // Metadata failures go to `error`, with what was finished before them returned.
  std::vector<core::Digest> delete_bytes(const std::vector<core::Digest>& digests,
                                         std::optional<core::Error>& error) {
    if (auto deleted = blobs_.remove_many(digests); !deleted) {
      report_.errors.push_back("deleting the bytes of " +
                               (digests.size() == 1 ? digests.front().str()
                                                    : std::to_string(digests.size()) + " blobs") +
                               " (left for the next run): " + deleted.error().message);
      return {};
    }
    std::vector<core::Digest> gone;
    for (const auto& digest : digests) {
      if (auto cleared = store_.clear_tombstone(digest); !cleared) {
        error = cleared.error();
        return gone;
      }
      gone.push_back(digest);
    }
    return gone;
  }

  // ---- step 1

  bool finish_tombstones() {
    auto digests = store_.tombstones();
    if (!digests) {
      return failed("listing tombstones", digests.error());
    }
    for (std::size_t begin = 0; begin < digests->size(); begin += kDeleteChunk) {
      if (!may_go_on()) {
        return false;
      }
      const std::size_t end = std::min(digests->size(), begin + kDeleteChunk);
      const std::vector<core::Digest> chunk(digests->begin() + static_cast<std::ptrdiff_t>(begin),
                                            digests->begin() + static_cast<std::ptrdiff_t>(end));
      std::map<core::Digest, std::uint64_t> sizes;
      for (const auto& digest : chunk) {
        auto size = blobs_.stat(digest);
        sizes[digest] = size && *size ? **size : 0;
      }
      std::optional<core::Error> error;
      for (const auto& digest : delete_bytes(chunk, error)) {
        ++report_.tombstones_finished;
        report_.bytes_reclaimed += sizes[digest];
        removed(GcItemKind::kTombstone, "", digest, sizes[digest]);
      }
      if (error) {
        return failed("clearing a tombstone", *error);
      }
    }
    return true;
  }

  // ---- steps 2 and 3: list a batch, delete each candidate that is still one, until a batch
  // comes back short or deletes nothing (everything left was revived meanwhile).

  template <class Candidate>
  bool in_batches(std::string_view what,
                  const std::function<core::Result<std::vector<Candidate>>()>& list,
                  const std::function<core::Result<bool>(const Candidate&)>& remove,
                  const std::function<void(const Candidate&)>& count) {
    while (true) {
      auto batch = list();
      if (!batch) {
        return failed("listing " + std::string(what), batch.error());
      }
      std::size_t progress = 0;
      for (const auto& candidate : *batch) {
        if (!may_go_on()) {
          return false;
        }
        auto deleted = remove(candidate);
        if (!deleted) {
          return failed("deleting " + std::string(what) + " " + candidate.repository.str() + "@" +
                            candidate.digest.str(),
                        deleted.error());
        }
        if (*deleted) {
          ++progress;
          count(candidate);
        }
      }
      if (batch->size() < options_.batch_size || progress == 0) {
        return true;
      }
    }
  }

  bool remove_manifests() {
    if (!untagged_cutoff_) {
      return true;
    }
    const auto cutoff = *untagged_cutoff_;
    return in_batches<meta::ManifestCandidate>(
        "untagged manifest",
        [&] { return store_.unreachable_manifests(cutoff, options_.batch_size); },
        [&](const meta::ManifestCandidate& candidate) {
          return store_.delete_unreachable_manifest(candidate.repository, candidate.digest, cutoff);
        },
        [&](const meta::ManifestCandidate& candidate) {
          ++report_.manifests_removed;
          removed(GcItemKind::kManifest, candidate.repository.str(), candidate.digest,
                  candidate.size);
        });
  }

  bool remove_links() {
    return in_batches<meta::LinkCandidate>(
        "blob link", [&] { return store_.unreferenced_links(grace_cutoff_, options_.batch_size); },
        [&](const meta::LinkCandidate& candidate) {
          return store_.delete_unreferenced_link(candidate.repository, candidate.digest,
                                                 grace_cutoff_);
        },
        [&](const meta::LinkCandidate& candidate) {
          ++report_.links_removed;
          removed(GcItemKind::kLink, candidate.repository.str(), candidate.digest, candidate.size);
        });
  }

  // ---- step 4

  // Orphans are tombstoned kTombstoneChunk at a time: one durable commit (one fsync) per
  // chunk instead of per blob, which is most of a large collection's time, while each
  // transaction stays short enough that pushes do not notice it. The bytes of a listed batch
  // are then deleted together (kDeleteChunk at most per request), so a collection on S3 makes
  // one DeleteObjects request where it made hundreds of DELETEs.
  static constexpr std::size_t kTombstoneChunk = 64;
  static constexpr std::size_t kDeleteChunk = 1000;

  bool remove_blobs() {
    while (true) {
      auto batch = store_.orphan_blobs(options_.batch_size);
      if (!batch) {
        return failed("listing orphan blobs", batch.error());
      }
      std::map<core::Digest, std::uint64_t> sizes;
      for (const auto& blob : *batch) {
        sizes[blob.digest] = blob.size;
      }
      std::vector<core::Digest> doomed;
      bool stopped = false;
      std::optional<core::Error> error;
      for (std::size_t begin = 0; begin < batch->size() && !error; begin += kTombstoneChunk) {
        if (!may_go_on()) {
          stopped = true;
          break;
        }
        const std::size_t end = std::min(batch->size(), begin + kTombstoneChunk);
        std::vector<core::Digest> digests;
        for (std::size_t i = begin; i < end; ++i) {
          digests.push_back((*batch)[i].digest);
        }
        auto tombstoned = store_.tombstone_orphan_blobs(digests, clock_.now());
        if (!tombstoned) {
          error = tombstoned.error();
          break;
        }
        // Those left out were linked again since they were listed: the push won.
        doomed.insert(doomed.end(), tombstoned->begin(), tombstoned->end());
      }
      // What was tombstoned goes now, even when the run stops here: no tombstone is left
      // behind without need.
      std::optional<core::Error> clearing;
      for (std::size_t begin = 0; begin < doomed.size(); begin += kDeleteChunk) {
        const std::size_t end = std::min(doomed.size(), begin + kDeleteChunk);
        const std::vector<core::Digest> chunk(doomed.begin() + static_cast<std::ptrdiff_t>(begin),
                                              doomed.begin() + static_cast<std::ptrdiff_t>(end));
        for (const auto& digest : delete_bytes(chunk, clearing)) {
          ++report_.blobs_removed;
          report_.bytes_reclaimed += sizes[digest];
          removed(GcItemKind::kBlob, "", digest, sizes[digest]);
        }
        if (clearing) {
          return failed("clearing a tombstone", *clearing);
        }
      }
      if (error) {
        return failed("tombstoning orphan blobs", *error);
      }
      if (stopped) {
        return false;
      }
      // A blob whose bytes failed to delete still counts as progress: its row went with the
      // tombstone, so the next listing will not show it again.
      if (batch->size() < options_.batch_size || doomed.empty()) {
        return true;
      }
    }
  }

  enum class Outcome { kKept, kDeleted, kLeftForNextRun };

  // The whole tombstone protocol for one digest. nullopt after a metadata failure (recorded).
  std::optional<Outcome> collect_digest(const core::Digest& digest) {
    auto tombstoned = store_.tombstone_orphan_blob(digest, clock_.now());
    if (!tombstoned) {
      failed("tombstoning " + digest.str(), tombstoned.error());
      return std::nullopt;
    }
    if (!*tombstoned) {
      return Outcome::kKept;  // linked again since it was listed: the push won
    }
    std::optional<core::Error> error;
    const bool gone = !delete_bytes({digest}, error).empty();
    if (error) {
      failed("clearing the tombstone of " + digest.str(), *error);
      return std::nullopt;
    }
    return gone ? Outcome::kDeleted : Outcome::kLeftForNextRun;
  }

  // ---- step 5

  // Files older than the grace, in storage order.
  core::Result<std::vector<storage::BlobEntry>> old_files() {
    std::vector<storage::BlobEntry> files;
    auto walked = blobs_.for_each_blob_entry([&](const storage::BlobEntry& entry) {
      if (entry.modified < grace_cutoff_) {
        files.push_back(entry);
      }
    });
    if (!walked) {
      return std::unexpected(walked.error());
    }
    return files;
  }

  bool sweep_files() {
    auto files = old_files();
    if (!files) {
      return failed("listing blob files", files.error());
    }
    for (const auto& file : *files) {
      if (!may_go_on()) {
        return false;
      }
      auto known = store_.blob_known(file.digest);
      if (!known) {
        return failed("looking up " + file.digest.str(), known.error());
      }
      if (*known) {
        continue;
      }
      auto outcome = collect_digest(file.digest);
      if (!outcome) {
        return false;
      }
      if (*outcome == Outcome::kDeleted) {
        ++report_.files_swept;
        report_.bytes_reclaimed += file.size;
        removed(GcItemKind::kFile, "", file.digest, file.size);
      }
    }
    return true;
  }

  // ---- the dry run: the same steps, read only

  bool list_tombstones() {
    auto digests = store_.tombstones();
    if (!digests) {
      return failed("listing tombstones", digests.error());
    }
    for (const auto& digest : *digests) {
      auto size = blobs_.stat(digest);
      const std::uint64_t bytes = size && *size ? **size : 0;
      ++report_.tombstones_finished;
      report_.bytes_reclaimed += bytes;
      removed(GcItemKind::kTombstone, "", digest, bytes);
    }
    return true;
  }

  bool list_plan() {
    auto plan = store_.plan(untagged_cutoff_, grace_cutoff_);
    if (!plan) {
      return failed("planning", plan.error());
    }
    for (const auto& manifest : plan->manifests) {
      ++report_.manifests_removed;
      removed(GcItemKind::kManifest, manifest.repository.str(), manifest.digest, manifest.size);
    }
    for (const auto& link : plan->links) {
      ++report_.links_removed;
      removed(GcItemKind::kLink, link.repository.str(), link.digest, link.size);
    }
    for (const auto& blob : plan->blobs) {
      ++report_.blobs_removed;
      report_.bytes_reclaimed += blob.size;
      removed(GcItemKind::kBlob, "", blob.digest, blob.size);
    }
    return true;
  }

  bool list_unknown_files() {
    auto files = old_files();
    if (!files) {
      return failed("listing blob files", files.error());
    }
    for (const auto& file : *files) {
      auto known = store_.blob_known(file.digest);
      if (!known) {
        return failed("looking up " + file.digest.str(), known.error());
      }
      if (!*known) {
        ++report_.files_swept;
        report_.bytes_reclaimed += file.size;
        removed(GcItemKind::kFile, "", file.digest, file.size);
      }
    }
    return true;
  }

  meta::GcStore& store_;
  storage::BlobStore& blobs_;
  const core::Clock& clock_;
  const GcOptions& options_;
  const MaintenanceLease* lease_;
  const core::TimePoint now_;
  const core::TimePoint grace_cutoff_;
  std::optional<core::TimePoint> untagged_cutoff_;
  const std::chrono::steady_clock::time_point started_;
  bool lease_lost_reported_ = false;
  GcReport report_;
  // What options_.progress was last told.
  core::Progress progress_;
};

GarbageCollector::GarbageCollector(meta::GcStore& store, storage::BlobStore& blobs,
                                   const core::Clock& clock)
    : store_(store), blobs_(blobs), clock_(clock) {}

core::Result<GcReport> GarbageCollector::run(const GcOptions& options) {
  const auto started = clock_.now();
  auto report = run_once(options);
  if (report) {
    record(options, started, *report);
  }
  return report;
}

void GarbageCollector::record(const GcOptions& options, core::TimePoint started, GcReport& report) {
  // The counts stay whole; the list of items is cut, or twenty runs of a large collection
  // would be megabytes in every read of the history.
  GcReport kept = report;
  if (kept.removed.size() > kRecordedItems) {
    kept.removed.erase(kept.removed.begin() + kRecordedItems, kept.removed.end());
  }
  meta::GcRun run{.started = started,
                  .finished = clock_.now(),
                  .dry_run = report.dry_run,
                  .started_by = options.started_by,
                  .report_json = report_json(kept)};
  if (auto recorded = store_.record_run(run); !recorded) {
    report.errors.push_back("recording the run: " + recorded.error().message);
  }
}

core::Result<GcReport> GarbageCollector::run_once(const GcOptions& options) {
  if (options.dry_run) {
    return Run(*this, options, nullptr).plan();
  }
  // One try, not MaintenanceLease::acquire's wait: a second collector has nothing to add to
  // the running one. Once ours, MaintenanceLease renews it in the background.
  const std::string holder = run_holder();
  auto acquired = store_.acquire_lease(kGcLeaseName, holder, clock_.now(), options.lease_ttl);
  if (!acquired) {
    return std::unexpected(acquired.error());
  }
  if (!*acquired) {
    return already_running(store_);
  }
  MaintenanceLease lease(store_, clock_, holder, options.lease_ttl);
  if (auto held = lease.acquire(); !held) {
    return std::unexpected(held.error());
  }
  auto report = Run(*this, options, &lease).collect();
  if (auto released = lease.release(); !released) {
    report.errors.push_back("releasing the \"gc\" lease: " + released.error().message);
  }
  return report;
}

core::Result<GcReport> GarbageCollector::finish_tombstones(std::stop_token stop) {
  GcOptions options;
  options.stop = std::move(stop);
  const std::string holder = run_holder();
  auto acquired = store_.acquire_lease(kGcLeaseName, holder, clock_.now(), options.lease_ttl);
  if (!acquired) {
    return std::unexpected(acquired.error());
  }
  if (!*acquired) {
    return already_running(store_);
  }
  MaintenanceLease lease(store_, clock_, holder, options.lease_ttl);
  if (auto held = lease.acquire(); !held) {
    return std::unexpected(held.error());
  }
  auto report = Run(*this, options, &lease).tombstones_only();
  if (auto released = lease.release(); !released) {
    report.errors.push_back("releasing the \"gc\" lease: " + released.error().message);
  }
  return report;
}

std::string report_json(const GcReport& report) {
  boost::json::array removed;
  for (const auto& item : report.removed) {
    boost::json::object entry{
        {"kind", item_kind_name(item.kind)}, {"digest", item.digest.str()}, {"size", item.size}};
    if (!item.repository.empty()) {
      entry["repository"] = item.repository;
    }
    removed.push_back(std::move(entry));
  }
  boost::json::array errors;
  for (const auto& error : report.errors) {
    errors.push_back(boost::json::string(error));
  }
  boost::json::object out = report_figures(report);
  out["errors"] = std::move(errors);
  out["removed"] = std::move(removed);
  return boost::json::serialize(out);
}

boost::json::object report_figures(const GcReport& report) {
  return {{"dry_run", report.dry_run},
          {"manifests_removed", report.manifests_removed},
          {"links_removed", report.links_removed},
          {"blobs_removed", report.blobs_removed},
          {"files_swept", report.files_swept},
          {"tombstones_finished", report.tombstones_finished},
          {"bytes_reclaimed", report.bytes_reclaimed},
          {"duration_ms", report.duration.count()}};
}

std::string report_summary(const GcReport& report) {
  auto line =
      std::string(report.dry_run ? "would remove " : "removed ") +
      std::to_string(report.manifests_removed) + " manifests, " +
      std::to_string(report.links_removed) + " links, " + std::to_string(report.blobs_removed) +
      " blobs, " + (report.dry_run ? "sweep " : "swept ") + std::to_string(report.files_swept) +
      " files, " + (report.dry_run ? "finish " : "finished ") +
      std::to_string(report.tombstones_finished) + " tombstones, " +
      (report.dry_run ? "reclaiming " : "reclaimed ") + std::to_string(report.bytes_reclaimed) +
      " bytes in " + std::to_string(report.duration.count()) + " ms";
  if (!report.errors.empty()) {
    line += "; " + std::to_string(report.errors.size()) + " errors";
  }
  return line;
}

}  // namespace berth::lifecycle
