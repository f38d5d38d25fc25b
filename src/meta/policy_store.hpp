// PolicyStore: the per-project rules of the lifecycle layer and the figures they need.
//   - settings: retention policy (JSON, parsed by lifecycle/), immutable tag patterns, quotas;
//   - usage: bytes of each project's unique blobs and its number of repositories, kept exact
//     by the database itself (triggers on every link and unlink), so no code path can forget;
//   - pull statistics: last pull time and pull count per tag and per manifest, written in
//     batches by the registry's pull recorder, never once per pull;
//   - what retention reads: a project's tags with push time, last pull and the bytes only
//     they hold.
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

namespace berth::meta {

using core::Result;

struct ProjectSettings {
  // JSON of the retention policy (lifecycle/retention.hpp); empty: none.
  std::string retention_json;
  // Glob patterns of tags that may not be overwritten ("v*", "release-*").
  std::vector<std::string> immutable_tags;
  std::optional<std::uint64_t> quota_bytes;
  std::optional<std::uint64_t> quota_repositories;
};

struct ProjectUsage {
  std::uint64_t bytes = 0;
  std::uint64_t repositories = 0;
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
  std::optional<core::TimePoint> last_pulled;
  std::uint64_t pull_count = 0;
};

class PolicyStore {
 public:
  virtual ~PolicyStore() = default;

  // Defaults (no policy, no patterns, no quotas) for a project without settings.
  [[nodiscard]] virtual Result<ProjectSettings> settings(const std::string& project) = 0;
  // kNotFound if the project does not exist.
  [[nodiscard]] virtual Result<void> set_settings(const std::string& project,
                                                  const ProjectSettings& settings) = 0;
  // Projects that have a retention policy.
  [[nodiscard]] virtual Result<std::vector<std::string>> projects_with_retention() = 0;

  [[nodiscard]] virtual Result<ProjectUsage> usage(const std::string& project) = 0;
  // Whether `digest` is already counted in the project (a blob some repository of it links).
  [[nodiscard]] virtual Result<bool> counted(const std::string& project,
                                             const core::Digest& digest) = 0;

  // Adds a batch of pulls in one transaction; pulls of manifests or tags gone since are
  // dropped.
  [[nodiscard]] virtual Result<void> record_pulls(const std::vector<PullRecord>& pulls) = 0;
  // Every tag of the project's repositories.
  [[nodiscard]] virtual Result<std::vector<TagInfo>> project_tags(const std::string& project) = 0;
};

}  // namespace berth::meta
