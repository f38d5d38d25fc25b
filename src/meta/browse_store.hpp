// BrowseStore: what the web UI and scripts browse through /api/v1 (api/browse_*.cpp), read in
// a bounded number of queries whatever the size of a project or repository: every project's
// figures at once, a page of a project's repositories or of a repository's tags (filtered,
// sorted and counted by the database), one repository's or manifest's figures, a search, and
// the registry's totals. A manifest's total size and platforms are recorded at push time
// (meta::ManifestPut::platforms, schema migration 10), so no page reads blob storage.
//
// Names are compared byte-wise, in sorting too (no natural order: "build-10" sorts before
// "build-3"). A filter is a case-sensitive substring of the name; empty matches everything.
// Blocking, safe to call concurrently; each method is a read.
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

// Every project's figures, including projects without repositories.
struct ProjectFigures {
  std::string project;
  std::uint64_t repositories = 0;
  std::uint64_t bytes = 0;
  std::optional<std::uint64_t> quota_bytes;
  std::optional<std::uint64_t> quota_repositories;
  // The latest manifest put or tag move in it.
  std::optional<core::TimePoint> last_push;
};

struct RepositoryFigures {
  std::string name;
  std::uint64_t tags = 0;
  std::uint64_t manifests = 0;
  // Of the blobs it links (manifests' own bytes included), each once.
  std::uint64_t bytes = 0;
  std::optional<core::TimePoint> last_push;
  // Pulls of its manifests, by digest or tag.
  std::optional<core::TimePoint> last_pull;
  std::uint64_t pulls = 0;
};

enum class RepositorySort { kName, kLastPush, kLastPull, kSize, kTags };
enum class TagSort { kName, kPushed, kPulled, kSize, kPulls };

// One page of a listing. Ties (and absent times, which sort as the oldest) are ordered by name.
struct PageQuery {
  std::string filter{};
  bool descending = false;
  std::size_t limit = 50;
  std::size_t offset = 0;
};

struct RepositoryPage {
  // Matching the filter, in all pages.
  std::uint64_t total = 0;
  std::vector<RepositoryFigures> items;
};

struct TagRow {
  std::string tag;
  core::Digest digest;
  std::string media_type;
  // Empty when none.
  std::string artifact_type;
  // The manifest's total size: its bytes, the blobs it names and its children's totals.
  std::uint64_t size = 0;
  // Empty when unknown (manifests pushed before migration 10).
  std::vector<std::string> platforms;
  core::TimePoint pushed;
  // Pulls by this tag.
  std::optional<core::TimePoint> last_pulled;
  std::uint64_t pulls = 0;
};

struct TagPage {
  std::uint64_t total = 0;
  std::vector<TagRow> items;
};

struct ManifestFigures {
  std::uint64_t total_size = 0;
  std::vector<std::string> platforms;
};

struct TagHit {
  std::string repository;
  std::string tag;
  core::Digest digest;
};

struct RegistryTotals {
  std::uint64_t projects = 0;
  // Holding at least one manifest.
  std::uint64_t repositories = 0;
  std::uint64_t blobs = 0;
  std::uint64_t bytes = 0;
};

class BrowseStore {
 public:
  virtual ~BrowseStore() = default;

  // Every project, by name.
  [[nodiscard]] virtual Result<std::vector<ProjectFigures>> project_figures() = 0;
  // The project's repositories that hold at least one manifest.
  [[nodiscard]] virtual Result<RepositoryPage> repositories(const std::string& project,
                                                            RepositorySort sort,
                                                            const PageQuery& page) = 0;
  // nullopt unless the repository holds a manifest.
  [[nodiscard]] virtual Result<std::optional<RepositoryFigures>> repository(
      const core::RepositoryName& repo) = 0;
  // total 0 and no items for a repository that does not exist.
  [[nodiscard]] virtual Result<TagPage> tags(const core::RepositoryName& repo, TagSort sort,
                                             const PageQuery& page) = 0;
  [[nodiscard]] virtual Result<std::optional<ManifestFigures>> manifest_figures(
      const core::RepositoryName& repo, const core::Digest& digest) = 0;
  // Search: repositories (holding a manifest) and tags whose name contains `text`, in name
  // order, starting strictly after the given position; at most `limit`.
  [[nodiscard]] virtual Result<std::vector<std::string>> find_repositories(const std::string& text,
                                                                           const std::string& after,
                                                                           std::size_t limit) = 0;
  [[nodiscard]] virtual Result<std::vector<TagHit>> find_tags(const std::string& text,
                                                              const std::string& after_repository,
                                                              const std::string& after_tag,
                                                              std::size_t limit) = 0;
  [[nodiscard]] virtual Result<RegistryTotals> totals() = 0;
};

}  // namespace berth::meta
