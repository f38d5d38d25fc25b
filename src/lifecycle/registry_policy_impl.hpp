// The RegistryPolicy the server gives the registry: per-project quotas and immutable tags,
// read from the PolicyStore on each check (settings changed through the API or the CLI apply
// to the next push, in every process), and pull statistics gathered in memory.
//
// Quotas. Usage comes from the store, which keeps it exact; a check compares usage plus what
// the push would add with the quota, and refuses with a message saying by how much. Two
// pushes checked at the same moment may both pass this check (it and the link are separate
// transactions; holding a project-wide lock across an upload would serialize every push into
// it); the store then refuses the link that would go past the quota, in its own transaction
// (SQLite: the triggers of migration 6), so the quota holds, with a shorter message.
//
// Pull statistics. record_pull() runs on every manifest GET, so it only adds to a map under a
// mutex; flush() (called by the server every stats.flush_interval and at shutdown) writes
// everything gathered since the last flush in one transaction. A failed flush keeps the
// counts for the next one. A crash loses at most one interval of statistics, never a pull's
// success.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/human_bytes.hpp"
#include "lifecycle/tag_pattern.hpp"
#include "meta/metadata_store.hpp"
#include "meta/policy_store.hpp"
#include "registry/registry_policy.hpp"

namespace berth::lifecycle {

class RegistryPolicyImpl final : public registry::RegistryPolicy {
 public:
  RegistryPolicyImpl(meta::PolicyStore& store, meta::MetadataStore& metadata,
                     const core::Clock& clock)
      : store_(store), metadata_(metadata), clock_(clock) {}

  [[nodiscard]] core::Result<void> check_blob(const core::RepositoryName& repo,
                                              const core::Digest& digest,
                                              std::uint64_t size) override;
  [[nodiscard]] core::Result<void> check_manifest(const core::RepositoryName& repo,
                                                  const core::Digest& digest, std::uint64_t size,
                                                  const std::vector<core::Tag>& tags) override;
  [[nodiscard]] core::Result<std::optional<registry::ByteRoom>> byte_room(
      const core::RepositoryName& repo, const std::optional<core::Digest>& digest) override;
  [[nodiscard]] core::Result<bool> tag_is_immutable(const core::RepositoryName& repo,
                                                    const core::Tag& tag) override;
  void record_pull(const core::RepositoryName& repo, const core::Digest& digest,
                   const std::optional<core::Tag>& tag) override;

  // Writes the pulls recorded since the last flush in one transaction; returns how many
  // (repository, digest, tag) records it wrote. On failure they stay for the next flush.
  [[nodiscard]] core::Result<std::size_t> flush();
  // Records waiting for the next flush.
  std::size_t pending() const;

 private:
  [[nodiscard]] core::Result<void> check_quota(const meta::ProjectSettings& settings,
                                               const core::RepositoryName& repo,
                                               const core::Digest& digest, std::uint64_t size);
  [[nodiscard]] core::Result<std::vector<TagPattern>> immutable_patterns(
      const meta::ProjectSettings& settings);

  meta::PolicyStore& store_;
  meta::MetadataStore& metadata_;
  const core::Clock& clock_;

  // Guards pulls_: (repository, digest, tag) -> the pulls since the last flush.
  mutable std::mutex pulls_mutex_;
  std::unordered_map<std::string, meta::PullRecord> pulls_;
};

using core::human_bytes;

}  // namespace berth::lifecycle
