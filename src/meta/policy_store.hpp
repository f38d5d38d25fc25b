// PolicyStore: the per-project rules of the lifecycle layer and the figures they need.
//   - settings: retention policy (JSON, parsed by lifecycle/), immutable tag patterns, quotas;
//   - usage: bytes of each project's unique blobs and its number of repositories, kept exact
//     by the database itself (triggers on every link and unlink), so no code path can forget;
//   - pull statistics: last pull time and pull count per tag and per manifest, written in
//     batches by the registry's pull recorder, never once per pull;
//   - what retention reads: a project's tags with push time and last pull, and its manifests
//     with what they reference (the bytes only they hold are computed from that), and the
//     conditional deletion that applies a retention plan.
//
// A repository belongs to the project named by its first path component ("team/app/web" to
// "team"). Usage counts, per project, each blob digest once however many of its repositories
// link it, and the repositories that hold at least one blob (an upload in progress alone does
// not make a repository count).
//
// Blocking, safe to call concurrently. Each method is one transaction except
// delete_retained(), which takes one per repository (see there).
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

// Every member has a default, so a designated initializer may name only what it sets.
struct ProjectSettings {
  // JSON of the retention policy (lifecycle/retention_policy.hpp); empty: none.
  std::string retention_json{};
  // Glob patterns of tags that may not be overwritten ("v*", "release-*"). Stored as a set:
  // read back in byte order, without duplicates.
  std::vector<std::string> immutable_tags{};
  std::optional<std::uint64_t> quota_bytes{};
  std::optional<std::uint64_t> quota_repositories{};

  bool operator==(const ProjectSettings&) const = default;
};

struct ProjectUsage {
  std::uint64_t bytes = 0;
  std::uint64_t repositories = 0;

  bool operator==(const ProjectUsage&) const = default;
};

struct PullRecord {
  core::RepositoryName repository;
  core::Digest digest;
  // The tag it was pulled by, if any.
  std::optional<core::Tag> tag;
  std::uint64_t count = 0;
  core::TimePoint last;
};

struct TagInfo {
  core::RepositoryName repository;
  core::Tag tag;
  core::Digest digest;
  // When the tag was last pointed at its manifest.
  core::TimePoint pushed;
  // Pulls by this tag (not by the manifest's digest: see ManifestInfo).
  std::optional<core::TimePoint> last_pulled;
  std::uint64_t pull_count = 0;
};

struct ManifestInfo {
  core::RepositoryName repository;
  core::Digest digest;
  // Of the manifest's own bytes.
  std::uint64_t size = 0;
  core::TimePoint created;
  // The blobs it names (config, layers), with their stored sizes.
  std::vector<BlobRef> blobs;
  // Child manifests (of an index).
  std::vector<core::Digest> children;
  std::optional<core::Digest> subject;
  // Pulls by digest or by any tag.
  std::optional<core::TimePoint> last_pulled;
  std::uint64_t pull_count = 0;
};

// One consistent view of a project for retention.
struct RetentionSnapshot {
  // Ordered by repository, then tag.
  std::vector<TagInfo> tags;
  // Ordered by repository, then digest.
  std::vector<ManifestInfo> manifests;
};

struct TagRef {
  core::RepositoryName repository;
  core::Tag tag;
  // What the tag named and since when, as planned: a tag moved since is not deleted.
  core::Digest digest;
  core::TimePoint pushed;
};

struct ManifestRef {
  core::RepositoryName repository;
  core::Digest digest;
};

struct RetentionDeletions {
  std::vector<TagRef> tags;
  std::vector<ManifestRef> manifests;
};

class PolicyStore {
 public:
  virtual ~PolicyStore() = default;

  // Defaults (no policy, no patterns, no quotas) for a project without settings.
  [[nodiscard]] virtual Result<ProjectSettings> settings(const std::string& project) = 0;
  // Replaces the project's settings. kNotFound if the project does not exist.
  [[nodiscard]] virtual Result<void> set_settings(const std::string& project,
                                                  const ProjectSettings& settings) = 0;
  // Projects that have a retention policy, in byte order.
  [[nodiscard]] virtual Result<std::vector<std::string>> projects_with_retention() = 0;
  // The scheduler's claim on one run of a project's policy: true (and the run recorded as
  // started at `now`) iff the project has a policy whose last run started at or before
  // `due_before`, or never ran. Atomic, so of several servers asking, one gets it.
  [[nodiscard]] virtual Result<bool> claim_retention_run(const std::string& project,
                                                         core::TimePoint now,
                                                         core::TimePoint due_before) = 0;

  [[nodiscard]] virtual Result<ProjectUsage> usage(const std::string& project) = 0;
  // Whether `digest` is already counted in the project (a blob some repository of it links).
  [[nodiscard]] virtual Result<bool> counted(const std::string& project,
                                             const core::Digest& digest) = 0;
  // Whether the repository is counted in its project's usage (it holds at least one blob).
  [[nodiscard]] virtual Result<bool> repository_counted(const core::RepositoryName& repo) = 0;

  // Adds a batch of pulls in one transaction; pulls of manifests or tags gone since are
  // dropped (a tag's pull also when the tag names another manifest by now). A pull by tag
  // counts for the tag and its manifest.
  [[nodiscard]] virtual Result<void> record_pulls(const std::vector<PullRecord>& pulls) = 0;
  // Every tag of the project's repositories.
  [[nodiscard]] virtual Result<std::vector<TagInfo>> project_tags(const std::string& project) = 0;
  // The project's tags and manifests, read in one transaction.
  [[nodiscard]] virtual Result<RetentionSnapshot> retention_snapshot(
      const std::string& project) = 0;
  // The tags that name the manifest (deleting a manifest deletes them).
  [[nodiscard]] virtual Result<std::vector<core::Tag>> tags_of(const core::RepositoryName& repo,
                                                               const core::Digest& digest) = 0;
  // Applies a retention plan, re-checking each item inside the transaction that deletes it:
  //  - a tag is deleted iff it still names `digest` and has not moved since `pushed`;
  //  - a manifest is deleted (with its own-bytes link, as MetadataStore::delete_manifest)
  //    iff no tag names it and no manifest of its repository that remains lists it as a
  //    child, so a push that tagged or indexed it since the plan wins.
  // One transaction per repository; returns what was deleted. The order of `planned` does not
  // matter (an index is deleted before its children however they are listed).
  [[nodiscard]] virtual Result<RetentionDeletions> delete_retained(
      const RetentionDeletions& planned) = 0;
};

}  // namespace berth::meta
