// Uploads across replicas: two Registry objects over one blob store and one metadata store are
// two `berth serve` processes behind a load balancer. Each request of a chunked upload may go
// to either, and neither may read back the bytes the other stored to go on hashing them: the
// hash state travels with the upload's record. The oracle is the blob store's count of
// read_upload() calls, and the digest of the whole content computed apart.
#include <gtest/gtest.h>

#include <string>

#include "meta/sqlite_metadata_store.hpp"
#include "registry/registry.hpp"
#include "testing/fake_clock.hpp"
#include "testing/faulty_blob_store.hpp"
#include "testing/memory_blob_store.hpp"
#include "testing/registry_test_data.hpp"

namespace berth::registry {
namespace {

using berth::testing::bytes_of;

using core::Digest;

// Bytes no chunk boundary lines up with a hash block in.
std::string content(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
  }
  return bytes;
}

class RegistryReplicasTest : public ::testing::Test {
 protected:
  RegistryReplicasTest() {
    auto faulty =
        std::make_unique<testing::FaultyBlobStore>(testing::make_memory_blob_store(clock_));
    blobs_ = faulty.get();
    store_ = std::move(faulty);
    meta_ = std::move(*meta::open_sqlite_metadata_store(meta::SqliteOptions{":memory:"}));
    replicas_[0] = std::make_unique<Registry>(*store_, *meta_, clock_);
    replicas_[1] = std::make_unique<Registry>(*store_, *meta_, clock_);
  }

  Registry& replica(std::size_t i) { return *replicas_[i % 2]; }

  // One PATCH on a replica: the chunk appended and acknowledged. Returns the bytes the lease
  // read back to resume the hash.
  std::uint64_t patch(std::size_t on, const core::UploadId& id, std::string_view chunk) {
    auto lease = replica(on).open_upload(repo_, id);
    EXPECT_TRUE(lease) << lease.error().message;
    if (!lease) {
      return 0;
    }
    EXPECT_TRUE(lease->append(bytes_of(chunk)));
    EXPECT_TRUE(replica(on).save_upload(*lease));
    return lease->rehashed_bytes();
  }

  testing::FakeClock clock_;
  std::unique_ptr<storage::BlobStore> store_;
  testing::FaultyBlobStore* blobs_ = nullptr;
  std::unique_ptr<meta::MetadataStore> meta_;
  std::array<std::unique_ptr<Registry>, 2> replicas_;
  const core::RepositoryName repo_ = *core::RepositoryName::parse("team/app");
};

TEST_F(RegistryReplicasTest, ChunksAlternatingBetweenReplicasAreNeverReadBack) {
  const std::string bytes = content(100'000);
  const std::size_t chunk = 12'345;
  auto id = replica(0).start_upload(repo_);
  ASSERT_TRUE(id);
  std::size_t request = 0;
  for (std::size_t offset = 0; offset < bytes.size(); offset += chunk, ++request) {
    EXPECT_EQ(patch(request, *id, std::string_view(bytes).substr(offset, chunk)), 0u)
        << "request " << request << " read back stored bytes";
  }
  // The closing PUT lands on the replica that did not take the last PATCH.
  auto lease = replica(request).open_upload(repo_, *id);
  ASSERT_TRUE(lease) << lease.error().message;
  EXPECT_EQ(lease->rehashed_bytes(), 0u);
  EXPECT_EQ(lease->size(), bytes.size());
  auto blob = replica(request).finish_upload(std::move(*lease), Digest::of(bytes));
  ASSERT_TRUE(blob) << blob.error().message;
  EXPECT_EQ(blob->size, bytes.size());
  EXPECT_EQ(blobs_->upload_reads(), 0) << "an upload's bytes were read back";
  EXPECT_TRUE(replica(request + 1).stat_blob(repo_, Digest::of(bytes)));
}

TEST_F(RegistryReplicasTest, ASavedStateOfAnUnknownFormatFallsBackToHashingWhatIsStored) {
  const std::string bytes = content(5000);
  auto id = replica(0).start_upload(repo_);
  ASSERT_TRUE(id);
  EXPECT_EQ(patch(0, *id, std::string_view(bytes).substr(0, 3000)), 0u);
  // As a later Berth, with a format this one does not know, would have left it.
  ASSERT_TRUE(meta_->update_upload(*id, 3000, "2:sha256:3000:from-the-future", clock_.now()));

  auto lease = replica(1).open_upload(repo_, *id);
  ASSERT_TRUE(lease) << lease.error().message;
  EXPECT_EQ(lease->rehashed_bytes(), 3000u);
  ASSERT_TRUE(lease->append(bytes_of(std::string_view(bytes).substr(3000))));
  auto blob = replica(1).finish_upload(std::move(*lease), Digest::of(bytes));
  ASSERT_TRUE(blob) << blob.error().message;
}

TEST_F(RegistryReplicasTest, OnlyBytesStoredPastTheSavedStateAreReadBack) {
  const std::string bytes = content(9000);
  auto id = replica(0).start_upload(repo_);
  ASSERT_TRUE(id);
  EXPECT_EQ(patch(0, *id, std::string_view(bytes).substr(0, 4000)), 0u);
  {
    // A request cut off after its bytes were written, before its progress was recorded (as
    // when its replica is killed).
    auto lease = replica(0).open_upload(repo_, *id);
    ASSERT_TRUE(lease);
    ASSERT_TRUE(lease->append(bytes_of(std::string_view(bytes).substr(4000, 1500))));
  }
  auto lease = replica(1).open_upload(repo_, *id);
  ASSERT_TRUE(lease) << lease.error().message;
  EXPECT_EQ(lease->rehashed_bytes(), 1500u);
  EXPECT_EQ(lease->size(), 5500u);
  ASSERT_TRUE(lease->append(bytes_of(std::string_view(bytes).substr(5500))));
  auto blob = replica(1).finish_upload(std::move(*lease), Digest::of(bytes));
  ASSERT_TRUE(blob) << blob.error().message;
}

TEST_F(RegistryReplicasTest, AReplicaKeepsNoStaleCopyOfAnUploadAnotherOneAdvanced) {
  const std::string bytes = content(3000);
  auto id = replica(0).start_upload(repo_);
  ASSERT_TRUE(id);
  EXPECT_EQ(patch(0, *id, std::string_view(bytes).substr(0, 1000)), 0u);
  EXPECT_EQ(patch(1, *id, std::string_view(bytes).substr(1000, 1000)), 0u);
  // Replica 0 last saw 1000 bytes; the upload has 2000.
  EXPECT_EQ(*replica(0).upload_size(repo_, *id), 2000u);
  EXPECT_EQ(patch(0, *id, std::string_view(bytes).substr(2000)), 0u);
  auto lease = replica(1).open_upload(repo_, *id);
  ASSERT_TRUE(lease);
  auto blob = replica(1).finish_upload(std::move(*lease), Digest::of(bytes));
  ASSERT_TRUE(blob) << blob.error().message;
}

TEST_F(RegistryReplicasTest, APurgeOnOneReplicaSparesAnUploadAnotherOneIsWriting) {
  // One long request on replica 0 writes an upload for hours (a slow client, a huge chunk);
  // replica 1 runs the purge of uploads untouched for an hour meanwhile. It must not take it.
  const std::string bytes = content(8 * 1000);
  auto id = replica(0).start_upload(repo_);
  ASSERT_TRUE(id);
  auto lease = replica(0).open_upload(repo_, *id);
  ASSERT_TRUE(lease) << lease.error().message;
  for (std::size_t offset = 0; offset < bytes.size(); offset += 1000) {
    ASSERT_TRUE(lease->append(bytes_of(std::string_view(bytes).substr(offset, 1000))));
    clock_.advance(std::chrono::minutes(30));
    auto purged = replica(1).purge_stale_uploads(clock_.now() - std::chrono::hours(1));
    ASSERT_TRUE(purged) << purged.error().message;
    EXPECT_EQ(*purged, 0u) << "after " << offset + 1000 << " bytes";
  }
  auto blob = replica(0).finish_upload(std::move(*lease), Digest::of(bytes));
  ASSERT_TRUE(blob) << blob.error().message;
  EXPECT_TRUE(replica(1).stat_blob(repo_, Digest::of(bytes)));
}

TEST_F(RegistryReplicasTest, AnUploadPurgedByAnotherReplicaIsUnknownToTheNextRequest) {
  auto id = replica(0).start_upload(repo_);
  ASSERT_TRUE(id);
  EXPECT_EQ(patch(0, *id, "first chunk"), 0u);
  clock_.advance(std::chrono::hours(2));
  auto purged = replica(1).purge_stale_uploads(clock_.now() - std::chrono::hours(1));
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(*purged, 1u);
  auto lease = replica(0).open_upload(repo_, *id);
  ASSERT_FALSE(lease);
  EXPECT_EQ(lease.error().code, core::ErrorCode::kBlobUploadUnknown);
}

}  // namespace
}  // namespace berth::registry
