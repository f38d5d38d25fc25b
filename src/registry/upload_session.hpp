// The registry's private state of one upload (registry.cpp and upload_lease.cpp); not part of
// its interface.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/digest.hpp"
#include "core/names.hpp"
#include "core/upload_id.hpp"
#include "registry/registry_policy.hpp"

namespace berth::registry {

// UploadSession::size of a session whose bytes must be hashed again from storage.
inline constexpr std::uint64_t kUnknownSize = ~std::uint64_t{0};

// The state of one upload in this process, kept (Registry::sessions_) only while a request holds
// it, or once published. `leased` is guarded by the registry's sessions_mutex_; the rest
// belongs to whoever holds the lease.
struct UploadSession {
  UploadSession(core::UploadId id_in, core::RepositoryName repository_in, bool recorded_in)
      : id(std::move(id_in)), repository(std::move(repository_in)), recorded(recorded_in) {}

  core::UploadId id;
  core::RepositoryName repository;
  // Has a metadata record, so other requests (and other replicas) can resume it.
  bool recorded;
  bool leased = false;
  core::Hasher hasher;
  // Bytes covered by `hasher`. kUnknownSize forces a rehash from storage at the next lease.
  std::atomic<std::uint64_t> size{0};
  // An append failed part-way: the hash no longer matches the stored bytes.
  bool broken = false;
  // The hash state the upload's record held when this session was made from it (empty: none,
  // or not made from a record): where the next lease starts hashing, instead of from nothing,
  // the stored bytes it has not seen.
  std::string saved_hash_state;
  // When the upload's record was last updated or touched, as far as this session knows: a
  // recorded upload held by a request is touched again once this is upload_touch_interval old,
  // so that no purge (on any replica) takes it while it is being written.
  core::TimePoint touched{};
  // Published as a blob, and maybe sharing its storage (a hard link): it takes no more bytes,
  // only another publication (a link refused while garbage collection took the bytes) or
  // deletion. Never leased again.
  bool published = false;
};

// What one lease of an upload may make of it, fixed when it is leased: how far it may grow,
// and where a request whose write failed takes it back to.
struct UploadBounds {
  // The bytes (and their hash state) the upload held when leased: what the client has been
  // told was received.
  std::uint64_t start_size = 0;
  core::Hasher start_hasher;
  // uploads.max_size; 0: no limit.
  std::uint64_t max_size = 0;
  // The project's byte quota and usage, when it has a quota.
  std::optional<ByteRoom> room;
};

}  // namespace berth::registry
