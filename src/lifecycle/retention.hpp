// Retention: a project's policy (retention_policy.hpp) turned into exactly what it deletes.
//
// preview() reads one snapshot of the project and plans:
//  - the tags the policy deletes (with the rules that called for it);
//  - the manifests those deletions leave unreachable: a manifest is reachable when a tag names
//    it, when it is a child of a reachable index, or when its subject is reachable (referrers
//    live with their subject), all within its repository. A manifest is deleted iff it was
//    reachable before and is not after, so an index's children go with it (and stay with it
//    while it stays), and manifests that were untagged already are left to garbage
//    collection's untagged delay;
//  - the blobs only those manifests reference within the project (config, layers and the
//    manifests' own bytes that no remaining manifest of any repository of the project names),
//    and their bytes: what the project's usage drops by once garbage collection has removed
//    the links (the manifests' own bytes at once, layers at its next run).
// apply() plans the same way and deletes exactly the planned tags and manifests, each only if
// it is still as planned (see PolicyStore::delete_retained): a push that moved a tag or
// referenced a manifest since wins, and the item is reported as skipped.
//
// Blocking; safe to call concurrently (the store serializes the deletions).
#pragma once

#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "lifecycle/retention_policy.hpp"
#include "meta/policy_store.hpp"

namespace berth::lifecycle {

struct PlannedTag {
  meta::TagRef ref;
  // The later of its last pull and its manifest's last pull (see retention_policy.hpp).
  std::optional<core::TimePoint> last_pulled;
  // The rules that called for deleting it: "keep_last", "max_age_days", "not_pulled_days".
  std::vector<std::string> reasons;
};

struct RetentionPlan {
  std::string project;
  core::TimePoint now;
  // Ordered by repository, then tag.
  std::vector<PlannedTag> tags{};
  // Ordered by repository, then digest.
  std::vector<meta::ManifestRef> manifests{};
  // Each digest once, in digest order.
  std::vector<meta::BlobRef> freed_blobs{};
  std::uint64_t freed_bytes = 0;
};

struct RetentionOutcome {
  RetentionPlan plan;
  // What was deleted: the plan, less what changed since it was made.
  meta::RetentionDeletions deleted{};
  std::size_t skipped_tags = 0;
  std::size_t skipped_manifests = 0;
  // Of the plan's freed blobs, the bytes no remaining manifest of the project references now.
  std::uint64_t freed_bytes = 0;
};

// What `policy` deletes from `snapshot` at `now`. Tags matching an `immutable` pattern are
// never deleted. Pure: the same inputs give the same plan.
[[nodiscard]] RetentionPlan plan_retention(const std::string& project,
                                           const RetentionPolicy& policy,
                                           const std::vector<TagPattern>& immutable,
                                           const meta::RetentionSnapshot& snapshot,
                                           core::TimePoint now);

// JSON for the admin API and the CLI:
//   {"project", "now" (unix ms), "tags": [{"repository", "tag", "digest", "pushed",
//    "last_pulled" (null if never), "reasons": [...]}], "manifests": [{"repository",
//    "digest"}], "freed_blobs": N, "freed_bytes": N}
// and for an outcome the same with "deleted_tags", "deleted_manifests", "skipped_tags",
// "skipped_manifests" and the outcome's "freed_bytes".
[[nodiscard]] std::string plan_json(const RetentionPlan& plan);
[[nodiscard]] std::string outcome_json(const RetentionOutcome& outcome);

class Retention {
 public:
  Retention(meta::PolicyStore& store, const core::Clock& clock) : store_(store), clock_(clock) {}

  // The project's stored policy, at the clock's now. kNotFound if it has none.
  [[nodiscard]] core::Result<RetentionPlan> preview(const std::string& project);
  // A policy not (yet) stored, e.g. to try one before saving it.
  [[nodiscard]] core::Result<RetentionPlan> preview(const std::string& project,
                                                    const RetentionPolicy& policy);
  // Plans with the stored policy (enabled or not: `enabled` only governs the schedule) and
  // deletes the plan. kNotFound if the project has no policy.
  [[nodiscard]] core::Result<RetentionOutcome> apply(const std::string& project);

  struct ScheduledRun {
    std::string project;
    core::Result<RetentionOutcome> outcome;
  };
  // Applies every enabled policy whose schedule is due, claiming each run in the store first
  // so that of several servers one runs it. A policy that fails (or no longer parses) is
  // reported in its ScheduledRun and the others still run. Once `stop` is requested no further
  // project is claimed or run (each project's deletions are one transaction, so there is
  // nothing half done to stop inside one); those left are due again at the next call.
  [[nodiscard]] core::Result<std::vector<ScheduledRun>> run_due(std::stop_token stop = {});

 private:
  [[nodiscard]] core::Result<RetentionPlan> plan(const std::string& project,
                                                 const RetentionPolicy& policy,
                                                 const std::vector<std::string>& immutable);
  [[nodiscard]] core::Result<RetentionOutcome> apply(const std::string& project,
                                                     const RetentionPolicy& policy,
                                                     const std::vector<std::string>& immutable);

  meta::PolicyStore& store_;
  const core::Clock& clock_;
};

}  // namespace berth::lifecycle
