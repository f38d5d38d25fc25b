// ProxyStore: what the pull-through caches (proxy/) must remember across restarts, beside the
// content they cache (which is stored as ordinary repositories by the MetadataStore).
//
//  - Cached tags: for each tag a proxy stored from its upstream, the digest it stored and when
//    the upstream last confirmed it. This is how a tag's TTL and staleness survive a restart,
//    and how an overlay project (a hosted project with an upstream behind it) tells a tag it
//    cached from one that was pushed: a local tag is the cache's only while it still names the
//    digest recorded here.
//  - Partial manifests: manifests cached before all of their blobs or children were, so they
//    are stored again as those arrive and the relations that garbage collection follows fill
//    in (registry::Registry::cache_manifest).
//  - Which repository of a project links a blob, so that a blob cached (or pushed) in one
//    repository is mounted into another of the project instead of fetched again.
//
// Thread-safe; blocking (call from the blocking pool).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/names.hpp"

namespace berth::meta {

using core::Result;

struct CachedTag {
  core::Digest digest;
  // When the upstream last said the tag names `digest`.
  core::TimePoint checked;
};

class ProxyStore {
 public:
  virtual ~ProxyStore() = default;

  [[nodiscard]] virtual Result<std::optional<CachedTag>> cached_tag(
      const core::RepositoryName& repo, const core::Tag& tag) = 0;
  // Records (or replaces) what the cache stored for the tag.
  [[nodiscard]] virtual Result<void> put_cached_tag(const core::RepositoryName& repo,
                                                    const core::Tag& tag,
                                                    const CachedTag& cached) = 0;
  // The tag is no longer the cache's (a push replaced it). No error if there was no record.
  [[nodiscard]] virtual Result<void> forget_cached_tag(const core::RepositoryName& repo,
                                                       const core::Tag& tag) = 0;

  // Records a manifest cached while some of its references were missing.
  [[nodiscard]] virtual Result<void> put_partial_manifest(const core::RepositoryName& repo,
                                                          const core::Digest& manifest,
                                                          core::TimePoint cached) = 0;
  // The repository's partial manifests cached at or after `since`, oldest first; forgets
  // older ones.
  [[nodiscard]] virtual Result<std::vector<core::Digest>> partial_manifests(
      const core::RepositoryName& repo, core::TimePoint since) = 0;
  // The manifest is complete now (or gone). No error if there was no record.
  [[nodiscard]] virtual Result<void> forget_partial_manifest(const core::RepositoryName& repo,
                                                             const core::Digest& manifest) = 0;

  // A repository of `project` that links the blob (the first by name), or nullopt.
  [[nodiscard]] virtual Result<std::optional<core::RepositoryName>> repository_linking(
      std::string_view project, const core::Digest& digest) = 0;
};

}  // namespace berth::meta
