// The pushing side of the tombstone protocol (meta/gc_store.hpp), with every interleaving of a
// collection's steps (tombstone, delete the bytes, clear) with a push's steps (publish, link,
// look, publish again) forced in order by a hook that runs just before the push's link.
// Whatever the order, a push that succeeds leaves its bytes stored and linked, and one that
// gives up says so with a retryable error and leaves no upload behind that could corrupt a blob.
// The registry never waits for a collection: each refused attempt returns at once (the api
// layer waits on a timer between attempts), so here the hooks are the collection's progress
// and the tests call again as the api layer would.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "meta/gc_store.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "registry/registry.hpp"
#include "testing/fake_clock.hpp"
#include "testing/faulty_blob_store.hpp"
#include "testing/hooked_metadata_store.hpp"
#include "testing/memory_blob_store.hpp"
#include "testing/registry_test_data.hpp"

namespace berth::registry {
namespace {

using berth::testing::bytes_of;

using namespace std::chrono_literals;
using core::Digest;
using core::ErrorCode;

constexpr std::string_view kContent = "layer bytes";
constexpr std::string_view kManifest =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]})";
constexpr std::string_view kIndexType = "application/vnd.oci.image.index.v1+json";

class RegistryGcTest : public ::testing::Test {
 protected:
  RegistryGcTest() {
    blobs_ = std::make_unique<testing::FaultyBlobStore>(testing::make_memory_blob_store(clock_));
    stores_ = *meta::open_sqlite_stores(meta::SqliteOptions{":memory:"});
    hooked_ = std::make_unique<testing::HookedMetadataStore>(*stores_.metadata);
    make_registry();
  }

  void make_registry() {
    registry_ = std::make_unique<Registry>(*blobs_, *hooked_, clock_, options_);
  }

  meta::GcStore& gc() { return *stores_.gc; }

  // `content` stored and known to the metadata, but linked nowhere: what a collection finds
  // after the last image using it went.
  void make_orphan(std::string_view content) {
    auto lease = registry_->start_single_request_upload(testing::repo("old"));
    ASSERT_TRUE(lease && lease->append(bytes_of(content)));
    ASSERT_TRUE(registry_->finish_upload(std::move(*lease), Digest::of(content)));
    clock_.advance(48h);
    ASSERT_TRUE(
        *gc().delete_unreferenced_link(testing::repo("old"), Digest::of(content), clock_.now()));
  }

  // The steps of a collection of `digest`.
  void tombstone(const Digest& digest) {
    auto done = gc().tombstone_orphan_blob(digest, clock_.now());
    ASSERT_TRUE(done && *done) << "the digest must be an orphan";
  }
  void delete_bytes(const Digest& digest) { ASSERT_TRUE(blobs_->remove(digest)); }
  void clear(const Digest& digest) { ASSERT_TRUE(gc().clear_tombstone(digest)); }

  // Runs steps[i] before the i-th link attempt (nothing once they run out).
  void before_links(std::vector<std::function<void()>> steps) {
    steps_ = std::move(steps);
    hooked_->before_link = [this](std::string_view) {
      if (attempts_ < steps_.size()) {
        steps_[attempts_]();
      }
      ++attempts_;
    };
  }

  // A resumable upload of `content` into "app", leased.
  UploadLease leased_upload(std::string_view content) {
    auto id = registry_->start_upload(testing::repo("app"));
    EXPECT_TRUE(id);
    auto lease = registry_->open_upload(testing::repo("app"), *id);
    EXPECT_TRUE(lease && lease->append(bytes_of(content)));
    return std::move(*lease);
  }

  // try_finish_upload until it is not refused for a collection (at most 20 attempts).
  Result<BlobStat> finish(UploadLease& lease, const Digest& digest) {
    for (int attempt = 1;; ++attempt) {
      auto blob = registry_->try_finish_upload(lease, digest);
      if (blob || !blob.error().is(core::ErrorReason::kBlobBeingCollected) || attempt == 20) {
        return blob;
      }
      EXPECT_TRUE(lease.held()) << "a refused attempt keeps the lease";
    }
  }

  Result<BlobStat> push(std::string_view repository, std::string_view content) {
    auto lease = registry_->start_single_request_upload(testing::repo(repository));
    EXPECT_TRUE(lease && lease->append(bytes_of(content)));
    return finish(*lease, Digest::of(content));
  }

  Result<PutManifestResult> put_manifest(std::string_view repository) {
    for (int attempt = 1;; ++attempt) {
      auto put = registry_->put_manifest(testing::repo(repository), *core::Reference::parse("v1"),
                                         std::string(kManifest), kIndexType, {});
      if (put || !put.error().is(core::ErrorReason::kBlobBeingCollected) || attempt == 20) {
        return put;
      }
    }
  }

  // The blob's bytes as stored, or "<absent>".
  std::string stored(const Digest& digest) {
    auto reader = blobs_->open(digest);
    if (!reader) {
      return "<absent>";
    }
    std::string out((*reader)->size(), '\0');
    auto n = (*reader)->read_at(0, std::as_writable_bytes(std::span(out)));
    out.resize(n ? *n : 0);
    return out;
  }

  testing::FakeClock clock_;
  RegistryOptions options_{.collection_wait = 10s, .collection_retry = 1ms};
  std::unique_ptr<testing::FaultyBlobStore> blobs_;
  meta::SqliteStores stores_;
  std::unique_ptr<testing::HookedMetadataStore> hooked_;
  std::unique_ptr<Registry> registry_;
  std::vector<std::function<void()>> steps_;
  std::size_t attempts_ = 0;
};

TEST_F(RegistryGcTest, WholeCollectionBetweenPublishAndLinkIsRepublished) {
  make_orphan(kContent);
  const auto digest = Digest::of(kContent);
  // The collection tombstones, deletes and clears after our publish; the link then succeeds
  // and the push must notice the bytes went.
  before_links({[&] {
    tombstone(digest);
    delete_bytes(digest);
    clear(digest);
  }});
  auto blob = push("app", kContent);
  ASSERT_TRUE(blob) << blob.error().message;
  EXPECT_EQ(attempts_, 1u);
  EXPECT_EQ(stored(digest), kContent);
  EXPECT_TRUE(registry_->stat_blob(testing::repo("app"), digest));
  EXPECT_TRUE(blobs_->list_uploads()->empty()) << "the upload went once linked";
}

TEST_F(RegistryGcTest, RefusedWhileTombstonedThenBytesDeletedThenCleared) {
  make_orphan(kContent);
  const auto digest = Digest::of(kContent);
  before_links({[&] { tombstone(digest); },
                [&] {
                  delete_bytes(digest);
                  clear(digest);
                }});
  auto blob = push("app", kContent);
  ASSERT_TRUE(blob) << blob.error().message;
  EXPECT_EQ(attempts_, 2u) << "refused once, then linked";
  EXPECT_EQ(stored(digest), kContent);
  EXPECT_TRUE(registry_->stat_blob(testing::repo("app"), digest));
}

TEST_F(RegistryGcTest, RefusedWithTheBytesGoneThenCleared) {
  make_orphan(kContent);
  const auto digest = Digest::of(kContent);
  // Republished before the second attempt, while the tombstone is still there.
  before_links({[&] {
                  tombstone(digest);
                  delete_bytes(digest);
                },
                [&] {
                  EXPECT_EQ(stored(digest), kContent) << "published again before retrying";
                  clear(digest);
                }});
  auto blob = push("app", kContent);
  ASSERT_TRUE(blob) << blob.error().message;
  EXPECT_EQ(attempts_, 2u);
  EXPECT_EQ(stored(digest), kContent);
}

TEST_F(RegistryGcTest, RefusedSeveralTimesWhileACollectionIsSlow) {
  make_orphan(kContent);
  const auto digest = Digest::of(kContent);
  before_links({[&] { tombstone(digest); }, [] {}, [&] { delete_bytes(digest); }, [] {},
                [&] { clear(digest); }});
  auto blob = push("app", kContent);
  ASSERT_TRUE(blob) << blob.error().message;
  EXPECT_EQ(attempts_, 5u);
  EXPECT_EQ(stored(digest), kContent);
}

TEST_F(RegistryGcTest, ResumableUploadKeepsItsRecordUntilTheLinkCommits) {
  make_orphan(kContent);
  const auto digest = Digest::of(kContent);
  auto lease = std::optional(leased_upload(kContent));
  const auto id = lease->id();
  before_links({[&] { tombstone(digest); },
                [&] {
                  EXPECT_TRUE(*stores_.metadata->get_upload(id))
                      << "the refused completion kept the session";
                  delete_bytes(digest);
                  clear(digest);
                }});
  auto blob = finish(*lease, digest);
  ASSERT_TRUE(blob) << blob.error().message;
  EXPECT_FALSE(lease->held());
  EXPECT_FALSE(*stores_.metadata->get_upload(id));
  EXPECT_EQ(stored(digest), kContent);
  EXPECT_EQ(registry_->upload_size(testing::repo("app"), id).error().code,
            ErrorCode::kBlobUploadUnknown);
}

// finish_upload (the proxy's) does not wait for the collection: one attempt, then 503 with
// Retry-After, however long the registry's collection_wait. It used to sleep on its thread
// for collection_wait, publishing and linking again and again.
TEST_F(RegistryGcTest, GivesUpAtOnceWithARetryableErrorAndLeavesNoUploadBehind) {
  options_.collection_wait = 1h;
  make_registry();
  make_orphan(kContent);
  const auto digest = Digest::of(kContent);
  auto lease = std::optional(leased_upload(kContent));
  const auto id = lease->id();
  before_links({[&] { tombstone(digest); }});

  auto blob = registry_->finish_upload(std::move(*lease), digest);
  ASSERT_FALSE(blob);
  EXPECT_EQ(attempts_, 1u) << "one link attempt, no waiting";
  EXPECT_EQ(blob.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(blob.error().is(core::ErrorReason::kBlobBeingCollected));
  EXPECT_NE(blob.error().message.find("garbage-collected"), std::string::npos);
  EXPECT_TRUE(blob.error().retry_after.has_value());
  // The upload may share storage with the published blob: it must not take more bytes.
  EXPECT_TRUE(blobs_->list_uploads()->empty());
  EXPECT_EQ(registry_->open_upload(testing::repo("app"), id).error().code,
            ErrorCode::kBlobUploadUnknown);
  EXPECT_FALSE(registry_->stat_blob(testing::repo("app"), digest));
  EXPECT_EQ(gc().tombstones().value(), std::vector<Digest>{digest}) << "the collection's own";
}

TEST_F(RegistryGcTest, ManifestBytesArePutAgainWhenACollectionTookThem) {
  const auto digest = Digest::of(kManifest);
  // The manifest was pushed before, deleted, and its bytes are now an orphan.
  ASSERT_TRUE(registry_->put_manifest(testing::repo("old"), *core::Reference::parse("v1"),
                                      std::string(kManifest), kIndexType, {}));
  ASSERT_TRUE(
      registry_->delete_manifest(testing::repo("old"), *core::Reference::parse(digest.str())));
  before_links({[&] { tombstone(digest); },
                [&] {
                  delete_bytes(digest);
                  clear(digest);
                }});
  make_registry();  // no manifest cache to hide the bytes
  auto put = put_manifest("app");
  ASSERT_TRUE(put) << put.error().message;
  EXPECT_EQ(attempts_, 2u);
  EXPECT_EQ(stored(digest), kManifest);
  make_registry();
  auto got = registry_->get_manifest(testing::repo("app"), *core::Reference::parse("v1"));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got->bytes, kManifest);
}

TEST_F(RegistryGcTest, ARefusedManifestPutReturnsAtOnce) {
  const auto digest = Digest::of(kManifest);
  ASSERT_TRUE(registry_->put_manifest(testing::repo("old"), *core::Reference::parse("v1"),
                                      std::string(kManifest), kIndexType, {}));
  ASSERT_TRUE(
      registry_->delete_manifest(testing::repo("old"), *core::Reference::parse(digest.str())));
  options_.collection_wait = 1h;
  make_registry();
  before_links({[&] { tombstone(digest); }});
  auto put = registry_->put_manifest(testing::repo("app"), *core::Reference::parse("v1"),
                                     std::string(kManifest), kIndexType, {});
  ASSERT_FALSE(put);
  EXPECT_EQ(attempts_, 1u);
  EXPECT_TRUE(put.error().is(core::ErrorReason::kBlobBeingCollected));
  EXPECT_EQ(put.error().retry_after, std::chrono::seconds(1));
  EXPECT_FALSE(registry_->stat_manifest(testing::repo("app"), *core::Reference::parse("v1")));
}

// Between attempts the lease keeps the upload, published: nobody may append to it (its
// storage may be the blob's) or take it, and when the holder gives up it is gone.
TEST_F(RegistryGcTest, ARefusedAttemptKeepsThePublishedUploadToItself) {
  make_orphan(kContent);
  const auto digest = Digest::of(kContent);
  auto lease = std::optional(leased_upload(kContent));
  const auto id = lease->id();
  before_links({[&] { tombstone(digest); }});

  auto refused = registry_->try_finish_upload(*lease, digest);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().is(core::ErrorReason::kBlobBeingCollected));
  ASSERT_TRUE(lease->held());
  EXPECT_EQ(lease->append(bytes_of("more")).error().code, ErrorCode::kInternal);
  EXPECT_EQ(registry_->open_upload(testing::repo("app"), id).error().code,
            ErrorCode::kBlobUploadInvalid);
  lease->release();
  EXPECT_EQ(registry_->open_upload(testing::repo("app"), id).error().code,
            ErrorCode::kBlobUploadInvalid)
      << "a published upload is never leased again";
  EXPECT_EQ(stored(digest), kContent) << "the blob was not touched";
}

TEST_F(RegistryGcTest, MountOfABlobCollectedMeanwhileFallsBackToAnUpload) {
  auto blob = push("from", kContent);
  ASSERT_TRUE(blob);
  const auto digest = Digest::of(kContent);
  // Between the mount's look at `from` and its link, the link goes and the bytes with it.
  before_links({[&] {
    clock_.advance(48h);
    ASSERT_TRUE(*gc().delete_unreferenced_link(testing::repo("from"), digest, clock_.now()));
    tombstone(digest);
    delete_bytes(digest);
    clear(digest);
  }});
  auto mounted = registry_->mount_blob(testing::repo("to"), digest, testing::repo("from"));
  ASSERT_TRUE(mounted) << mounted.error().message;
  EXPECT_FALSE(*mounted) << "nothing to mount: the client uploads instead";
  EXPECT_FALSE(registry_->stat_blob(testing::repo("to"), digest));
}

}  // namespace
}  // namespace berth::registry
