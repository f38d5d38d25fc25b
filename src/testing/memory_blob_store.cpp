// The in-memory BlobStore. One mutex guards both maps; bytes live in shared, immutable strings
// so that a reader keeps what it opened even when the blob is removed or replaced, as an open
// file does on POSIX. Readers and writers share the state (not the store object), so they may
// outlive the store like fds outlive a directory.
#include "testing/memory_blob_store.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace berth::testing {
namespace {

using core::ErrorCode;
using core::fail;
using storage::BlobReader;
using storage::Result;
using storage::UploadEntry;
using storage::UploadWriter;

using Bytes = std::shared_ptr<const std::string>;

struct Upload {
  std::string bytes;
  core::TimePoint modified;
};

struct Blob {
  Bytes bytes;
  // When it was last published (the sweep of garbage collection looks at it).
  core::TimePoint modified;
};

struct State {
  explicit State(const core::Clock& c) : clock(c) {}
  const core::Clock& clock;
  std::mutex mutex;
  // Guarded by mutex. Ordered maps keep for_each_blob and list_uploads deterministic.
  std::map<core::Digest, Blob> blobs;
  // Guarded by mutex. Keyed by id text; shared_ptr so that a writer can tell "my upload"
  // from a new one made under the same id after a delete.
  std::map<std::string, std::shared_ptr<Upload>> uploads;
};

class MemoryBlobReader final : public BlobReader {
 public:
  explicit MemoryBlobReader(Bytes bytes) : bytes_(std::move(bytes)) {}
  std::uint64_t size() const override { return bytes_->size(); }
  Result<std::size_t> read_at(std::uint64_t offset, std::span<std::byte> out) override {
    if (offset >= bytes_->size() || out.empty()) {
      return 0;
    }
    std::size_t n = std::min<std::size_t>(out.size(), bytes_->size() - offset);
    std::memcpy(out.data(), bytes_->data() + offset, n);
    return n;
  }

 private:
  Bytes bytes_;
};

class MemoryUploadWriter final : public UploadWriter {
 public:
  MemoryUploadWriter(std::shared_ptr<State> state, std::string id, std::shared_ptr<Upload> upload)
      : state_(std::move(state)), id_(std::move(id)), upload_(std::move(upload)) {}

  std::uint64_t size() const override {
    std::lock_guard lock(state_->mutex);
    return upload_->bytes.size();
  }

  Result<void> append(std::span<const std::byte> bytes) override {
    std::lock_guard lock(state_->mutex);
    auto it = state_->uploads.find(id_);
    if (it == state_->uploads.end() || it->second != upload_) {
      return fail(ErrorCode::kBlobUploadUnknown, "append to upload " + id_ + ": not found");
    }
    if (!bytes.empty()) {
      upload_->bytes.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
    upload_->modified = state_->clock.now();
    return {};
  }

  Result<void> truncate(std::uint64_t size) override {
    std::lock_guard lock(state_->mutex);
    if (size < upload_->bytes.size()) {
      upload_->bytes.resize(static_cast<std::size_t>(size));
    }
    return {};
  }

 private:
  std::shared_ptr<State> state_;
  std::string id_;
  std::shared_ptr<Upload> upload_;
};

class MemoryBlobStore final : public storage::BlobStore {
 public:
  explicit MemoryBlobStore(const core::Clock& clock) : state_(std::make_shared<State>(clock)) {}

  Result<std::optional<std::uint64_t>> stat(const core::Digest& digest) override {
    std::lock_guard lock(state_->mutex);
    auto it = state_->blobs.find(digest);
    if (it == state_->blobs.end()) {
      return std::nullopt;
    }
    return it->second.bytes->size();
  }

  Result<std::unique_ptr<BlobReader>> open(const core::Digest& digest) override {
    std::lock_guard lock(state_->mutex);
    auto it = state_->blobs.find(digest);
    if (it == state_->blobs.end()) {
      return fail(ErrorCode::kBlobUnknown, "open blob " + digest.str() + ": not found");
    }
    return std::make_unique<MemoryBlobReader>(it->second.bytes);
  }

  Result<void> put(const core::Digest& digest, std::string_view bytes) override {
    // Copy outside the lock; try_emplace keeps the existing bytes if the digest is there.
    auto copy = std::make_shared<const std::string>(bytes);
    std::lock_guard lock(state_->mutex);
    state_->blobs.try_emplace(digest, Blob{std::move(copy), state_->clock.now()});
    return {};
  }

  Result<void> remove(const core::Digest& digest) override {
    std::lock_guard lock(state_->mutex);
    state_->blobs.erase(digest);
    return {};
  }

  Result<void> for_each_blob(
      const std::function<void(const core::Digest&, std::uint64_t size)>& fn) override {
    // Snapshot first, so fn may call back into the store (GC removes as it walks).
    std::vector<std::pair<core::Digest, std::uint64_t>> snapshot;
    {
      std::lock_guard lock(state_->mutex);
      for (const auto& [digest, blob] : state_->blobs) {
        snapshot.emplace_back(digest, blob.bytes->size());
      }
    }
    for (const auto& [digest, size] : snapshot) {
      fn(digest, size);
    }
    return {};
  }

  Result<void> for_each_blob_entry(
      const std::function<void(const storage::BlobEntry&)>& fn) override {
    std::vector<storage::BlobEntry> snapshot;
    {
      std::lock_guard lock(state_->mutex);
      for (const auto& [digest, blob] : state_->blobs) {
        snapshot.push_back(storage::BlobEntry{digest, blob.bytes->size(), blob.modified});
      }
    }
    for (const auto& entry : snapshot) {
      fn(entry);
    }
    return {};
  }

  Result<void> create_upload(const core::UploadId& id) override {
    std::lock_guard lock(state_->mutex);
    auto upload = std::make_shared<Upload>(Upload{{}, state_->clock.now()});
    if (!state_->uploads.try_emplace(id.str(), std::move(upload)).second) {
      return fail(ErrorCode::kInternal, "create upload " + id.str() + ": already exists");
    }
    return {};
  }

  Result<std::unique_ptr<UploadWriter>> append_upload(const core::UploadId& id) override {
    std::lock_guard lock(state_->mutex);
    auto it = state_->uploads.find(id.str());
    if (it == state_->uploads.end()) {
      return fail(ErrorCode::kBlobUploadUnknown, "open upload " + id.str() + ": not found");
    }
    return std::make_unique<MemoryUploadWriter>(state_, id.str(), it->second);
  }

  Result<std::unique_ptr<BlobReader>> read_upload(const core::UploadId& id) override {
    std::lock_guard lock(state_->mutex);
    auto it = state_->uploads.find(id.str());
    if (it == state_->uploads.end()) {
      return fail(ErrorCode::kBlobUploadUnknown, "open upload " + id.str() + ": not found");
    }
    // A snapshot: later appends do not show, as the fs reader's size is fixed at open.
    return std::make_unique<MemoryBlobReader>(
        std::make_shared<const std::string>(it->second->bytes));
  }

  Result<void> commit_upload(const core::UploadId& id, const core::Digest& digest) override {
    std::lock_guard lock(state_->mutex);
    auto it = state_->uploads.find(id.str());
    if (it == state_->uploads.end()) {
      return fail(ErrorCode::kBlobUploadUnknown, "commit upload " + id.str() + ": not found");
    }
    // Move, not copy: the upload is gone afterwards, and a live writer of it fails from now on
    // because the map no longer holds its Upload.
    std::shared_ptr<Upload> upload = std::move(it->second);
    state_->uploads.erase(it);
    if (!state_->blobs.contains(digest)) {
      state_->blobs.emplace(
          digest,
          Blob{std::make_shared<const std::string>(std::move(upload->bytes)), state_->clock.now()});
    }
    return {};
  }

  Result<void> publish_upload(const core::UploadId& id, const core::Digest& digest) override {
    std::lock_guard lock(state_->mutex);
    auto it = state_->uploads.find(id.str());
    if (it == state_->uploads.end()) {
      return fail(ErrorCode::kBlobUploadUnknown, "publish upload " + id.str() + ": not found");
    }
    auto [blob, inserted] = state_->blobs.try_emplace(digest);
    if (inserted) {
      blob->second.bytes = std::make_shared<const std::string>(it->second->bytes);
    }
    blob->second.modified = state_->clock.now();
    return {};
  }

  Result<void> delete_upload(const core::UploadId& id) override {
    std::lock_guard lock(state_->mutex);
    state_->uploads.erase(id.str());
    return {};
  }

  Result<std::vector<UploadEntry>> list_uploads() override {
    std::lock_guard lock(state_->mutex);
    std::vector<UploadEntry> entries;
    for (const auto& [text, upload] : state_->uploads) {
      // Keys were made from valid ids, so parsing them back cannot fail.
      entries.push_back(UploadEntry{core::UploadId::parse(text).value(), upload->modified});
    }
    return entries;
  }

 private:
  std::shared_ptr<State> state_;
};

}  // namespace

std::unique_ptr<storage::BlobStore> make_memory_blob_store(const core::Clock& clock) {
  return std::make_unique<MemoryBlobStore>(clock);
}

}  // namespace berth::testing
