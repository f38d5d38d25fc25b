// A BlobStore decorator that makes chosen writes fail with "disk full", the way LevelDB's
// fault-injection Env does for its tests. Registry tests wrap the in-memory store in it to
// check that a push which fails halfway leaves nothing half-written visible, and that the
// client sees a retryable error (kUnavailable, 503) rather than a crash or a 500.
//
// Faults are counted per operation from the moment they are armed: fail_nth(kPut, 2) lets the
// next put() through and fails the one after. A failed put(), commit_upload() or
// publish_upload() never reaches the inner store, so nothing is published; a failed append() writes
// nothing, or, after set_append_writes_half(true), the first half of its bytes, as a disk that
// fills up in the middle of a write does. A failed remove() removes nothing (garbage collection
// must keep its tombstone). free_bytes() can be made to answer a chosen figure (a disk almost
// full). upload_reads() counts read_upload() calls; removes() and remove_many_calls() count the
// deletions (remove_many() removes one by one through remove(), so faults apply to each).
// Everything else is passed through unchanged.
//
// Thread-safe like any BlobStore; arming faults while other threads use the store is fine.
// Writers it hands out share the fault state, so they may outlive the store.
#pragma once

#include <atomic>
#include <memory>
#include <optional>

#include "storage/blob_store.hpp"

namespace berth::testing {

class FaultyBlobStore final : public storage::BlobStore {
 public:
  // kList: for_each_blob and for_each_blob_entry, the listings of the whole store.
  enum class Op { kAppend, kCommit, kPut, kPublish, kRemove, kList };

  explicit FaultyBlobStore(std::unique_ptr<storage::BlobStore> inner);
  ~FaultyBlobStore() override;

  // The nth call of op from now on (1 is the next one) fails; later calls succeed again.
  // Replaces whatever was armed for op.
  void fail_nth(Op op, int n);
  // The nth call of op from now on and every call after it fail, until clear().
  void fail_from(Op op, int n);
  // Disarms every fault (and keeps the failure counts).
  void clear();
  // Whether a failing append first passes half of its bytes to the inner writer.
  void set_append_writes_half(bool half);
  // How many calls of op have been failed so far.
  int failures(Op op) const;
  // How many times read_upload() was called: a test's proof that an upload's bytes were not
  // read back.
  int upload_reads() const { return upload_reads_.load(); }
  // How many remove() calls there were (including those remove_many() made), and how many
  // remove_many() calls: a test's proof that deletions were batched.
  int removes() const { return removes_.load(); }
  int remove_many_calls() const { return remove_many_calls_.load(); }
  // What free_bytes() answers from now on; nullopt: the inner store's answer.
  void set_free_bytes(std::optional<std::uint64_t> bytes);

  // The wrapped store, to look behind the faults (e.g. that no blob was published).
  storage::BlobStore& inner() { return *inner_; }

  [[nodiscard]] storage::Result<std::optional<std::uint64_t>> stat(
      const core::Digest& digest) override;
  [[nodiscard]] storage::Result<std::unique_ptr<storage::BlobReader>> open(
      const core::Digest& digest) override;
  [[nodiscard]] storage::Result<void> put(const core::Digest& digest,
                                          std::string_view bytes) override;
  [[nodiscard]] storage::Result<void> remove(const core::Digest& digest) override;
  [[nodiscard]] storage::Result<void> remove_many(std::span<const core::Digest> digests) override;
  [[nodiscard]] storage::Result<void> for_each_blob(
      const std::function<void(const core::Digest&, std::uint64_t size)>& fn) override;
  [[nodiscard]] storage::Result<void> for_each_blob_entry(
      const std::function<void(const storage::BlobEntry&)>& fn) override;
  [[nodiscard]] storage::Result<void> create_upload(const core::UploadId& id) override;
  [[nodiscard]] storage::Result<std::unique_ptr<storage::UploadWriter>> append_upload(
      const core::UploadId& id) override;
  [[nodiscard]] storage::Result<std::unique_ptr<storage::BlobReader>> read_upload(
      const core::UploadId& id) override;
  [[nodiscard]] storage::Result<void> commit_upload(const core::UploadId& id,
                                                    const core::Digest& digest) override;
  [[nodiscard]] storage::Result<void> publish_upload(const core::UploadId& id,
                                                     const core::Digest& digest) override;
  [[nodiscard]] storage::Result<void> delete_upload(const core::UploadId& id) override;
  [[nodiscard]] storage::Result<std::vector<storage::UploadEntry>> list_uploads() override;
  [[nodiscard]] storage::Result<std::optional<std::uint64_t>> free_bytes() override;

  // Shared with the writers this store hands out; defined in the .cpp.
  class Faults;

 private:
  std::unique_ptr<storage::BlobStore> inner_;
  std::shared_ptr<Faults> faults_;
  std::atomic<int> upload_reads_{0};
  std::atomic<int> removes_{0};
  std::atomic<int> remove_many_calls_{0};
};

}  // namespace berth::testing
