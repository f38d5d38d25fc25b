// Fault injection for BlobStore: see faulty_blob_store.hpp for what fails and how.
#include "testing/faulty_blob_store.hpp"

#include <array>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace berth::testing {

using core::ErrorCode;
using storage::Result;

class FaultyBlobStore::Faults {
 public:
  // Counts one call of op and says whether it is to fail.
  bool should_fail(Op op) {
    std::lock_guard lock(mutex_);
    Armed& armed = armed_[index(op)];
    if (armed.nth == 0) {
      return false;
    }
    ++armed.calls;
    bool fail = armed.calls == armed.nth || (armed.sticky && armed.calls > armed.nth);
    if (fail) {
      ++failures_[index(op)];
    }
    return fail;
  }

  void arm(Op op, int n, bool sticky) {
    std::lock_guard lock(mutex_);
    armed_[index(op)] = Armed{n, 0, sticky};
  }

  void clear() {
    std::lock_guard lock(mutex_);
    armed_ = {};
  }

  void set_append_writes_half(bool half) {
    std::lock_guard lock(mutex_);
    append_writes_half_ = half;
  }

  bool append_writes_half() const {
    std::lock_guard lock(mutex_);
    return append_writes_half_;
  }

  void set_free_bytes(std::optional<std::uint64_t> bytes) {
    std::lock_guard lock(mutex_);
    free_bytes_ = bytes;
  }

  std::optional<std::uint64_t> free_bytes() const {
    std::lock_guard lock(mutex_);
    return free_bytes_;
  }

  int failures(Op op) const {
    std::lock_guard lock(mutex_);
    return failures_[index(op)];
  }

 private:
  struct Armed {
    int nth = 0;  // 0: disarmed
    int calls = 0;
    bool sticky = false;
  };
  static std::size_t index(Op op) { return static_cast<std::size_t>(op); }
  // One slot per Op: kList is the last.
  static constexpr std::size_t kOps = static_cast<std::size_t>(Op::kList) + 1;

  mutable std::mutex mutex_;
  std::array<Armed, kOps> armed_{};          // guarded by mutex_
  std::array<int, kOps> failures_{};         // guarded by mutex_
  bool append_writes_half_ = false;          // guarded by mutex_
  std::optional<std::uint64_t> free_bytes_;  // guarded by mutex_
};

namespace {

std::unexpected<core::Error> disk_full(std::string_view operation) {
  return core::fail(ErrorCode::kUnavailable, core::ErrorReason::kDiskFull,
                    "disk full: " + std::string(operation) + ": injected fault");
}

class FaultyUploadWriter final : public storage::UploadWriter {
 public:
  FaultyUploadWriter(std::unique_ptr<storage::UploadWriter> inner,
                     std::shared_ptr<FaultyBlobStore::Faults> faults)
      : inner_(std::move(inner)), faults_(std::move(faults)) {}

  std::uint64_t size() const override { return inner_->size(); }
  Result<void> flush() override { return inner_->flush(); }

  Result<void> append(std::span<const std::byte> bytes) override {
    if (!faults_->should_fail(FaultyBlobStore::Op::kAppend)) {
      return inner_->append(bytes);
    }
    if (faults_->append_writes_half()) {
      if (auto r = inner_->append(bytes.first(bytes.size() / 2)); !r) {
        return r;
      }
    }
    return disk_full("append");
  }

  Result<void> truncate(std::uint64_t size) override { return inner_->truncate(size); }

 private:
  std::unique_ptr<storage::UploadWriter> inner_;
  std::shared_ptr<FaultyBlobStore::Faults> faults_;
};

}  // namespace

FaultyBlobStore::FaultyBlobStore(std::unique_ptr<storage::BlobStore> inner)
    : inner_(std::move(inner)), faults_(std::make_shared<Faults>()) {}

FaultyBlobStore::~FaultyBlobStore() = default;

void FaultyBlobStore::fail_nth(Op op, int n) { faults_->arm(op, n, false); }
void FaultyBlobStore::fail_from(Op op, int n) { faults_->arm(op, n, true); }
void FaultyBlobStore::clear() { faults_->clear(); }
void FaultyBlobStore::set_append_writes_half(bool half) { faults_->set_append_writes_half(half); }
int FaultyBlobStore::failures(Op op) const { return faults_->failures(op); }

Result<std::optional<std::uint64_t>> FaultyBlobStore::stat(const core::Digest& digest) {
  return inner_->stat(digest);
}

Result<std::unique_ptr<storage::BlobReader>> FaultyBlobStore::open(const core::Digest& digest) {
  return inner_->open(digest);
}

Result<void> FaultyBlobStore::put(const core::Digest& digest, std::string_view bytes) {
  if (faults_->should_fail(Op::kPut)) {
    return disk_full("put " + digest.str());
  }
  return inner_->put(digest, bytes);
}

Result<void> FaultyBlobStore::remove(const core::Digest& digest) {
  ++removes_;
  if (faults_->should_fail(Op::kRemove)) {
    return core::fail(ErrorCode::kInternal, "remove blob " + digest.str() + ": injected fault");
  }
  return inner_->remove(digest);
}

Result<void> FaultyBlobStore::remove_many(std::span<const core::Digest> digests) {
  ++remove_many_calls_;
  return BlobStore::remove_many(digests);
}

Result<void> FaultyBlobStore::for_each_blob(
    const std::function<void(const core::Digest&, std::uint64_t size)>& fn) {
  if (faults_->should_fail(Op::kList)) {
    return core::fail(ErrorCode::kInternal, "list blobs: injected fault");
  }
  return inner_->for_each_blob(fn);
}

Result<void> FaultyBlobStore::for_each_blob_entry(
    const std::function<void(const storage::BlobEntry&)>& fn) {
  if (faults_->should_fail(Op::kList)) {
    return core::fail(ErrorCode::kInternal, "list blobs: injected fault");
  }
  return inner_->for_each_blob_entry(fn);
}

Result<void> FaultyBlobStore::create_upload(const core::UploadId& id) {
  return inner_->create_upload(id);
}

Result<std::unique_ptr<storage::UploadWriter>> FaultyBlobStore::append_upload(
    const core::UploadId& id) {
  auto writer = inner_->append_upload(id);
  if (!writer) {
    return std::unexpected(std::move(writer).error());
  }
  return std::make_unique<FaultyUploadWriter>(*std::move(writer), faults_);
}

Result<std::unique_ptr<storage::BlobReader>> FaultyBlobStore::read_upload(
    const core::UploadId& id) {
  ++upload_reads_;
  return inner_->read_upload(id);
}

Result<void> FaultyBlobStore::commit_upload(const core::UploadId& id, const core::Digest& digest) {
  if (faults_->should_fail(Op::kCommit)) {
    return disk_full("commit upload " + id.str());
  }
  return inner_->commit_upload(id, digest);
}

Result<void> FaultyBlobStore::publish_upload(const core::UploadId& id, const core::Digest& digest) {
  if (faults_->should_fail(Op::kPublish)) {
    return disk_full("publish upload " + id.str());
  }
  return inner_->publish_upload(id, digest);
}

Result<void> FaultyBlobStore::delete_upload(const core::UploadId& id) {
  return inner_->delete_upload(id);
}

Result<std::vector<storage::UploadEntry>> FaultyBlobStore::list_uploads() {
  return inner_->list_uploads();
}

void FaultyBlobStore::set_free_bytes(std::optional<std::uint64_t> bytes) {
  faults_->set_free_bytes(bytes);
}

Result<std::optional<std::uint64_t>> FaultyBlobStore::free_bytes() {
  if (auto pretended = faults_->free_bytes()) {
    return pretended;
  }
  return inner_->free_bytes();
}

}  // namespace berth::testing
