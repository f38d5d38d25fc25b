// The GcStore contract suite (gc_store.hpp): the reachability rules, the re-check each deletion
// makes inside its transaction, the tombstone protocol's refusal to link, the lease, and the
// dry-run plan. Run against every implementation through a Backend factory, like the
// MetadataStore suite. Each race between a collector's listing and its deletion is forced in
// order: list, let the "push" happen, then delete, and the deletion must lose.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "core/media_type.hpp"
#include "meta/gc_store.hpp"
#include "meta/metadata_store.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "testing/fake_clock.hpp"
#include "testing/pg_test_database.hpp"

namespace berth::meta {
namespace {

using namespace std::chrono_literals;

// ---- backends

struct TestStores {
  std::shared_ptr<MetadataStore> metadata;
  std::shared_ptr<GcStore> gc;
};

class Backend {
 public:
  virtual ~Backend() = default;
  [[nodiscard]] virtual Result<TestStores> open() = 0;
};

Result<TestStores> open_sqlite(const SqliteOptions& options) {
  auto stores = open_sqlite_stores(options);
  if (!stores) {
    return std::unexpected(stores.error());
  }
  return TestStores{stores->metadata, stores->gc};
}

class SqliteMemoryBackend final : public Backend {
 public:
  Result<TestStores> open() override { return open_sqlite(SqliteOptions{.path = ":memory:"}); }
};

class SqliteFileBackend final : public Backend {
 public:
  SqliteFileBackend() {
    std::string pattern = (std::filesystem::temp_directory_path() / "berth-gc-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    dir_ = pattern;
  }
  ~SqliteFileBackend() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  Result<TestStores> open() override {
    return open_sqlite(SqliteOptions{.path = (dir_ / "berth.db").string(), .readers = 2});
  }

 private:
  std::filesystem::path dir_;
};

// A schema of its own on the test PostgreSQL.
class PostgresBackend final : public Backend {
 public:
  explicit PostgresBackend(std::unique_ptr<PgTestDatabase> database)
      : database_(std::move(database)) {}
  Result<TestStores> open() override {
    auto stores = open_pg_stores(database_->options());
    if (!stores) {
      return std::unexpected(stores.error());
    }
    return TestStores{stores->metadata, stores->gc};
  }

 private:
  std::unique_ptr<PgTestDatabase> database_;
};

struct BackendFactory {
  std::string name;
  std::function<std::unique_ptr<Backend>()> make;
};
void PrintTo(const BackendFactory& factory, std::ostream* out) { *out << factory.name; }

// ---- helpers

template <class T>
T must(Result<T> result) {
  if (!result) {
    throw std::runtime_error("unexpected error: " + result.error().message);
  }
  if constexpr (!std::is_void_v<T>) {
    return std::move(*result);
  }
}

core::RepositoryName repo(std::string_view name) {
  return core::RepositoryName::parse(name).value();
}
core::Tag tag(std::string_view name) { return core::Tag::parse(name).value(); }
BlobRef blob(std::string_view content) {
  return BlobRef{core::Digest::of(content), content.size()};
}

// "repo@digest" of candidates, sorted, for comparisons that read well when they fail.
template <class Candidate>
std::vector<std::string> names(const std::vector<Candidate>& candidates) {
  std::vector<std::string> out;
  for (const auto& candidate : candidates) {
    out.push_back(candidate.repository.str() + "@" + candidate.digest.str());
  }
  std::sort(out.begin(), out.end());
  return out;
}
std::vector<std::string> names(const std::vector<OrphanBlob>& blobs) {
  std::vector<std::string> out;
  for (const auto& orphan : blobs) {
    out.push_back(orphan.digest.str());
  }
  std::sort(out.begin(), out.end());
  return out;
}
std::vector<std::string> sorted(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  return values;
}
std::string at(std::string_view repository, const core::Digest& digest) {
  return std::string(repository) + "@" + digest.str();
}

constexpr std::size_t kAll = 1000;

class GcStoreContract : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    if (IsSkipped()) {
      return;
    }
    auto stores = must(backend_->open());
    meta_ = stores.metadata;
    gc_ = stores.gc;
  }

  MetadataStore& meta() { return *meta_; }
  GcStore& gc() { return *gc_; }

  void link(std::string_view repository, const BlobRef& ref) {
    must(meta().link_blob(repo(repository), ref, clock_.now()));
  }

  // Stores a manifest with bytes `content` naming `blobs` (linked first) and `children`.
  core::Digest put(std::string_view repository, std::string_view content,
                   std::vector<BlobRef> blobs, std::vector<std::string_view> tags = {},
                   std::vector<core::Digest> children = {},
                   std::optional<core::Digest> subject = std::nullopt) {
    for (const auto& ref : blobs) {
      link(repository, ref);
    }
    ManifestPut manifest{
        .repository = repo(repository),
        .manifest = ManifestRecord{.digest = core::Digest::of(content),
                                   .media_type = std::string(core::media_type::kOciManifest),
                                   .size = content.size(),
                                   .artifact_type = {},
                                   .subject = subject,
                                   .annotations_json = {},
                                   .created = clock_.now()},
        .blobs = std::move(blobs),
        .children = std::move(children),
        .tags = {}};
    for (auto name : tags) {
      manifest.tags.push_back(tag(name));
    }
    auto outcome = must(meta().put_manifest(manifest));
    EXPECT_TRUE(outcome.stored()) << "put of " << content;
    return manifest.manifest.digest;
  }

  // The cutoffs of a collection now with the given ages.
  core::TimePoint ago(std::chrono::milliseconds age) const { return clock_.now() - age; }

  std::vector<std::string> unreachable(std::chrono::milliseconds untagged_after) {
    return names(must(gc().unreachable_manifests(ago(untagged_after), kAll)));
  }
  std::vector<std::string> unreferenced(std::chrono::milliseconds grace) {
    return names(must(gc().unreferenced_links(ago(grace), kAll)));
  }
  std::vector<std::string> orphans() { return names(must(gc().orphan_blobs(kAll))); }

  // Runs the deleting steps the way a collector does, returning what each removed.
  struct Removed {
    std::vector<std::string> manifests;
    std::vector<std::string> links;
    std::vector<std::string> blobs;
  };
  Removed collect(std::optional<std::chrono::milliseconds> untagged_after,
                  std::chrono::milliseconds grace) {
    Removed removed;
    if (untagged_after) {
      for (const auto& candidate : must(gc().unreachable_manifests(ago(*untagged_after), kAll))) {
        if (must(gc().delete_unreachable_manifest(candidate.repository, candidate.digest,
                                                  ago(*untagged_after)))) {
          removed.manifests.push_back(at(candidate.repository.str(), candidate.digest));
        }
      }
    }
    for (const auto& candidate : must(gc().unreferenced_links(ago(grace), kAll))) {
      if (must(gc().delete_unreferenced_link(candidate.repository, candidate.digest, ago(grace)))) {
        removed.links.push_back(at(candidate.repository.str(), candidate.digest));
      }
    }
    for (const auto& orphan : must(gc().orphan_blobs(kAll))) {
      if (must(gc().tombstone_orphan_blob(orphan.digest, clock_.now()))) {
        must(gc().clear_tombstone(orphan.digest));
        removed.blobs.push_back(orphan.digest.str());
      }
    }
    std::sort(removed.manifests.begin(), removed.manifests.end());
    std::sort(removed.links.begin(), removed.links.end());
    std::sort(removed.blobs.begin(), removed.blobs.end());
    return removed;
  }

  static bool being_collected(const Result<void>& result) {
    return !result && result.error().code == core::ErrorCode::kUnavailable &&
           result.error().is(core::ErrorReason::kBlobBeingCollected);
  }

  std::unique_ptr<Backend> backend_;
  std::shared_ptr<MetadataStore> meta_;
  std::shared_ptr<GcStore> gc_;
  testing::FakeClock clock_;
};

// ---- manifests

TEST_P(GcStoreContract, TaggedManifestsAndYoungOnesAreLive) {
  auto tagged = put("app", "tagged", {blob("layer a")}, {"v1"});
  auto untagged = put("app", "untagged", {blob("layer b")});
  EXPECT_TRUE(unreachable(1h).empty()) << "both are younger than an hour";

  clock_.advance(2h);
  EXPECT_EQ(unreachable(1h), std::vector<std::string>{at("app", untagged)});
  EXPECT_TRUE(unreachable(3h).empty());
  (void)tagged;
}

TEST_P(GcStoreContract, ChildrenOfALiveIndexAreLiveAndOfADeadIndexAreNot) {
  auto amd = put("app", "amd64", {blob("amd layer")});
  auto arm = put("app", "arm64", {blob("arm layer")});
  auto index = put("app", "index", {}, {"latest"}, {amd, arm});
  auto old_child = put("app", "old child", {blob("old layer")});
  auto old_index = put("app", "old index", {}, {}, {old_child});
  clock_.advance(2h);

  EXPECT_EQ(unreachable(1h), sorted({at("app", old_child), at("app", old_index)}))
      << "index " << index.str() << " keeps its children";
}

TEST_P(GcStoreContract, ChildrenOfAnIndexInAnotherRepositoryDoNotCount) {
  auto child = put("one", "child", {blob("layer")});
  put("two", "child", {blob("layer")});
  put("one", "index", {}, {"latest"}, {child});
  clock_.advance(2h);
  EXPECT_EQ(unreachable(1h), std::vector<std::string>{at("two", child)});
}

TEST_P(GcStoreContract, ReferrersLiveWithTheirSubject) {
  auto subject = put("app", "subject", {blob("layer")}, {"v1"});
  auto signature = put("app", "signature", {}, {}, {}, subject);
  auto attestation_of_signature = put("app", "sig attestation", {}, {}, {}, signature);
  auto orphan_subject = core::Digest::of("never pushed");
  auto orphan_referrer = put("app", "orphan referrer", {}, {}, {}, orphan_subject);
  auto dead_subject = put("app", "dead subject", {blob("dead layer")});
  auto dead_referrer = put("app", "dead referrer", {}, {}, {}, dead_subject);
  clock_.advance(2h);

  EXPECT_EQ(unreachable(1h),
            sorted({at("app", orphan_referrer), at("app", dead_subject), at("app", dead_referrer)}))
      << "signature " << signature.str() << " and its attestation "
      << attestation_of_signature.str() << " live with their subject";
}

TEST_P(GcStoreContract, DeletingAnUnreachableManifestTakesItsOwnLinkAndItsReferences) {
  auto layer = blob("layer");
  auto manifest = put("app", "manifest", {layer});
  clock_.advance(2h);

  ASSERT_TRUE(must(gc().delete_unreachable_manifest(repo("app"), manifest, ago(1h))));
  EXPECT_FALSE(must(meta().get_manifest(repo("app"), manifest)));
  EXPECT_FALSE(must(meta().linked_blob(repo("app"), manifest))) << "the own-bytes link went";
  EXPECT_TRUE(must(meta().linked_blob(repo("app"), layer.digest)))
      << "the layer's link is the link step's";
  EXPECT_EQ(unreferenced(1h), std::vector<std::string>{at("app", layer.digest)})
      << "nothing names the layer any more";
  EXPECT_FALSE(must(gc().delete_unreachable_manifest(repo("app"), manifest, ago(1h))))
      << "already gone";
}

TEST_P(GcStoreContract, OwnLinkStaysWhenAnotherManifestNamesTheBytesAsABlob) {
  auto inner = put("app", "inner", {});
  // An artifact whose layer is the inner manifest's bytes.
  put("app", "outer", {blob("inner")}, {"v1"});
  clock_.advance(2h);
  ASSERT_TRUE(must(gc().delete_unreachable_manifest(repo("app"), inner, ago(1h))));
  EXPECT_TRUE(must(meta().linked_blob(repo("app"), inner)));
}

TEST_P(GcStoreContract, PushingAManifestAgainMakesItYoungAgain) {
  auto manifest = put("app", "manifest", {blob("layer")});
  clock_.advance(2h);
  ASSERT_EQ(unreachable(1h), std::vector<std::string>{at("app", manifest)});
  put("app", "manifest", {blob("layer")});
  EXPECT_TRUE(unreachable(1h).empty());
  EXPECT_FALSE(must(gc().delete_unreachable_manifest(repo("app"), manifest, ago(1h))));
}

TEST_P(GcStoreContract, RaceATagArrivesBetweenListingAndDeleting) {
  auto manifest = put("app", "manifest", {blob("layer")});
  clock_.advance(2h);
  ASSERT_EQ(unreachable(1h), std::vector<std::string>{at("app", manifest)});

  put("app", "manifest", {blob("layer")}, {"v1"});  // the push that wins
  clock_.advance(2h);                               // old again, but tagged now

  EXPECT_FALSE(must(gc().delete_unreachable_manifest(repo("app"), manifest, ago(1h))));
  EXPECT_TRUE(must(meta().resolve_tag(repo("app"), tag("v1"))));
}

TEST_P(GcStoreContract, RaceAnIndexNamesTheCandidateBetweenListingAndDeleting) {
  auto child = put("app", "child", {blob("layer")});
  clock_.advance(2h);
  ASSERT_EQ(unreachable(1h), std::vector<std::string>{at("app", child)});

  // A tagged index, backdated so that only its tag makes it (and the child) live.
  ManifestPut index{
      .repository = repo("app"),
      .manifest = ManifestRecord{.digest = core::Digest::of("index"),
                                 .media_type = std::string(core::media_type::kOciIndex),
                                 .size = 5,
                                 .artifact_type = {},
                                 .subject = std::nullopt,
                                 .annotations_json = {},
                                 .created = ago(3h)},
      .blobs = {},
      .children = {child},
      .tags = {tag("latest")}};
  ASSERT_TRUE(must(meta().put_manifest(index)).stored());

  EXPECT_FALSE(must(gc().delete_unreachable_manifest(repo("app"), child, ago(1h))));
  EXPECT_TRUE(must(meta().get_manifest(repo("app"), child)));
}

TEST_P(GcStoreContract, RaceAReferrerTagArrivesForTheSubjectsReferrer) {
  auto subject = put("app", "subject", {});
  auto referrer = put("app", "referrer", {}, {}, {}, subject);
  clock_.advance(2h);
  ASSERT_EQ(unreachable(1h), sorted({at("app", subject), at("app", referrer)}));
  // Tagging the subject revives its referrer too.
  put("app", "subject", {}, {"v1"});
  clock_.advance(2h);
  EXPECT_FALSE(must(gc().delete_unreachable_manifest(repo("app"), referrer, ago(1h))));
}

// ---- links

TEST_P(GcStoreContract, LinksAreLiveWhileAManifestOfTheirRepositoryNamesThemOrWhileYoung) {
  auto named = blob("named");
  auto loose = blob("loose");
  put("app", "manifest", {named});
  link("app", loose);
  link("other", named);  // the same bytes, in a repository with no manifest naming them
  EXPECT_TRUE(unreferenced(1h).empty()) << "everything is younger than the grace";

  clock_.advance(2h);
  EXPECT_EQ(unreferenced(1h), sorted({at("app", loose.digest), at("other", named.digest)}))
      << "the manifest's own-bytes link and the named layer are live";
}

TEST_P(GcStoreContract, DeletingALinkRechecksItsReferences) {
  auto layer = blob("layer");
  link("app", layer);
  clock_.advance(2h);
  ASSERT_EQ(unreferenced(1h), std::vector<std::string>{at("app", layer.digest)});

  // Race: a manifest naming the layer is put between listing and deleting.
  ManifestPut manifest{
      .repository = repo("app"),
      .manifest = ManifestRecord{.digest = core::Digest::of("m"),
                                 .media_type = std::string(core::media_type::kOciManifest),
                                 .size = 1,
                                 .artifact_type = {},
                                 .subject = std::nullopt,
                                 .annotations_json = {},
                                 .created = ago(3h)},
      .blobs = {layer},
      .children = {},
      .tags = {}};
  ASSERT_TRUE(must(meta().put_manifest(manifest)).stored());

  EXPECT_FALSE(must(gc().delete_unreferenced_link(repo("app"), layer.digest, ago(1h))));
  EXPECT_TRUE(must(meta().linked_blob(repo("app"), layer.digest)));
}

TEST_P(GcStoreContract, RaceTheBlobIsUploadedAgainBetweenListingAndDeleting) {
  auto layer = blob("layer");
  link("app", layer);
  clock_.advance(2h);
  ASSERT_EQ(unreferenced(1h), std::vector<std::string>{at("app", layer.digest)});

  link("app", layer);  // a push uploads it again: the link is young again

  EXPECT_FALSE(must(gc().delete_unreferenced_link(repo("app"), layer.digest, ago(1h))));
  EXPECT_TRUE(must(meta().linked_blob(repo("app"), layer.digest)));
  clock_.advance(2h);
  EXPECT_TRUE(must(gc().delete_unreferenced_link(repo("app"), layer.digest, ago(1h))));
  EXPECT_FALSE(must(meta().linked_blob(repo("app"), layer.digest)));
}

// ---- blobs and tombstones

TEST_P(GcStoreContract, SharedBlobsAreOrphanedOnlyWhenTheLastLinkGoes) {
  auto shared = blob("shared");
  link("one", shared);
  link("two", shared);
  clock_.advance(2h);
  ASSERT_TRUE(must(gc().delete_unreferenced_link(repo("one"), shared.digest, ago(1h))));
  EXPECT_TRUE(orphans().empty()) << "two still links it";
  EXPECT_FALSE(must(gc().tombstone_orphan_blob(shared.digest, clock_.now())));
  ASSERT_TRUE(must(gc().delete_unreferenced_link(repo("two"), shared.digest, ago(1h))));
  EXPECT_EQ(orphans(), std::vector<std::string>{shared.digest.str()});
}

TEST_P(GcStoreContract, TombstonesABatchOfOrphansInOneCallAndKeepsWhatIsLinked) {
  auto first = blob("first");
  auto second = blob("second");
  auto kept = blob("kept");
  for (const auto* b : {&first, &second, &kept}) {
    link("app", *b);
  }
  clock_.advance(2h);
  for (const auto* b : {&first, &second}) {
    ASSERT_TRUE(must(gc().delete_unreferenced_link(repo("app"), b->digest, ago(1h))));
  }
  // "kept" is still linked: the batch leaves it, and tombstones the others in the order given.
  const std::vector<core::Digest> asked = {second.digest, kept.digest, first.digest};
  EXPECT_EQ(must(gc().tombstone_orphan_blobs(asked, clock_.now())),
            (std::vector<core::Digest>{second.digest, first.digest}));
  auto tombstones = must(gc().tombstones());
  std::sort(tombstones.begin(), tombstones.end(),
            [](const core::Digest& a, const core::Digest& b) { return a.str() < b.str(); });
  auto expected = std::vector<core::Digest>{first.digest, second.digest};
  std::sort(expected.begin(), expected.end(),
            [](const core::Digest& a, const core::Digest& b) { return a.str() < b.str(); });
  EXPECT_EQ(tombstones, expected);
  EXPECT_TRUE(orphans().empty());
  EXPECT_TRUE(must(meta().known_blob(kept.digest)));
  EXPECT_FALSE(must(meta().known_blob(first.digest)));
  // An empty batch is no error.
  EXPECT_TRUE(must(gc().tombstone_orphan_blobs({}, clock_.now())).empty());
}

TEST_P(GcStoreContract, TombstoneProtocolRefusesLinksUntilCleared) {
  auto layer = blob("layer");
  link("app", layer);
  clock_.advance(2h);
  ASSERT_TRUE(must(gc().delete_unreferenced_link(repo("app"), layer.digest, ago(1h))));
  ASSERT_EQ(orphans(), std::vector<std::string>{layer.digest.str()});

  ASSERT_TRUE(must(gc().tombstone_orphan_blob(layer.digest, clock_.now())));
  EXPECT_TRUE(orphans().empty()) << "the row went with the tombstone";
  EXPECT_EQ(must(gc().tombstones()), std::vector<core::Digest>{layer.digest});
  EXPECT_TRUE(must(gc().blob_known(layer.digest))) << "the sweep must leave it alone";
  EXPECT_FALSE(must(meta().known_blob(layer.digest)));

  // Every way of linking refuses while the bytes are being deleted.
  EXPECT_TRUE(being_collected(meta().link_blob(repo("app"), layer, clock_.now())));
  core::UploadId upload = core::UploadId::generate();
  must(meta().create_upload(UploadRecord{upload, repo("app"), clock_.now(), clock_.now(), 0, ""}));
  EXPECT_TRUE(being_collected(meta().complete_upload(upload, layer, clock_.now())));
  EXPECT_TRUE(must(meta().get_upload(upload))) << "the refused completion kept the upload";
  ManifestPut manifest{
      .repository = repo("app"),
      .manifest = ManifestRecord{.digest = layer.digest,
                                 .media_type = std::string(core::media_type::kOciManifest),
                                 .size = layer.size,
                                 .artifact_type = {},
                                 .subject = std::nullopt,
                                 .annotations_json = {},
                                 .created = clock_.now()},
      .blobs = {},
      .children = {},
      .tags = {tag("v1")}};
  auto refused = meta().put_manifest(manifest);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().is(core::ErrorReason::kBlobBeingCollected))
      << refused.error().message;
  EXPECT_FALSE(must(meta().resolve_tag(repo("app"), tag("v1")))) << "nothing of it was written";

  must(gc().clear_tombstone(layer.digest));
  EXPECT_TRUE(must(gc().tombstones()).empty());
  EXPECT_FALSE(must(gc().blob_known(layer.digest)));
  must(meta().complete_upload(upload, layer, clock_.now()));
  EXPECT_TRUE(must(meta().linked_blob(repo("app"), layer.digest)));
}

TEST_P(GcStoreContract, RaceALinkArrivesBetweenListingOrphansAndTombstoning) {
  auto layer = blob("layer");
  link("app", layer);
  clock_.advance(2h);
  ASSERT_TRUE(must(gc().delete_unreferenced_link(repo("app"), layer.digest, ago(1h))));
  ASSERT_EQ(orphans(), std::vector<std::string>{layer.digest.str()});

  link("other", layer);  // a push links the digest first

  EXPECT_FALSE(must(gc().tombstone_orphan_blob(layer.digest, clock_.now())));
  EXPECT_TRUE(must(gc().tombstones()).empty());
  EXPECT_TRUE(must(meta().linked_blob(repo("other"), layer.digest)));
}

TEST_P(GcStoreContract, ABlobAManifestStillNamesIsNeverOrphaned) {
  auto layer = blob("layer");
  put("app", "manifest", {layer}, {"v1"});
  // The client deletes the layer's link by hand; the manifest still names it.
  ASSERT_TRUE(must(meta().unlink_blob(repo("app"), layer.digest)));
  EXPECT_TRUE(orphans().empty());
  EXPECT_FALSE(must(gc().tombstone_orphan_blob(layer.digest, clock_.now())));
}

TEST_P(GcStoreContract, MountingChecksTheSourceInTheLinkingTransaction) {
  auto layer = blob("layer");
  link("from", layer);
  EXPECT_EQ(must(meta().mount_blob(repo("to"), layer.digest, repo("from"), clock_.now())),
            layer.size);
  EXPECT_TRUE(must(meta().linked_blob(repo("to"), layer.digest)));

  // The source lost its link (and the bytes went) after the mounter looked: nothing is linked.
  auto other = blob("other");
  EXPECT_FALSE(must(meta().mount_blob(repo("to"), other.digest, repo("from"), clock_.now())));
  EXPECT_FALSE(must(meta().linked_blob(repo("to"), other.digest)));
}

TEST_P(GcStoreContract, AFileNothingKnowsCanBeTombstoned) {
  auto stray = core::Digest::of("stray file");
  EXPECT_FALSE(must(gc().blob_known(stray)));
  EXPECT_TRUE(must(gc().tombstone_orphan_blob(stray, clock_.now())));
  EXPECT_TRUE(must(gc().blob_known(stray)));
  EXPECT_EQ(must(gc().tombstones()), std::vector<core::Digest>{stray});
  must(gc().clear_tombstone(stray));
  EXPECT_FALSE(must(gc().blob_known(stray)));
}

// ---- lease

TEST_P(GcStoreContract, LeaseKeepsToOneHolderUntilReleasedOrExpired) {
  EXPECT_TRUE(must(gc().acquire_lease("gc", "first", clock_.now(), 60s)));
  EXPECT_FALSE(must(gc().acquire_lease("gc", "second", clock_.now(), 60s)));
  EXPECT_TRUE(must(gc().acquire_lease("other", "second", clock_.now(), 60s)))
      << "leases are per name";

  clock_.advance(50s);
  EXPECT_TRUE(must(gc().acquire_lease("gc", "first", clock_.now(), 60s))) << "renewed";
  clock_.advance(50s);
  EXPECT_FALSE(must(gc().acquire_lease("gc", "second", clock_.now(), 60s)))
      << "the renewal counts from when it was made";

  must(gc().release_lease("gc", "second"));  // not its lease: no effect
  EXPECT_FALSE(must(gc().acquire_lease("gc", "second", clock_.now(), 60s)));
  must(gc().release_lease("gc", "first"));
  EXPECT_TRUE(must(gc().acquire_lease("gc", "second", clock_.now(), 60s)));

  clock_.advance(61s);  // second crashed
  EXPECT_TRUE(must(gc().acquire_lease("gc", "third", clock_.now(), 60s)));
  EXPECT_FALSE(must(gc().acquire_lease("gc", "second", clock_.now(), 60s)))
      << "the crashed holder lost it";
}

TEST_P(GcStoreContract, LeaseHolderNamesWhoHoldsItUntilWhen) {
  EXPECT_FALSE(must(gc().lease_holder("gc")).has_value());
  ASSERT_TRUE(must(gc().acquire_lease("gc", "backup@host:7", clock_.now(), 60s)));
  auto held = must(gc().lease_holder("gc"));
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->holder, "backup@host:7");
  EXPECT_EQ(core::to_unix_ms(held->expires), core::to_unix_ms(clock_.now() + 60s));
  EXPECT_FALSE(must(gc().lease_holder("other")).has_value()) << "leases are per name";
  must(gc().release_lease("gc", "backup@host:7"));
  EXPECT_FALSE(must(gc().lease_holder("gc")).has_value());
}

// ---- plan

TEST_P(GcStoreContract, PlanWithoutUntaggedCutoffKeepsEveryManifest) {
  auto layer = blob("layer");
  put("app", "untagged", {layer});
  link("app", blob("loose"));
  clock_.advance(2h);
  auto plan = must(gc().plan(std::nullopt, ago(1h)));
  EXPECT_TRUE(plan.manifests.empty());
  EXPECT_EQ(names(plan.links), std::vector<std::string>{at("app", blob("loose").digest)});
  EXPECT_EQ(names(plan.blobs), std::vector<std::string>{blob("loose").digest.str()})
      << "its row goes once the link has";
  EXPECT_TRUE(must(meta().linked_blob(repo("app"), blob("loose").digest))) << "nothing changed";
}

TEST_P(GcStoreContract, PlanIsExactlyWhatTheStepsThenRemove) {
  // A mix: a tagged image sharing a layer with a dead one, a dead index with children, a
  // referrer of a dead subject, a loose upload, a shared blob across repositories, and the
  // odd case of a manifest whose bytes another doomed manifest names as a layer.
  auto shared = blob("shared layer");
  put("app", "tagged", {shared, blob("tagged layer")}, {"v1"});
  put("app", "dead", {shared, blob("dead layer")});
  auto child = put("app", "child", {blob("child layer")});
  put("app", "index", {}, {}, {child});
  auto subject = put("app", "subject", {blob("subject layer")});
  put("app", "referrer", {blob("signature")}, {}, {}, subject);
  link("app", blob("loose"));
  link("other", shared);
  put("other", "other dead", {blob("other layer")});
  auto inner = put("odd", "inner", {});
  put("odd", "outer", {blob("inner"), blob("outer layer")});
  clock_.advance(2h);
  put("app", "young", {blob("young layer")});
  link("app", blob("young loose"));

  // Untagged manifests kept first, so that the second round still has something to do.
  for (auto untagged : {std::optional<std::chrono::milliseconds>(std::nullopt),
                        std::optional<std::chrono::milliseconds>(1h)}) {
    SCOPED_TRACE(untagged ? "untagged after 1h" : "untagged kept");
    auto plan = must(gc().plan(untagged ? std::optional(ago(*untagged)) : std::nullopt, ago(1h)));
    auto removed = collect(untagged, 1h);
    EXPECT_EQ(names(plan.manifests), removed.manifests);
    EXPECT_EQ(names(plan.links), removed.links);
    EXPECT_EQ(names(plan.blobs), removed.blobs);
    if (untagged) {
      EXPECT_EQ(removed.manifests.size(), 8u);
      EXPECT_NE(std::find(removed.blobs.begin(), removed.blobs.end(), inner.str()),
                removed.blobs.end());
      EXPECT_EQ(std::find(removed.blobs.begin(), removed.blobs.end(), shared.digest.str()),
                removed.blobs.end())
          << "the tagged image keeps the shared layer";
    }
    auto after = must(gc().plan(untagged ? std::optional(ago(*untagged)) : std::nullopt, ago(1h)));
    EXPECT_TRUE(after.manifests.empty() && after.links.empty() && after.blobs.empty())
        << "a second run finds nothing";
  }
  EXPECT_TRUE(must(meta().resolve_tag(repo("app"), tag("v1"))));
  EXPECT_TRUE(must(meta().get_manifest(repo("app"), core::Digest::of("young"))));
  EXPECT_TRUE(must(meta().linked_blob(repo("app"), blob("young loose").digest)));
  EXPECT_TRUE(must(meta().linked_blob(repo("app"), shared.digest)));
}

INSTANTIATE_TEST_SUITE_P(
    Backends, GcStoreContract,
    ::testing::Values(
        BackendFactory{"SqliteMemory", [] { return std::make_unique<SqliteMemoryBackend>(); }},
        BackendFactory{"SqliteFile", [] { return std::make_unique<SqliteFileBackend>(); }}),
    [](const ::testing::TestParamInfo<BackendFactory>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Postgres, GcStoreContract,
    ::testing::Values(BackendFactory{"Postgres", make_pg_backend<Backend, PostgresBackend>}),
    [](const ::testing::TestParamInfo<BackendFactory>& info) { return info.param.name; });

}  // namespace
}  // namespace berth::meta
