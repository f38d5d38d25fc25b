// The registry flushes an upload's writer before it reports the upload's size and before it
// publishes: a driver may hold appended bytes in memory until then (S3 holds up to a piece),
// and another replica, or this one after a restart, sees only what was flushed.
#include <gtest/gtest.h>

#include <algorithm>

#include "meta/sqlite_metadata_store.hpp"
#include "registry/registry.hpp"
#include "testing/fake_clock.hpp"
#include "testing/memory_blob_store.hpp"
#include "testing/registry_test_data.hpp"

namespace berth::registry {
namespace {

using berth::testing::bytes_of;

using core::Digest;

// Appends reach the inner store only on flush(); destruction drops what was not flushed (a
// driver cannot report a failure there, so the registry must not rely on it).
class BufferingWriter final : public storage::UploadWriter {
 public:
  explicit BufferingWriter(std::unique_ptr<storage::UploadWriter> inner)
      : inner_(std::move(inner)) {}
  std::uint64_t size() const override { return inner_->size() + pending_.size(); }
  storage::Result<void> append(std::span<const std::byte> bytes) override {
    pending_.insert(pending_.end(), bytes.begin(), bytes.end());
    return {};
  }
  storage::Result<void> flush() override {
    auto appended = inner_->append(pending_);
    pending_.clear();
    return appended;
  }
  storage::Result<void> truncate(std::uint64_t size) override {
    if (size >= inner_->size()) {
      pending_.resize(std::min<std::uint64_t>(pending_.size(), size - inner_->size()));
      return {};
    }
    pending_.clear();
    return inner_->truncate(size);
  }

 private:
  std::unique_ptr<storage::UploadWriter> inner_;
  std::vector<std::byte> pending_;
};

class BufferingStore final : public storage::BlobStore {
 public:
  explicit BufferingStore(std::unique_ptr<storage::BlobStore> inner) : inner_(std::move(inner)) {}
  storage::BlobStore& inner() { return *inner_; }

  storage::Result<std::unique_ptr<storage::UploadWriter>> append_upload(
      const core::UploadId& id) override {
    auto writer = inner_->append_upload(id);
    if (!writer) {
      return std::unexpected(writer.error());
    }
    return std::make_unique<BufferingWriter>(*std::move(writer));
  }
  storage::Result<std::optional<std::uint64_t>> stat(const Digest& d) override {
    return inner_->stat(d);
  }
  storage::Result<std::unique_ptr<storage::BlobReader>> open(const Digest& d) override {
    return inner_->open(d);
  }
  storage::Result<void> put(const Digest& d, std::string_view bytes) override {
    return inner_->put(d, bytes);
  }
  storage::Result<void> remove(const Digest& d) override { return inner_->remove(d); }
  storage::Result<void> for_each_blob(
      const std::function<void(const Digest&, std::uint64_t)>& fn) override {
    return inner_->for_each_blob(fn);
  }
  storage::Result<void> for_each_blob_entry(
      const std::function<void(const storage::BlobEntry&)>& fn) override {
    return inner_->for_each_blob_entry(fn);
  }
  storage::Result<void> create_upload(const core::UploadId& id) override {
    return inner_->create_upload(id);
  }
  storage::Result<std::unique_ptr<storage::BlobReader>> read_upload(
      const core::UploadId& id) override {
    return inner_->read_upload(id);
  }
  storage::Result<void> commit_upload(const core::UploadId& id, const Digest& d) override {
    return inner_->commit_upload(id, d);
  }
  storage::Result<void> publish_upload(const core::UploadId& id, const Digest& d) override {
    return inner_->publish_upload(id, d);
  }
  storage::Result<void> delete_upload(const core::UploadId& id) override {
    return inner_->delete_upload(id);
  }
  storage::Result<std::vector<storage::UploadEntry>> list_uploads() override {
    return inner_->list_uploads();
  }

 private:
  std::unique_ptr<storage::BlobStore> inner_;
};

class RegistryFlushTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
  BufferingStore blobs_{testing::make_memory_blob_store(clock_)};
  std::unique_ptr<meta::MetadataStore> meta_ =
      std::move(*meta::open_sqlite_metadata_store(meta::SqliteOptions{":memory:"}));
  Registry registry_{blobs_, *meta_, clock_};
  const core::RepositoryName repo_ = *core::RepositoryName::parse("team/app");
};

TEST_F(RegistryFlushTest, SavedUploadIsInStorageForTheNextReplica) {
  auto id = registry_.start_upload(repo_);
  ASSERT_TRUE(id.has_value());
  {
    auto lease = registry_.open_upload(repo_, *id);
    ASSERT_TRUE(lease.has_value());
    ASSERT_TRUE(lease->append(bytes_of("chunk one")).has_value());
    ASSERT_TRUE(registry_.save_upload(*lease).has_value());
    // What another replica finds while this request is still answering.
    auto other = blobs_.inner().append_upload(*id);
    ASSERT_TRUE(other.has_value());
    EXPECT_EQ((*other)->size(), 9u) << "save_upload recorded a size storage does not have";
  }
  Registry replica(blobs_, *meta_, clock_);
  auto size = replica.upload_size(repo_, *id);
  ASSERT_TRUE(size.has_value());
  EXPECT_EQ(*size, 9u);
}

TEST_F(RegistryFlushTest, FinishPublishesTheBytesHeldByTheWriter) {
  const std::string content = "held in memory until flushed";
  auto lease = registry_.start_single_request_upload(repo_);
  ASSERT_TRUE(lease.has_value());
  ASSERT_TRUE(lease->append(bytes_of(content)).has_value());
  auto blob = registry_.finish_upload(std::move(*lease), Digest::of(content));
  ASSERT_TRUE(blob.has_value()) << blob.error().message;
  auto reader = blobs_.open(Digest::of(content));
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ((*reader)->size(), content.size()) << "published without the unflushed bytes";
}

}  // namespace
}  // namespace berth::registry
