// RegistryPolicy: the per-project rules the registry consults while it serves (quotas,
// immutable tags) and tells about pulls. Implemented by the lifecycle layer; the registry
// works without one (no rules).
//
// Called from the blocking pool; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/names.hpp"

namespace berth::registry {

// A project's byte quota and what the project stores now.
struct ByteRoom {
  std::uint64_t quota = 0;
  std::uint64_t used = 0;
  std::uint64_t left() const { return used >= quota ? 0 : quota - used; }
};

class RegistryPolicy {
 public:
  virtual ~RegistryPolicy() = default;

  // Before `size` bytes of `digest` join `repo` (upload start with a known size, upload
  // finish, mount): DENIED, saying by how much, if the project's byte quota would be exceeded
  // (a digest the project already holds costs nothing), or if `repo` is new and the project's
  // repository quota is reached.
  [[nodiscard]] virtual core::Result<void> check_blob(const core::RepositoryName& repo,
                                                      const core::Digest& digest,
                                                      std::uint64_t size) = 0;
  // Before a manifest put: the quota as for a blob (its bytes), and immutable tags: DENIED if
  // one of `tags` matches an immutable pattern and already names another manifest.
  [[nodiscard]] virtual core::Result<void> check_manifest(const core::RepositoryName& repo,
                                                          const core::Digest& digest,
                                                          std::uint64_t size,
                                                          const std::vector<core::Tag>& tags) = 0;
  // The byte quota of the project of `repo` and its usage: the bound of an upload whose size
  // is not known yet (a chunked one), which is refused once it holds more than is left, not
  // only at its last request. nullopt without a byte quota, or when the upload is of `digest`
  // (given when known) and the project holds it already, so that it costs nothing.
  [[nodiscard]] virtual core::Result<std::optional<ByteRoom>> byte_room(
      const core::RepositoryName& repo, const std::optional<core::Digest>& digest) {
    (void)repo;
    (void)digest;
    return std::optional<ByteRoom>();
  }
  // Whether the tag matches an immutable pattern of its project (deleting it needs an owner).
  [[nodiscard]] virtual core::Result<bool> tag_is_immutable(const core::RepositoryName& repo,
                                                            const core::Tag& tag) = 0;
  // A manifest was pulled. Must be cheap: it runs on every manifest GET.
  virtual void record_pull(const core::RepositoryName& repo, const core::Digest& digest,
                           const std::optional<core::Tag>& tag) = 0;
};

}  // namespace berth::registry
