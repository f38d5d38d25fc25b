// The registry's rules against the in-memory blob store and SQLite in memory: what a client
// can and cannot make the registry store, and what it gets back.
#include "registry/registry.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "meta/sqlite_metadata_store.hpp"
#include "testing/fake_clock.hpp"
#include "testing/faulty_blob_store.hpp"
#include "testing/memory_blob_store.hpp"
#include "testing/registry_test_data.hpp"

namespace berth::registry {
namespace {

using berth::testing::bytes_of;
using berth::testing::descriptor;

using core::Digest;
using core::ErrorCode;
using core::RepositoryName;
using ::testing::ElementsAre;

core::Reference make_ref(std::string_view text) { return *core::Reference::parse(text); }
core::Tag tag(std::string_view text) { return *core::Tag::parse(text); }

class RegistryTest : public ::testing::Test {
 protected:
  RegistryTest() {
    auto faulty =
        std::make_unique<testing::FaultyBlobStore>(testing::make_memory_blob_store(clock_));
    faulty_ = faulty.get();
    blobs_ = std::move(faulty);
    meta_ = std::move(*meta::open_sqlite_metadata_store(meta::SqliteOptions{":memory:"}));
    registry_ = std::make_unique<Registry>(*blobs_, *meta_, clock_, options_);
  }

  // A resumable upload of `content` into `repo`, acknowledged (its progress saved) and free.
  core::UploadId acknowledged_upload(const RepositoryName& repo, std::string_view content) {
    auto id = registry_->start_upload(repo);
    EXPECT_TRUE(id);
    auto lease = registry_->open_upload(repo, *id);
    EXPECT_TRUE(lease && lease->append(bytes_of(content)));
    EXPECT_TRUE(registry_->save_upload(*lease));
    return *id;
  }

  // A fresh Registry over the same stores: what a restarted process (or a replica) sees.
  void restart() { registry_ = std::make_unique<Registry>(*blobs_, *meta_, clock_, options_); }

  Digest push_blob(const RepositoryName& repo, std::string_view content) {
    auto lease = registry_->start_single_request_upload(repo);
    EXPECT_TRUE(lease.has_value());
    EXPECT_TRUE(lease->append(bytes_of(content)).has_value());
    auto blob = registry_->finish_upload(std::move(*lease), Digest::of(content));
    EXPECT_TRUE(blob.has_value()) << (blob ? "" : blob.error().message);
    return Digest::of(content);
  }

  // An OCI image manifest naming a config and the given layers.
  std::string image_manifest(const RepositoryName& repo, std::vector<std::string> layers,
                             std::string extra = "") {
    std::string config = R"({"architecture":"amd64","os":"linux"})";
    auto config_digest = push_blob(repo, config);
    std::string json =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
        R"("config":)" +
        descriptor("application/vnd.oci.image.config.v1+json", config_digest, config.size()) +
        R"(,"layers":[)";
    for (std::size_t i = 0; i < layers.size(); ++i) {
      auto digest = push_blob(repo, layers[i]);
      json += (i ? "," : "") +
              descriptor("application/vnd.oci.image.layer.v1.tar", digest, layers[i].size());
    }
    return json + "]" + extra + "}";
  }

  Result<PutManifestResult> put(
      const RepositoryName& repo, std::string_view reference, const std::string& manifest,
      std::string_view content_type = "application/vnd.oci.image.manifest.v1+json") {
    return registry_->put_manifest(repo, make_ref(reference), manifest, content_type, {});
  }

  testing::FakeClock clock_;
  RegistryOptions options_{.max_manifest_bytes = 64 * 1024,
                           .manifest_cache_bytes = 1024 * 1024,
                           .max_page_size = 1000,
                           .default_catalog_page = 3};
  testing::FaultyBlobStore* faulty_ = nullptr;
  std::unique_ptr<storage::BlobStore> blobs_;
  std::unique_ptr<meta::MetadataStore> meta_;
  std::unique_ptr<Registry> registry_;
};

// ---------------------------------------------------------------- blobs and uploads

TEST_F(RegistryTest, MonolithicUploadIsServedFromItsRepositoryOnly) {
  auto repo = testing::repo("team/app");
  auto digest = push_blob(repo, "hello blob");
  auto stat = registry_->stat_blob(repo, digest);
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->size, 10u);
  auto reader = registry_->open_blob(repo, digest);
  ASSERT_TRUE(reader);
  std::string out(10, '\0');
  auto n = (*reader)->read_at(0, std::as_writable_bytes(std::span(out)));
  ASSERT_TRUE(n);
  EXPECT_EQ(out, "hello blob");

  // The bytes are stored once, but another repository cannot read them by digest.
  auto other = registry_->stat_blob(testing::repo("other/app"), digest);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kBlobUnknown);
  EXPECT_FALSE(registry_->open_blob(testing::repo("other/app"), digest));
}

TEST_F(RegistryTest, WrongDigestIsRefusedAndNothingIsPublished) {
  auto repo = testing::repo("app");
  auto lease = registry_->start_single_request_upload(repo);
  ASSERT_TRUE(lease);
  ASSERT_TRUE(lease->append(bytes_of("actual bytes")));
  auto claimed = Digest::of("other bytes");
  auto result = registry_->finish_upload(std::move(*lease), claimed);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kDigestInvalid);
  EXPECT_FALSE(*blobs_->stat(claimed));
  EXPECT_FALSE(*blobs_->stat(Digest::of("actual bytes")));
  EXPECT_TRUE(blobs_->list_uploads()->empty());
}

TEST_F(RegistryTest, ChunkedUploadAcrossRequestsAndARestart) {
  auto repo = testing::repo("app");
  auto id = registry_->start_upload(repo);
  ASSERT_TRUE(id);
  {
    auto lease = registry_->open_upload(repo, *id);
    ASSERT_TRUE(lease);
    ASSERT_TRUE(lease->append(bytes_of("first,")));
    ASSERT_TRUE(registry_->save_upload(*lease));
  }
  EXPECT_EQ(*registry_->upload_size(repo, *id), 6u);
  // A new process has no hash state: it must rebuild it from the stored bytes.
  restart();
  EXPECT_EQ(*registry_->upload_size(repo, *id), 6u);
  auto lease = registry_->open_upload(repo, *id);
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->size(), 6u);
  ASSERT_TRUE(lease->append(bytes_of("second")));
  auto blob = registry_->finish_upload(std::move(*lease), Digest::of("first,second"));
  ASSERT_TRUE(blob) << blob.error().message;
  EXPECT_EQ(blob->size, 12u);
  EXPECT_TRUE(registry_->stat_blob(repo, Digest::of("first,second")));
  // The finished upload is gone.
  auto again = registry_->open_upload(repo, *id);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kBlobUploadUnknown);
}

TEST_F(RegistryTest, AnUploadIsUsedByOneRequestAtATime) {
  auto repo = testing::repo("app");
  auto id = registry_->start_upload(repo);
  auto first = registry_->open_upload(repo, *id);
  ASSERT_TRUE(first);
  auto second = registry_->open_upload(repo, *id);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kBlobUploadInvalid);
  *first = std::move(*first);  // self-move keeps the lease
  first = core::fail(ErrorCode::kInternal, "drop the lease");
  EXPECT_TRUE(registry_->open_upload(repo, *id));
}

TEST_F(RegistryTest, UploadsBelongToTheirRepository) {
  auto id = registry_->start_upload(testing::repo("a"));
  auto other = registry_->open_upload(testing::repo("b"), *id);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kBlobUploadUnknown);
  EXPECT_EQ(registry_->cancel_upload(testing::repo("b"), *id).error().code,
            ErrorCode::kBlobUploadUnknown);
  auto unknown = registry_->open_upload(testing::repo("a"), core::UploadId::generate());
  EXPECT_EQ(unknown.error().code, ErrorCode::kBlobUploadUnknown);
}

TEST_F(RegistryTest, CancelledUploadIsGone) {
  auto repo = testing::repo("app");
  auto id = registry_->start_upload(repo);
  ASSERT_TRUE(registry_->cancel_upload(repo, *id));
  EXPECT_EQ(registry_->open_upload(repo, *id).error().code, ErrorCode::kBlobUploadUnknown);
  EXPECT_TRUE(blobs_->list_uploads()->empty());
}

TEST_F(RegistryTest, Sha512DigestsAreVerified) {
  auto repo = testing::repo("app");
  auto lease = registry_->start_single_request_upload(repo);
  ASSERT_TRUE(lease->append(bytes_of("five twelve")));
  auto claimed = Digest::of("five twelve", core::DigestAlgorithm::kSha512);
  auto blob = registry_->finish_upload(std::move(*lease), claimed);
  ASSERT_TRUE(blob) << blob.error().message;
  EXPECT_EQ(blob->digest, claimed);
  EXPECT_TRUE(registry_->stat_blob(repo, claimed));
}

TEST_F(RegistryTest, MountLinksOnlyWhatTheSourceRepositoryHas) {
  auto digest = push_blob(testing::repo("src"), "shared layer");
  auto mounted = registry_->mount_blob(testing::repo("dst"), digest, testing::repo("src"));
  ASSERT_TRUE(mounted);
  ASSERT_TRUE(mounted->has_value());
  EXPECT_EQ((*mounted)->size, 12u);
  EXPECT_TRUE(registry_->stat_blob(testing::repo("dst"), digest));

  // Naming a repository that does not hold the blob mounts nothing, even though the bytes exist.
  auto refused = registry_->mount_blob(testing::repo("third"), digest, testing::repo("empty"));
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->has_value());
  EXPECT_FALSE(registry_->stat_blob(testing::repo("third"), digest));
}

TEST_F(RegistryTest, DeleteBlobKeepsManifestsAndTheBlobsTheyName) {
  auto repo = testing::repo("app");
  auto manifest = image_manifest(repo, {"layer one"});
  auto put = this->put(repo, "v1", manifest);
  ASSERT_TRUE(put) << put.error().message;
  auto as_blob = registry_->delete_blob(repo, put->digest);
  ASSERT_FALSE(as_blob);
  EXPECT_EQ(as_blob.error().code, ErrorCode::kBlobUnknown);
  EXPECT_THAT(as_blob.error().message, ::testing::HasSubstr("/manifests/" + put->digest.str()));
  auto used = registry_->delete_blob(repo, Digest::of("layer one"));
  ASSERT_FALSE(used);
  EXPECT_EQ(used.error().code, ErrorCode::kBlobInUse);
  EXPECT_THAT(used.error().message, ::testing::HasSubstr("used by image app:v1"));
  EXPECT_TRUE(registry_->get_manifest(repo, make_ref("v1")));
  EXPECT_TRUE(registry_->stat_blob(repo, Digest::of("layer one")));
}

TEST_F(RegistryTest, DeleteBlobUnlinksFromOneRepository) {
  auto digest = push_blob(testing::repo("a"), "bytes");
  ASSERT_TRUE(registry_->mount_blob(testing::repo("b"), digest, testing::repo("a")));
  ASSERT_TRUE(registry_->delete_blob(testing::repo("a"), digest));
  EXPECT_FALSE(registry_->stat_blob(testing::repo("a"), digest));
  EXPECT_TRUE(registry_->stat_blob(testing::repo("b"), digest));
  EXPECT_EQ(registry_->delete_blob(testing::repo("a"), digest).error().code,
            ErrorCode::kBlobUnknown);
}

TEST_F(RegistryTest, DiskFullDuringPublishPublishesNothingAndCanBeRetried) {
  auto repo = testing::repo("app");
  auto id = acknowledged_upload(repo, "payload");
  faulty_->fail_nth(testing::FaultyBlobStore::Op::kPublish, 1);
  auto failed = registry_->finish_upload(*registry_->open_upload(repo, id), Digest::of("payload"));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(registry_->stat_blob(repo, Digest::of("payload")));
  EXPECT_FALSE(*blobs_->stat(Digest::of("payload")));
  auto retried = registry_->finish_upload(*registry_->open_upload(repo, id), Digest::of("payload"));
  ASSERT_TRUE(retried) << retried.error().message;
  EXPECT_TRUE(registry_->stat_blob(repo, Digest::of("payload")));
}

TEST_F(RegistryTest, FailedAppendIsRehashedFromWhatWasWritten) {
  auto repo = testing::repo("app");
  auto id = registry_->start_upload(repo);
  faulty_->set_append_writes_half(true);
  faulty_->fail_nth(testing::FaultyBlobStore::Op::kAppend, 2);
  {
    auto lease = registry_->open_upload(repo, *id);
    ASSERT_TRUE(lease->append(bytes_of("0123")));
    // Half of "4567" reaches the disk before it "fills up".
    ASSERT_FALSE(lease->append(bytes_of("4567")));
  }
  auto lease = registry_->open_upload(repo, *id);
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->size(), 6u);
  ASSERT_TRUE(lease->append(bytes_of("67")));
  auto blob = registry_->finish_upload(std::move(*lease), Digest::of("01234567"));
  ASSERT_TRUE(blob) << blob.error().message;
}

// A request whose write fails (the disk filled up half-way through a chunk) gives back what
// it wrote: the upload holds what the client was told, and takes the rest from there.
TEST_F(RegistryTest, RollBackGivesBackWhatAFailedRequestWrote) {
  auto repo = testing::repo("app");
  auto id = acknowledged_upload(repo, "told ");
  faulty_->set_append_writes_half(true);
  faulty_->fail_nth(testing::FaultyBlobStore::Op::kAppend, 2);
  {
    auto lease = registry_->open_upload(repo, id);
    ASSERT_TRUE(lease->append(bytes_of("not ")));
    ASSERT_FALSE(lease->append(bytes_of("told either")));
    ASSERT_TRUE(lease->roll_back());
    EXPECT_EQ(lease->size(), 5u);
    ASSERT_TRUE(registry_->save_upload(*lease));
  }
  auto stored = blobs_->read_upload(id);
  ASSERT_TRUE(stored);
  EXPECT_EQ((*stored)->size(), 5u) << "nothing past what was acknowledged";
  EXPECT_EQ(registry_->upload_size(repo, id).value(), 5u);
  auto lease = registry_->open_upload(repo, id);
  ASSERT_TRUE(lease->append(bytes_of("and the rest")));
  auto blob = registry_->finish_upload(std::move(*lease), Digest::of("told and the rest"));
  ASSERT_TRUE(blob) << blob.error().message;
}

TEST_F(RegistryTest, AnUploadPastMaxBlobBytesIsRefusedBeforeItsBytesAreWritten) {
  options_.max_blob_bytes = 10;
  restart();
  auto lease = registry_->start_single_request_upload(testing::repo("app"));
  ASSERT_TRUE(lease);
  ASSERT_TRUE(lease->append(bytes_of("12345678")));
  EXPECT_TRUE(lease->admit(2));
  EXPECT_EQ(lease->admit(3).error().code, ErrorCode::kTooLarge);
  auto refused = lease->append(bytes_of("9ab"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kTooLarge);
  EXPECT_THAT(refused.error().message, ::testing::HasSubstr("uploads.max_size"));
  EXPECT_EQ(lease->size(), 8u);
  auto stored = blobs_->read_upload(lease->id());
  EXPECT_EQ((*stored)->size(), 8u);
  EXPECT_EQ(registry_->admit_upload(testing::repo("app"), Digest::of("x"), 11).error().code,
            ErrorCode::kTooLarge);
  EXPECT_TRUE(registry_->admit_upload(testing::repo("app"), Digest::of("x"), 10));
}

TEST_F(RegistryTest, BelowMinFreeBytesNewUploadsAreRefusedForAWhile) {
  options_.min_free_bytes = 1000;
  restart();
  auto repo = testing::repo("app");
  auto id = registry_->start_upload(repo);
  ASSERT_TRUE(id);
  faulty_->set_free_bytes(999);
  for (const auto& refused : {registry_->start_upload(repo).error(),
                              registry_->start_single_request_upload(repo).error()}) {
    EXPECT_EQ(refused.code, ErrorCode::kUnavailable);
    EXPECT_TRUE(refused.is(core::ErrorReason::kStorageLow));
    EXPECT_EQ(refused.retry_after, std::chrono::seconds(60));
    EXPECT_THAT(refused.message, ::testing::HasSubstr("storage.min_free"));
  }
  // An upload under way goes on (it may fail writing, and then gives its bytes back).
  EXPECT_TRUE(registry_->open_upload(repo, *id));
  // With an announced size, the bytes must leave min_free free.
  faulty_->set_free_bytes(1500);
  EXPECT_TRUE(registry_->start_upload(repo));
  EXPECT_TRUE(registry_->admit_upload(repo, Digest::of("x"), 500));
  EXPECT_TRUE(registry_->admit_upload(repo, Digest::of("x"), 501)
                  .error()
                  .is(core::ErrorReason::kStorageLow));
}

TEST_F(RegistryTest, StaleUploadsArePurgedRecordedOrNot) {
  auto repo = testing::repo("app");
  auto recorded = registry_->start_upload(repo);
  auto single = registry_->start_single_request_upload(repo);
  ASSERT_TRUE(single);
  auto single_id = single->id();
  single = core::fail(ErrorCode::kInternal, "the request died");  // lease dropped, file left
  clock_.advance(std::chrono::hours(2));
  auto fresh = registry_->start_upload(repo);
  auto purged = registry_->purge_stale_uploads(clock_.now() - std::chrono::hours(1));
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(*purged, 2u);
  EXPECT_FALSE(registry_->open_upload(repo, *recorded));
  EXPECT_TRUE(registry_->open_upload(repo, *fresh));
  auto left = *blobs_->list_uploads();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].id, *fresh);
  EXPECT_NE(left[0].id, single_id);
}

// ---------------------------------------------------------------- manifests

TEST_F(RegistryTest, ManifestIsStoredByteForByteAndFoundByTagAndDigest) {
  auto repo = testing::repo("app");
  // Whitespace and key order are the client's: the digest is over these exact bytes.
  auto manifest = image_manifest(repo, {"layer one"}) + "  \n";
  auto put_result = put(repo, "v1", manifest);
  ASSERT_TRUE(put_result) << put_result.error().message;
  EXPECT_EQ(put_result->digest, Digest::of(manifest));

  for (auto reference : {std::string("v1"), Digest::of(manifest).str()}) {
    auto got = registry_->get_manifest(repo, make_ref(reference));
    ASSERT_TRUE(got) << reference;
    EXPECT_EQ(*got->bytes, manifest);
    EXPECT_EQ(got->record.media_type, "application/vnd.oci.image.manifest.v1+json");
    EXPECT_EQ(got->record.size, manifest.size());
  }
  restart();  // from storage, not the cache
  EXPECT_EQ(*registry_->get_manifest(repo, make_ref("v1"))->bytes, manifest);
  // The manifest is also readable as a blob of its repository, as Distribution allows.
  EXPECT_TRUE(registry_->stat_blob(repo, Digest::of(manifest)));
}

TEST_F(RegistryTest, ManifestNamingAMissingBlobIsRefused) {
  auto repo = testing::repo("app");
  auto missing = Digest::of("never pushed");
  std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":)" +
      descriptor("application/vnd.oci.image.config.v1+json", missing, 12) + R"(,"layers":[]})";
  auto result = put(repo, "v1", manifest);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kManifestBlobUnknown);
  EXPECT_THAT(result.error().detail_json, ::testing::HasSubstr(missing.str()));
  EXPECT_FALSE(registry_->get_manifest(repo, make_ref("v1")));
}

TEST_F(RegistryTest, ManifestNamingABlobOfAnotherRepositoryIsRefused) {
  auto layer = push_blob(testing::repo("other"), "other's layer");
  auto repo = testing::repo("app");
  auto manifest = image_manifest(repo, {});
  // Swap in a layer that exists, but not in this repository.
  manifest.replace(
      manifest.find("\"layers\":[]"), 11,
      R"("layers":[)" + descriptor("application/vnd.oci.image.layer.v1.tar", layer, 13) + "]");
  auto result = put(repo, "v1", manifest);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kManifestBlobUnknown);
}

TEST_F(RegistryTest, ManifestWithAWrongBlobSizeIsRefused) {
  auto repo = testing::repo("app");
  auto manifest = image_manifest(repo, {"twelve bytes"});
  auto pos = manifest.rfind("\"size\":12");
  ASSERT_NE(pos, std::string::npos);
  manifest.replace(pos, 9, "\"size\":13");
  auto result = put(repo, "v1", manifest);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kManifestInvalid);
}

TEST_F(RegistryTest, DigestReferenceMustMatchTheBytes) {
  auto repo = testing::repo("app");
  auto manifest = image_manifest(repo, {"l"});
  auto result = put(repo, Digest::of("something else").str(), manifest);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kDigestInvalid);
  EXPECT_TRUE(put(repo, Digest::of(manifest).str(), manifest));
}

TEST_F(RegistryTest, OversizedManifestIsRefused) {
  auto repo = testing::repo("app");
  auto manifest = image_manifest(
      repo, {"l"}, R"(,"annotations":{"pad":")" + std::string(70 * 1024, 'x') + "\"}");
  auto result = put(repo, "big", manifest);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTooLarge);
}

TEST_F(RegistryTest, InvalidManifestIsRefused) {
  auto result = put(testing::repo("app"), "v1", "{not json");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kManifestInvalid);
}

TEST_F(RegistryTest, IndexNeedsItsChildrenInTheRepository) {
  auto repo = testing::repo("app");
  auto child = image_manifest(repo, {"amd64 layer"});
  auto child_digest = Digest::of(child);
  std::string index =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)" +
      descriptor("application/vnd.oci.image.manifest.v1+json", child_digest, child.size()) + "]}";
  auto refused = put(repo, "multi", index, "application/vnd.oci.image.index.v1+json");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kManifestBlobUnknown);

  ASSERT_TRUE(put(repo, child_digest.str(), child));
  auto stored = put(repo, "multi", index, "application/vnd.oci.image.index.v1+json");
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(registry_->get_manifest(repo, make_ref("multi"))->record.media_type,
            "application/vnd.oci.image.index.v1+json");
}

TEST_F(RegistryTest, SeveralTagsInOnePut) {
  auto repo = testing::repo("app");
  auto manifest = image_manifest(repo, {"l"});
  auto result =
      registry_->put_manifest(repo, make_ref(Digest::of(manifest).str()), manifest,
                              "application/vnd.oci.image.manifest.v1+json", {tag("a"), tag("b")});
  ASSERT_TRUE(result);
  EXPECT_THAT(registry_->list_tags(repo, std::nullopt, "")->names, ElementsAre("a", "b"));
}

TEST_F(RegistryTest, DeletingATagKeepsTheManifestAndItsOtherTags) {
  auto repo = testing::repo("app");
  auto manifest = image_manifest(repo, {"l"});
  ASSERT_TRUE(put(repo, "one", manifest));
  ASSERT_TRUE(put(repo, "two", manifest));
  ASSERT_TRUE(registry_->delete_manifest(repo, make_ref("one")));
  EXPECT_EQ(registry_->get_manifest(repo, make_ref("one")).error().code,
            ErrorCode::kManifestUnknown);
  EXPECT_TRUE(registry_->get_manifest(repo, make_ref("two")));
  EXPECT_TRUE(registry_->get_manifest(repo, make_ref(Digest::of(manifest).str())));
  EXPECT_EQ(registry_->delete_manifest(repo, make_ref("one")).error().code,
            ErrorCode::kManifestUnknown);
}

TEST_F(RegistryTest, DeletingByDigestRemovesTheManifestAndItsTags) {
  auto repo = testing::repo("app");
  auto manifest = image_manifest(repo, {"l"});
  ASSERT_TRUE(put(repo, "one", manifest));
  ASSERT_TRUE(registry_->delete_manifest(repo, make_ref(Digest::of(manifest).str())));
  EXPECT_FALSE(registry_->get_manifest(repo, make_ref("one")));
  EXPECT_FALSE(registry_->stat_manifest(repo, make_ref(Digest::of(manifest).str())));
  EXPECT_TRUE(registry_->list_tags(repo, std::nullopt, "")->names.empty());
}

// ---------------------------------------------------------------- discovery

TEST_F(RegistryTest, TagsArePagedInLexicalOrder) {
  auto repo = testing::repo("app");
  auto manifest = image_manifest(repo, {"l"});
  for (auto t : {"b", "a", "C", "10", "9"}) {
    ASSERT_TRUE(put(repo, t, manifest));
  }
  auto all = registry_->list_tags(repo, std::nullopt, "");
  EXPECT_THAT(all->names, ElementsAre("10", "9", "C", "a", "b"));
  EXPECT_FALSE(all->next_last);

  auto first = registry_->list_tags(repo, 2, "");
  EXPECT_THAT(first->names, ElementsAre("10", "9"));
  EXPECT_EQ(first->next_last, "9");
  auto second = registry_->list_tags(repo, 2, "9");
  EXPECT_THAT(second->names, ElementsAre("C", "a"));
  auto last = registry_->list_tags(repo, 2, "a");
  EXPECT_THAT(last->names, ElementsAre("b"));
  EXPECT_FALSE(last->next_last);
  // Exactly n left: no next page.
  EXPECT_FALSE(registry_->list_tags(repo, 1, "a")->next_last);

  auto none = registry_->list_tags(repo, 0, "");
  EXPECT_TRUE(none->names.empty());
  EXPECT_FALSE(none->next_last);
  EXPECT_EQ(registry_->list_tags(repo, 5000, "").error().code, ErrorCode::kPaginationInvalid);
}

// Whether the repository exists is asked only of an empty page (a page of tags proves it), so
// every way to an empty page answers NAME_UNKNOWN for a repository that is not there, and an
// empty page of one that is stays a page.
TEST_F(RegistryTest, TagsOfAnUnknownRepositoryIsNameUnknown) {
  const auto nope = testing::repo("nope");
  EXPECT_EQ(registry_->list_tags(nope, std::nullopt, "").error().code, ErrorCode::kNameUnknown);
  EXPECT_EQ(registry_->list_tags(nope, 2, "").error().code, ErrorCode::kNameUnknown);
  EXPECT_EQ(registry_->list_tags(nope, 0, "").error().code, ErrorCode::kNameUnknown);
  EXPECT_EQ(registry_->list_tags(nope, 5000, "").error().code, ErrorCode::kNameUnknown);
  EXPECT_EQ(registry_->list_tags(nope, 2, "a").error().code, ErrorCode::kNameUnknown);

  const auto app = testing::repo("app");
  ASSERT_TRUE(put(app, "v1", image_manifest(app, {"l"})));
  auto past_the_end = registry_->list_tags(app, 2, "v9");
  ASSERT_TRUE(past_the_end) << past_the_end.error().message;
  EXPECT_TRUE(past_the_end->names.empty());
  auto all_past_the_end = registry_->list_tags(app, std::nullopt, "v9");
  ASSERT_TRUE(all_past_the_end) << all_past_the_end.error().message;
  EXPECT_TRUE(all_past_the_end->names.empty());
}

TEST_F(RegistryTest, CatalogIsPagedFromMetadata) {
  for (auto r : {"b/x", "a", "c", "b/y"}) {
    ASSERT_TRUE(put(testing::repo(r), "v1", image_manifest(testing::repo(r), {r})));
  }
  // A repository with blobs but no manifest holds no image: the catalog leaves it out.
  push_blob(testing::repo("blobs-only"), "x");
  auto first = registry_->catalog(std::nullopt, "");  // default page of 3 in this fixture
  EXPECT_THAT(first->names, ElementsAre("a", "b/x", "b/y"));
  EXPECT_EQ(first->next_last, "b/y");
  auto rest = registry_->catalog(std::nullopt, "b/y");
  EXPECT_THAT(rest->names, ElementsAre("c"));
  EXPECT_FALSE(rest->next_last);
}

TEST_F(RegistryTest, FilteredCatalogFillsPagesFromFurtherBatches) {
  // 250 repositories, of which every third is visible: pages of 3 need several batches.
  std::vector<std::string> visible_names;
  for (int i = 0; i < 250; ++i) {
    char text[16];
    std::snprintf(text, sizeof text, "r%03d", i);
    auto repo = testing::repo(text);
    ASSERT_TRUE(put(repo, "v1", image_manifest(repo, {text})));
    if (i % 3 == 0) {
      visible_names.push_back(text);
    }
  }
  auto visible = [](const std::string& repo) { return (std::stoi(repo.substr(1)) % 3) == 0; };
  std::vector<std::string> walked;
  std::string last;
  for (int pages = 0; pages < 200; ++pages) {
    auto page = registry_->catalog(3, last, visible);
    ASSERT_TRUE(page) << page.error().message;
    walked.insert(walked.end(), page->names.begin(), page->names.end());
    if (!page->next_last) {
      break;
    }
    EXPECT_EQ(page->names.size(), 3u);
    last = *page->next_last;
  }
  EXPECT_EQ(walked, visible_names);
  // Nothing visible: an empty page, not an endless walk.
  auto none = registry_->catalog(3, "", [](const std::string&) { return false; });
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->names.empty());
  EXPECT_FALSE(none->next_last);
}

TEST_F(RegistryTest, ReferrersListManifestsWithASubject) {
  auto repo = testing::repo("app");
  auto subject_manifest = image_manifest(repo, {"l"});
  auto subject = Digest::of(subject_manifest);
  // The subject need not exist when the referrer is pushed.
  auto empty = push_blob(repo, "{}");
  auto referrer = [&](std::string_view artifact_type, std::string_view note) {
    return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
           R"("artifactType":")" +
           std::string(artifact_type) + R"(","config":)" +
           descriptor("application/vnd.oci.empty.v1+json", empty, 2) +
           R"(,"layers":[],"subject":)" +
           descriptor("application/vnd.oci.image.manifest.v1+json", subject,
                      subject_manifest.size()) +
           R"(,"annotations":{"note":")" + std::string(note) + R"("}})";
  };
  auto sbom = referrer("application/spdx+json", "sbom");
  auto sig = referrer("application/vnd.dev.cosign", "sig");
  auto sbom_put = put(repo, Digest::of(sbom).str(), sbom);
  ASSERT_TRUE(sbom_put) << sbom_put.error().message;
  EXPECT_EQ(sbom_put->subject, subject);
  ASSERT_TRUE(put(repo, Digest::of(sig).str(), sig));

  auto all = registry_->referrers(repo, subject, std::nullopt);
  ASSERT_TRUE(all);
  EXPECT_FALSE(all->filtered);
  auto index = boost::json::parse(all->json).as_object();
  EXPECT_EQ(index.at("mediaType").as_string(), "application/vnd.oci.image.index.v1+json");
  ASSERT_EQ(index.at("manifests").as_array().size(), 2u);

  auto filtered = registry_->referrers(repo, subject, std::string("application/spdx+json"));
  ASSERT_TRUE(filtered->filtered);
  auto only = boost::json::parse(filtered->json).at("manifests").as_array();
  ASSERT_EQ(only.size(), 1u);
  EXPECT_EQ(only[0].at("digest").as_string(), Digest::of(sbom).str());
  EXPECT_EQ(only[0].at("artifactType").as_string(), "application/spdx+json");
  EXPECT_EQ(only[0].at("annotations").at("note").as_string(), "sbom");
  EXPECT_EQ(only[0].at("size").as_int64(), static_cast<std::int64_t>(sbom.size()));

  // Another repository sees none of them; an unknown subject gives an empty index.
  auto elsewhere = registry_->referrers(testing::repo("other"), subject, std::nullopt);
  EXPECT_TRUE(boost::json::parse(elsewhere->json).at("manifests").as_array().empty());
}

}  // namespace
}  // namespace berth::registry
