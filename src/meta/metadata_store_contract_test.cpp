// The MetadataStore contract suite: one set of tests, run against every implementation through
// a Backend factory (SQLite in memory and on a file now; PostgreSQL joins by adding a Backend
// and one line to the instantiation). What is specific to one implementation (migrations,
// SQLite error mapping) is tested beside it, not here.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/media_type.hpp"
#include "meta/metadata_store.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "testing/fake_clock.hpp"
#include "testing/pg_test_database.hpp"

namespace berth::core {
// Readable failure messages; found by argument-dependent lookup.
void PrintTo(const Digest& digest, std::ostream* out) { *out << digest.str(); }
}  // namespace berth::core

namespace berth::meta {
namespace {

using namespace std::chrono_literals;

// ---- backends

// One database, empty when the Backend is made. open() may be called several times and opens
// the same database each time (for implementations that can: see persistent()).
class Backend {
 public:
  virtual ~Backend() = default;
  [[nodiscard]] virtual Result<std::unique_ptr<MetadataStore>> open() = 0;
  // Whether data written through one store is seen by another open() (false for a private
  // in-memory database, where each open() is a new empty database).
  virtual bool persistent() const = 0;
};

class SqliteMemoryBackend final : public Backend {
 public:
  Result<std::unique_ptr<MetadataStore>> open() override {
    return open_sqlite_metadata_store(SqliteOptions{.path = ":memory:"});
  }
  bool persistent() const override { return false; }
};

class SqliteFileBackend final : public Backend {
 public:
  SqliteFileBackend() {
    std::string pattern = (std::filesystem::temp_directory_path() / "berth-meta-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    dir_ = pattern;
  }
  ~SqliteFileBackend() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  Result<std::unique_ptr<MetadataStore>> open() override {
    return open_sqlite_metadata_store(
        SqliteOptions{.path = (dir_ / "berth.db").string(), .readers = 3});
  }
  bool persistent() const override { return true; }

 private:
  std::filesystem::path dir_;
};

// A schema of its own on the test PostgreSQL; every open() connects a new pool to it.
class PostgresBackend final : public Backend {
 public:
  explicit PostgresBackend(std::unique_ptr<PgTestDatabase> database)
      : database_(std::move(database)) {}
  Result<std::unique_ptr<MetadataStore>> open() override {
    return open_pg_metadata_store(database_->options());
  }
  bool persistent() const override { return true; }

 private:
  std::unique_ptr<PgTestDatabase> database_;
};

struct BackendFactory {
  std::string name;
  std::function<std::unique_ptr<Backend>()> make;
};
void PrintTo(const BackendFactory& factory, std::ostream* out) { *out << factory.name; }

// ---- helpers

// Unwraps a Result or fails the test with the store's message (GoogleTest reports the
// exception), which keeps the tests about behaviour rather than about error plumbing.
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
core::UploadId upload_id() { return core::UploadId::generate(); }

BlobRef blob(std::string_view content) {
  return BlobRef{core::Digest::of(content), content.size()};
}

std::vector<std::string> sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> digests_of(const std::vector<ManifestRecord>& records) {
  std::vector<std::string> digests;
  for (const auto& record : records) {
    digests.push_back(record.digest.str());
  }
  return digests;
}

class MetadataStoreContract : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    if (IsSkipped()) {
      return;
    }
    store_ = must(backend_->open());
  }

  MetadataStore& store() { return *store_; }

  void link(const core::RepositoryName& repository, const BlobRef& ref) {
    must(store().link_blob(repository, ref, clock_.now()));
  }

  // A manifest whose bytes are `content`, naming `blobs`.
  ManifestPut image(const core::RepositoryName& repository, std::string_view content,
                    std::vector<BlobRef> blobs, std::vector<core::Tag> tags = {}) {
    ManifestPut put{
        .repository = repository,
        .manifest = ManifestRecord{.digest = core::Digest::of(content),
                                   .media_type = std::string(core::media_type::kOciManifest),
                                   .size = content.size(),
                                   .artifact_type = {},
                                   .subject = std::nullopt,
                                   .annotations_json = {},
                                   .created = clock_.now()},
        .blobs = std::move(blobs),
        .children = {},
        .tags = std::move(tags)};
    return put;
  }

  // An image with its config and one layer linked first, stored; returns its digest.
  core::Digest push_image(const core::RepositoryName& repository, std::string_view name,
                          std::vector<core::Tag> tags = {}) {
    auto config = blob(std::string("config of ") + std::string(name));
    auto layer = blob(std::string("layer of ") + std::string(name));
    link(repository, config);
    link(repository, layer);
    auto put = image(repository, std::string("manifest ") + std::string(name), {config, layer},
                     std::move(tags));
    auto outcome = must(store().put_manifest(put));
    EXPECT_TRUE(outcome.stored());
    return put.manifest.digest;
  }

  // A manifest whose subject is `subject`.
  ManifestPut referrer(const core::RepositoryName& repository, std::string_view content,
                       const core::Digest& subject, std::string artifact_type) {
    auto put = image(repository, content, {});
    put.manifest.subject = subject;
    put.manifest.artifact_type = std::move(artifact_type);
    return put;
  }

  std::optional<std::string> tag_target(const core::RepositoryName& repository,
                                        std::string_view name) {
    auto record = must(store().resolve_tag(repository, tag(name)));
    if (!record) {
      return std::nullopt;
    }
    return record->digest.str();
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<MetadataStore> store_;
  testing::FakeClock clock_;
};

// ---- repositories

TEST_P(MetadataStoreContract, RepositoriesComeIntoBeingOnFirstLinkManifestOrUpload) {
  EXPECT_FALSE(must(store().repository_exists(repo("by-link"))));
  EXPECT_TRUE(must(store().list_repositories("", 100)).empty());

  link(repo("by-link"), blob("x"));
  EXPECT_TRUE(must(store().repository_exists(repo("by-link"))));

  EXPECT_TRUE(must(store().put_manifest(image(repo("by-manifest"), "m", {}))).stored());
  EXPECT_TRUE(must(store().repository_exists(repo("by-manifest"))));

  must(store().create_upload(
      UploadRecord{upload_id(), repo("by-upload"), clock_.now(), clock_.now(), 0, ""}));
  EXPECT_TRUE(must(store().repository_exists(repo("by-upload"))));

  EXPECT_FALSE(must(store().repository_exists(repo("never"))));
  // The catalog lists only repositories that hold a manifest.
  EXPECT_EQ(must(store().list_repositories("", 100)), (std::vector<std::string>{"by-manifest"}));
  EXPECT_TRUE(must(store().put_manifest(image(repo("by-link"), "m2", {blob("x")}))).stored());
  EXPECT_EQ(must(store().list_repositories("", 100)),
            (std::vector<std::string>{"by-link", "by-manifest"}));
}

TEST_P(MetadataStoreContract, CatalogIsByteWiseAndPaginatesWithExclusiveAfter) {
  // Separators sort below digits and letters byte-wise: '-' < '.' < '/' < '0' < '_' < 'a'.
  std::vector<std::string> names = {"a",    "a-b", "a.b", "a/b",    "a_b",
                                    "a__b", "ab",  "0",   "9lives", "z/y/x"};
  for (int i = 0; i < 50; ++i) {
    names.push_back("team/app" + std::to_string(i));
  }
  auto shuffled = names;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(42));
  for (const auto& name : shuffled) {
    EXPECT_TRUE(must(store().put_manifest(image(repo(name), "m", {}))).stored());
  }
  const auto expected = sorted(names);

  EXPECT_EQ(must(store().list_repositories("", 1000)), expected);

  std::vector<std::string> paged;
  std::string after;
  for (int pages = 0; pages < 100; ++pages) {
    auto page = must(store().list_repositories(after, 7));
    ASSERT_LE(page.size(), 7u);
    if (page.empty()) {
      break;
    }
    paged.insert(paged.end(), page.begin(), page.end());
    after = page.back();
  }
  EXPECT_EQ(paged, expected);

  // `after` need not be a repository: the list starts strictly after it.
  std::vector<std::string> after_m;
  std::copy_if(expected.begin(), expected.end(), std::back_inserter(after_m),
               [](const std::string& name) { return name > "m"; });
  EXPECT_EQ(must(store().list_repositories("m", 1000)), after_m);
  EXPECT_EQ(must(store().list_repositories("a", 2)), (std::vector<std::string>{"a-b", "a.b"}));
  EXPECT_TRUE(must(store().list_repositories("", 0)).empty());
  EXPECT_TRUE(must(store().list_repositories(expected.back(), 10)).empty());
}

// ---- blobs

TEST_P(MetadataStoreContract, BlobLinksArePerRepository) {
  auto b = blob("hello");
  EXPECT_EQ(must(store().linked_blob(repo("a"), b.digest)), std::nullopt);
  EXPECT_EQ(must(store().known_blob(b.digest)), std::nullopt);

  link(repo("a"), b);
  EXPECT_EQ(must(store().linked_blob(repo("a"), b.digest)), 5u);
  EXPECT_EQ(must(store().linked_blob(repo("b"), b.digest)), std::nullopt);
  EXPECT_EQ(must(store().known_blob(b.digest)), 5u);

  link(repo("a"), b);  // idempotent
  link(repo("b"), b);
  EXPECT_EQ(must(store().linked_blob(repo("b"), b.digest)), 5u);

  EXPECT_TRUE(must(store().unlink_blob(repo("a"), b.digest)));
  EXPECT_FALSE(must(store().unlink_blob(repo("a"), b.digest)));
  EXPECT_FALSE(must(store().unlink_blob(repo("nowhere"), b.digest)));
  EXPECT_EQ(must(store().linked_blob(repo("a"), b.digest)), std::nullopt);
  EXPECT_EQ(must(store().linked_blob(repo("b"), b.digest)), 5u);
  EXPECT_EQ(must(store().known_blob(b.digest)), 5u);

  EXPECT_TRUE(must(store().unlink_blob(repo("b"), b.digest)));
  EXPECT_EQ(must(store().known_blob(b.digest)), std::nullopt);

  // Relinking after every link was removed works.
  link(repo("a"), b);
  EXPECT_EQ(must(store().linked_blob(repo("a"), b.digest)), 5u);
}

// The blob endpoint's DELETE: never a manifest's own link, never a blob an image of the
// repository uses; other repositories' images do not matter.
TEST_P(MetadataStoreContract, UnlinkUnusedBlobKeepsManifestsAndTheBlobsTheyName) {
  auto config = blob("config");
  auto layer = blob("layer");
  auto loose = blob("loose");
  for (const auto& b : {config, layer, loose}) {
    link(repo("app"), b);
  }
  link(repo("other"), layer);
  auto untagged = image(repo("app"), "untagged", {config, layer});
  auto tagged = image(repo("app"), "tagged", {config, layer}, {tag("v2"), tag("v1")});
  ASSERT_TRUE(must(store().put_manifest(untagged)).stored());
  ASSERT_TRUE(must(store().put_manifest(tagged)).stored());
  using Outcome = BlobUnlink::Outcome;

  auto manifest = must(store().unlink_unused_blob(repo("app"), tagged.manifest.digest));
  EXPECT_EQ(manifest.outcome, Outcome::kManifest);
  EXPECT_TRUE(must(store().linked_blob(repo("app"), tagged.manifest.digest)));

  auto used = must(store().unlink_unused_blob(repo("app"), layer.digest));
  EXPECT_EQ(used.outcome, Outcome::kInUse);
  EXPECT_EQ(used.users, 2u);
  EXPECT_EQ(used.user, tagged.manifest.digest) << "a tagged image is named first";
  EXPECT_EQ(used.user_tag, "v1");
  EXPECT_TRUE(must(store().linked_blob(repo("app"), layer.digest)));

  // Not used in "other": its link goes, app's stays.
  EXPECT_EQ(must(store().unlink_unused_blob(repo("other"), layer.digest)).outcome,
            Outcome::kUnlinked);
  EXPECT_FALSE(must(store().linked_blob(repo("other"), layer.digest)));
  EXPECT_EQ(must(store().unlink_unused_blob(repo("other"), layer.digest)).outcome,
            Outcome::kNotLinked);
  EXPECT_EQ(must(store().unlink_unused_blob(repo("nowhere"), layer.digest)).outcome,
            Outcome::kNotLinked);

  EXPECT_EQ(must(store().unlink_unused_blob(repo("app"), loose.digest)).outcome,
            Outcome::kUnlinked);
  EXPECT_FALSE(must(store().linked_blob(repo("app"), loose.digest)));

  // Once only the untagged image uses them, it is the one named.
  ASSERT_TRUE(must(store().delete_manifest(repo("app"), tagged.manifest.digest)));
  auto still = must(store().unlink_unused_blob(repo("app"), config.digest));
  EXPECT_EQ(still.outcome, Outcome::kInUse);
  EXPECT_EQ(still.users, 1u);
  EXPECT_EQ(still.user, untagged.manifest.digest);
  EXPECT_EQ(still.user_tag, std::nullopt);
}

TEST_P(MetadataStoreContract, LinkingAKnownDigestWithAnotherSizeFailsAndWritesNothing) {
  auto b = blob("hello");
  link(repo("a"), b);
  auto linked = store().link_blob(repo("b"), BlobRef{b.digest, 6}, clock_.now());
  ASSERT_FALSE(linked);
  EXPECT_EQ(linked.error().code, core::ErrorCode::kInternal);
  // One transaction: the repository the failed link would have created is not there either.
  EXPECT_FALSE(must(store().repository_exists(repo("b"))));
  EXPECT_EQ(must(store().known_blob(b.digest)), 5u);
}

// ---- put_manifest

TEST_P(MetadataStoreContract, PutManifestStoresRecordLinksItsBytesAndTags) {
  auto config = blob("config");
  auto layer = blob("layer");
  link(repo("app"), config);
  link(repo("app"), layer);
  auto put = image(repo("app"), "manifest bytes", {config, layer}, {tag("latest"), tag("v1")});
  put.manifest.artifact_type = "application/vnd.example";
  put.manifest.annotations_json = R"({"org.opencontainers.image.title":"x"})";

  auto outcome = must(store().put_manifest(put));
  EXPECT_TRUE(outcome.stored());
  EXPECT_TRUE(outcome.missing_blobs.empty());

  auto record = must(store().get_manifest(repo("app"), put.manifest.digest));
  ASSERT_TRUE(record);
  EXPECT_EQ(record->digest, put.manifest.digest);
  EXPECT_EQ(record->media_type, core::media_type::kOciManifest);
  EXPECT_EQ(record->size, put.manifest.size);
  EXPECT_EQ(record->artifact_type, "application/vnd.example");
  EXPECT_EQ(record->subject, std::nullopt);
  EXPECT_EQ(record->annotations_json, put.manifest.annotations_json);
  EXPECT_EQ(core::to_unix_ms(record->created), core::to_unix_ms(clock_.now()));

  EXPECT_EQ(tag_target(repo("app"), "latest"), put.manifest.digest.str());
  EXPECT_EQ(tag_target(repo("app"), "v1"), put.manifest.digest.str());
  EXPECT_EQ(tag_target(repo("app"), "v2"), std::nullopt);
  EXPECT_EQ(must(store().list_tags(repo("app"), "", 100)),
            (std::vector<std::string>{"latest", "v1"}));

  // The manifest's bytes are a blob of the repository, and only of it.
  EXPECT_EQ(must(store().linked_blob(repo("app"), put.manifest.digest)), put.manifest.size);
  EXPECT_EQ(must(store().known_blob(put.manifest.digest)), put.manifest.size);
  EXPECT_EQ(must(store().get_manifest(repo("other"), put.manifest.digest)), std::nullopt);
  EXPECT_EQ(must(store().resolve_tag(repo("other"), tag("latest"))), std::nullopt);
}

TEST_P(MetadataStoreContract, PutManifestWithMissingBlobIsRefusedAndWritesNothing) {
  auto config = blob("config");
  auto layer = blob("layer");
  link(repo("app"), config);
  auto put = image(repo("app"), "manifest", {config, layer}, {tag("latest")});

  auto outcome = must(store().put_manifest(put));
  EXPECT_FALSE(outcome.stored());
  EXPECT_EQ(outcome.missing_blobs, std::vector<core::Digest>{layer.digest});
  EXPECT_TRUE(outcome.wrong_size_blobs.empty());
  EXPECT_TRUE(outcome.missing_children.empty());

  EXPECT_EQ(must(store().get_manifest(repo("app"), put.manifest.digest)), std::nullopt);
  EXPECT_EQ(must(store().resolve_tag(repo("app"), tag("latest"))), std::nullopt);
  EXPECT_TRUE(must(store().list_tags(repo("app"), "", 100)).empty());
  EXPECT_EQ(must(store().linked_blob(repo("app"), put.manifest.digest)), std::nullopt);
  EXPECT_EQ(must(store().known_blob(put.manifest.digest)), std::nullopt);

  // Once the layer is there, the same put succeeds.
  link(repo("app"), layer);
  EXPECT_TRUE(must(store().put_manifest(put)).stored());
  EXPECT_EQ(tag_target(repo("app"), "latest"), put.manifest.digest.str());
}

TEST_P(MetadataStoreContract, RefusedPutInANewRepositoryDoesNotCreateIt) {
  auto outcome = must(store().put_manifest(image(repo("new"), "m", {blob("absent")})));
  EXPECT_EQ(outcome.missing_blobs, std::vector<core::Digest>{blob("absent").digest});
  EXPECT_FALSE(must(store().repository_exists(repo("new"))));
  EXPECT_TRUE(must(store().list_repositories("", 10)).empty());
}

TEST_P(MetadataStoreContract, BlobLinkedOnlyInAnotherRepositoryIsMissing) {
  auto layer = blob("layer");
  link(repo("elsewhere"), layer);
  link(repo("app"), blob("unrelated"));
  auto outcome = must(store().put_manifest(image(repo("app"), "m", {layer})));
  EXPECT_EQ(outcome.missing_blobs, std::vector<core::Digest>{layer.digest});
}

TEST_P(MetadataStoreContract, PutManifestWithWrongBlobSizeIsRefused) {
  auto layer = blob("layer");  // 5 bytes
  link(repo("app"), layer);
  auto put = image(repo("app"), "m", {BlobRef{layer.digest, 6}}, {tag("latest")});

  auto outcome = must(store().put_manifest(put));
  EXPECT_FALSE(outcome.stored());
  EXPECT_TRUE(outcome.missing_blobs.empty());
  ASSERT_EQ(outcome.wrong_size_blobs.size(), 1u);
  EXPECT_EQ(outcome.wrong_size_blobs[0].digest, layer.digest);
  EXPECT_EQ(outcome.wrong_size_blobs[0].size, 6u);
  EXPECT_EQ(must(store().get_manifest(repo("app"), put.manifest.digest)), std::nullopt);
  EXPECT_EQ(must(store().resolve_tag(repo("app"), tag("latest"))), std::nullopt);
}

TEST_P(MetadataStoreContract, IndexNeedsItsChildrenInTheSameRepository) {
  auto child = push_image(repo("elsewhere"), "child");
  auto index = image(repo("app"), "index", {}, {tag("multi")});
  index.manifest.media_type = core::media_type::kOciIndex;
  index.children = {child};

  auto outcome = must(store().put_manifest(index));
  EXPECT_EQ(outcome.missing_children, std::vector<core::Digest>{child});
  EXPECT_TRUE(outcome.missing_blobs.empty());
  EXPECT_EQ(must(store().get_manifest(repo("app"), index.manifest.digest)), std::nullopt);

  // A blob with the child's digest is not a manifest: still missing.
  link(repo("app"), BlobRef{child, std::string("manifest child").size()});
  EXPECT_EQ(must(store().put_manifest(index)).missing_children, std::vector<core::Digest>{child});

  EXPECT_EQ(push_image(repo("app"), "child"), child);
  EXPECT_TRUE(must(store().put_manifest(index)).stored());
  auto record = must(store().get_manifest(repo("app"), index.manifest.digest));
  ASSERT_TRUE(record);
  EXPECT_EQ(record->media_type, core::media_type::kOciIndex);
  EXPECT_EQ(tag_target(repo("app"), "multi"), index.manifest.digest.str());
}

TEST_P(MetadataStoreContract, RefusalReportsEveryProblemOnceAndAtOnce) {
  auto present = blob("present");
  auto resized = blob("resized");
  auto absent = blob("absent");
  auto absent_child = core::Digest::of("no such child");
  link(repo("app"), present);
  link(repo("app"), resized);
  auto put =
      image(repo("app"), "m", {present, absent, BlobRef{resized.digest, 99}, absent, present});
  put.children = {absent_child, absent_child};

  auto outcome = must(store().put_manifest(put));
  EXPECT_EQ(outcome.missing_blobs, std::vector<core::Digest>{absent.digest});
  ASSERT_EQ(outcome.wrong_size_blobs.size(), 1u);
  EXPECT_EQ(outcome.wrong_size_blobs[0].digest, resized.digest);
  EXPECT_EQ(outcome.missing_children, std::vector<core::Digest>{absent_child});
  EXPECT_EQ(must(store().get_manifest(repo("app"), put.manifest.digest)), std::nullopt);
}

TEST_P(MetadataStoreContract, RePutOfSameDigestIsIdempotentAndKeepsCreatedTime) {
  auto first_created = clock_.now();
  auto digest = push_image(repo("app"), "one", {tag("a")});

  clock_.advance(1h);
  auto layer = blob("layer of one");
  auto config = blob("config of one");
  auto again = image(repo("app"), "manifest one", {config, layer}, {tag("b")});
  ASSERT_EQ(again.manifest.digest, digest);
  EXPECT_TRUE(must(store().put_manifest(again)).stored());
  EXPECT_TRUE(must(store().put_manifest(again)).stored());

  auto record = must(store().get_manifest(repo("app"), digest));
  ASSERT_TRUE(record);
  EXPECT_EQ(core::to_unix_ms(record->created), core::to_unix_ms(first_created));
  EXPECT_EQ(tag_target(repo("app"), "a"), digest.str());
  EXPECT_EQ(tag_target(repo("app"), "b"), digest.str());
  EXPECT_EQ(must(store().list_tags(repo("app"), "", 10)), (std::vector<std::string>{"a", "b"}));
}

TEST_P(MetadataStoreContract, SameManifestInTwoRepositoriesIsTwoRecords) {
  auto in_a = push_image(repo("a"), "same", {tag("latest")});
  auto in_b = push_image(repo("b"), "same", {tag("stable")});
  ASSERT_EQ(in_a, in_b);
  EXPECT_TRUE(must(store().delete_manifest(repo("a"), in_a)));
  EXPECT_EQ(must(store().get_manifest(repo("a"), in_a)), std::nullopt);
  EXPECT_TRUE(must(store().get_manifest(repo("b"), in_b)));
  EXPECT_EQ(tag_target(repo("b"), "stable"), in_b.str());
  EXPECT_TRUE(must(store().known_blob(in_b)));
}

// ---- tags

TEST_P(MetadataStoreContract, TagMovesBetweenManifests) {
  auto first = push_image(repo("app"), "first", {tag("latest"), tag("stable")});
  auto second = push_image(repo("app"), "second", {tag("latest")});

  EXPECT_EQ(tag_target(repo("app"), "latest"), second.str());
  EXPECT_EQ(tag_target(repo("app"), "stable"), first.str());
  EXPECT_TRUE(must(store().get_manifest(repo("app"), first)));
  EXPECT_EQ(must(store().list_tags(repo("app"), "", 10)),
            (std::vector<std::string>{"latest", "stable"}));

  // And back.
  EXPECT_TRUE(must(store().put_manifest(image(repo("app"), "manifest first",
                                              {blob("config of first"), blob("layer of first")},
                                              {tag("latest")})))
                  .stored());
  EXPECT_EQ(tag_target(repo("app"), "latest"), first.str());
}

TEST_P(MetadataStoreContract, FixedTagIsSetOnceAndNeverMoved) {
  auto first = push_image(repo("app"), "first");
  auto second = push_image(repo("app"), "second", {tag("other")});
  auto put_fixed = [&](std::string_view name, std::string_view release) {
    auto put =
        image(repo("app"), std::string("manifest ") + std::string(name),
              {blob("config of " + std::string(name)), blob("layer of " + std::string(name))},
              {tag(release), tag("latest")});
    put.fixed_tags = {tag(release)};
    return must(store().put_manifest(put));
  };
  EXPECT_TRUE(put_fixed("first", "v1").stored());
  // Again with the same manifest: no move, so allowed.
  EXPECT_TRUE(put_fixed("first", "v1").stored());

  auto moved = put_fixed("second", "v1");
  EXPECT_FALSE(moved.stored());
  ASSERT_EQ(moved.moved_fixed_tags.size(), 1u);
  EXPECT_EQ(moved.moved_fixed_tags[0].tag.str(), "v1");
  EXPECT_EQ(moved.moved_fixed_tags[0].current, first);
  // A refusal writes nothing: not even the tags that are not fixed.
  EXPECT_EQ(tag_target(repo("app"), "v1"), first.str());
  EXPECT_EQ(tag_target(repo("app"), "latest"), first.str());
  EXPECT_EQ(tag_target(repo("app"), "other"), second.str());
}

TEST_P(MetadataStoreContract, DeleteTagKeepsTheManifestAndItsOtherTags) {
  auto digest = push_image(repo("app"), "one", {tag("latest"), tag("stable")});

  EXPECT_TRUE(must(store().delete_tag(repo("app"), tag("latest"))));
  EXPECT_FALSE(must(store().delete_tag(repo("app"), tag("latest"))));
  EXPECT_FALSE(must(store().delete_tag(repo("nowhere"), tag("stable"))));

  EXPECT_EQ(tag_target(repo("app"), "latest"), std::nullopt);
  EXPECT_EQ(tag_target(repo("app"), "stable"), digest.str());
  EXPECT_TRUE(must(store().get_manifest(repo("app"), digest)));
  EXPECT_TRUE(must(store().linked_blob(repo("app"), digest)));
  EXPECT_EQ(must(store().list_tags(repo("app"), "", 10)), std::vector<std::string>{"stable"});
}

TEST_P(MetadataStoreContract, DeleteManifestRemovesItsTagsAndItsLinkOnly) {
  auto doomed = push_image(repo("app"), "doomed", {tag("a"), tag("b")});
  auto kept = push_image(repo("app"), "kept", {tag("c")});

  EXPECT_TRUE(must(store().delete_manifest(repo("app"), doomed)));
  EXPECT_FALSE(must(store().delete_manifest(repo("app"), doomed)));
  EXPECT_FALSE(must(store().delete_manifest(repo("nowhere"), kept)));

  EXPECT_EQ(must(store().get_manifest(repo("app"), doomed)), std::nullopt);
  EXPECT_EQ(tag_target(repo("app"), "a"), std::nullopt);
  EXPECT_EQ(tag_target(repo("app"), "b"), std::nullopt);
  EXPECT_EQ(must(store().list_tags(repo("app"), "", 10)), std::vector<std::string>{"c"});
  EXPECT_EQ(must(store().linked_blob(repo("app"), doomed)), std::nullopt);
  // Its layers stay linked: deleting a manifest is not deleting blobs.
  EXPECT_TRUE(must(store().linked_blob(repo("app"), blob("layer of doomed").digest)));
  EXPECT_EQ(tag_target(repo("app"), "c"), kept.str());

  // Pushing it again works and records it afresh.
  EXPECT_EQ(push_image(repo("app"), "doomed", {tag("a")}), doomed);
  EXPECT_EQ(tag_target(repo("app"), "a"), doomed.str());
}

TEST_P(MetadataStoreContract, ListTagsIsByteWiseAndPaginates) {
  // Upper case sorts before lower case, digits before both, '_' between them, and "10" before
  // "9": byte order, not natural or case-insensitive order.
  const std::vector<std::string> names = {"latest", "Latest", "LATEST", "1.0",     "10",  "9",
                                          "v1.10",  "v1.9",   "_x",     "a-b",     "a.b", "a_b",
                                          "Z",      "z",      "0",      "v1.9-rc1"};
  std::vector<core::Tag> tags;
  for (const auto& name : names) {
    tags.push_back(tag(name));
  }
  push_image(repo("app"), "one", tags);
  push_image(repo("other"), "two", {tag("only-in-other")});
  const auto expected = sorted(names);
  ASSERT_EQ(expected.front(), "0");
  ASSERT_EQ(expected.back(), "z");

  EXPECT_EQ(must(store().list_tags(repo("app"), "", 1000)), expected);

  std::vector<std::string> paged;
  std::string after;
  for (int pages = 0; pages < 100; ++pages) {
    auto page = must(store().list_tags(repo("app"), after, 4));
    ASSERT_LE(page.size(), 4u);
    if (page.empty()) {
      break;
    }
    paged.insert(paged.end(), page.begin(), page.end());
    after = page.back();
  }
  EXPECT_EQ(paged, expected);

  EXPECT_EQ(must(store().list_tags(repo("app"), "Z", 3)),
            (std::vector<std::string>{"_x", "a-b", "a.b"}));
  EXPECT_TRUE(must(store().list_tags(repo("app"), "z", 10)).empty());
  EXPECT_TRUE(must(store().list_tags(repo("app"), "", 0)).empty());
  EXPECT_TRUE(must(store().list_tags(repo("nowhere"), "", 10)).empty());
}

// ---- referrers

TEST_P(MetadataStoreContract, ReferrersAreFilteredOrderedAndStayInTheirRepository) {
  auto subject = push_image(repo("app"), "subject");
  const std::string signature = "application/vnd.example.signature";
  const std::string sbom = "application/vnd.example.sbom";
  std::vector<ManifestPut> puts = {referrer(repo("app"), "sig 1", subject, signature),
                                   referrer(repo("app"), "sbom 1", subject, sbom),
                                   referrer(repo("app"), "sig 2", subject, signature),
                                   referrer(repo("app"), "sig 3", subject, signature)};
  puts[1].manifest.annotations_json = R"({"kind":"sbom"})";
  std::vector<std::string> all;
  std::vector<std::string> signatures;
  for (const auto& put : puts) {
    EXPECT_TRUE(must(store().put_manifest(put)).stored());
    all.push_back(put.manifest.digest.str());
    if (put.manifest.artifact_type == signature) {
      signatures.push_back(put.manifest.digest.str());
    }
  }
  // A referrer of the same subject digest in another repository, and one of another subject.
  EXPECT_TRUE(must(store().put_manifest(referrer(repo("other"), "foreign sig", subject, signature)))
                  .stored());
  auto unrelated = push_image(repo("app"), "unrelated");
  EXPECT_TRUE(
      must(store().put_manifest(referrer(repo("app"), "unrelated sig", unrelated, signature)))
          .stored());

  auto found = must(store().referrers(repo("app"), subject, std::nullopt));
  EXPECT_EQ(digests_of(found), sorted(all));
  for (const auto& record : found) {
    EXPECT_EQ(record.subject, subject);
    EXPECT_FALSE(record.artifact_type.empty());
  }
  auto sbom_record = std::find_if(found.begin(), found.end(), [&](const ManifestRecord& r) {
    return r.digest == puts[1].manifest.digest;
  });
  ASSERT_NE(sbom_record, found.end());
  EXPECT_EQ(sbom_record->artifact_type, sbom);
  EXPECT_EQ(sbom_record->annotations_json, R"({"kind":"sbom"})");

  EXPECT_EQ(digests_of(must(store().referrers(repo("app"), subject, signature))),
            sorted(signatures));
  EXPECT_EQ(digests_of(must(store().referrers(repo("app"), subject, sbom))),
            std::vector<std::string>{puts[1].manifest.digest.str()});
  EXPECT_TRUE(must(store().referrers(repo("app"), subject, "application/none")).empty());
  EXPECT_EQ(must(store().referrers(repo("other"), subject, std::nullopt)).size(), 1u);
  EXPECT_TRUE(must(store().referrers(repo("nowhere"), subject, std::nullopt)).empty());
  EXPECT_EQ(must(store().referrers(repo("app"), unrelated, std::nullopt)).size(), 1u);
}

TEST_P(MetadataStoreContract, ReferrerMayArriveBeforeItsSubject) {
  auto subject = core::Digest::of("not pushed yet");
  EXPECT_TRUE(
      must(store().put_manifest(referrer(repo("app"), "early sig", subject, "application/x")))
          .stored());
  EXPECT_EQ(must(store().referrers(repo("app"), subject, std::nullopt)).size(), 1u);
}

TEST_P(MetadataStoreContract, DeletedReferrerIsNoLongerListed) {
  auto subject = push_image(repo("app"), "subject");
  auto sig = referrer(repo("app"), "sig", subject, "application/x");
  EXPECT_TRUE(must(store().put_manifest(sig)).stored());
  EXPECT_TRUE(must(store().delete_manifest(repo("app"), sig.manifest.digest)));
  EXPECT_TRUE(must(store().referrers(repo("app"), subject, std::nullopt)).empty());
}

// ---- upload sessions

TEST_P(MetadataStoreContract, UploadLifecycle) {
  auto id = upload_id();
  auto started = clock_.now();
  must(store().create_upload(UploadRecord{id, repo("app"), started, started, 0, ""}));
  EXPECT_TRUE(must(store().repository_exists(repo("app"))));

  auto record = must(store().get_upload(id));
  ASSERT_TRUE(record);
  EXPECT_EQ(record->id, id);
  EXPECT_EQ(record->repository, repo("app"));
  EXPECT_EQ(core::to_unix_ms(record->started), core::to_unix_ms(started));
  EXPECT_EQ(core::to_unix_ms(record->updated), core::to_unix_ms(started));
  EXPECT_EQ(record->size, 0u);
  EXPECT_EQ(record->hash_state, "");

  clock_.advance(5s);
  must(store().update_upload(id, 1234, "1:state after 1234 bytes", clock_.now()));
  record = must(store().get_upload(id));
  ASSERT_TRUE(record);
  EXPECT_EQ(record->size, 1234u);
  EXPECT_EQ(record->hash_state, "1:state after 1234 bytes");
  EXPECT_EQ(core::to_unix_ms(record->started), core::to_unix_ms(started));
  EXPECT_EQ(core::to_unix_ms(record->updated), core::to_unix_ms(clock_.now()));

  auto finished = blob("the uploaded bytes");
  must(store().complete_upload(id, finished, clock_.now()));
  EXPECT_EQ(must(store().get_upload(id)), std::nullopt);
  EXPECT_EQ(must(store().linked_blob(repo("app"), finished.digest)), finished.size);

  auto again = store().complete_upload(id, finished, clock_.now());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, core::ErrorCode::kBlobUploadUnknown);
  auto update = store().update_upload(id, 1, "", clock_.now());
  ASSERT_FALSE(update);
  EXPECT_EQ(update.error().code, core::ErrorCode::kBlobUploadUnknown);
  // Forgetting an upload that is gone is not an error: cleanup may race with completion.
  must(store().delete_upload(id));
}

TEST_P(MetadataStoreContract, CompletingAnUnknownUploadLinksNothing) {
  auto finished = blob("bytes");
  auto completed = store().complete_upload(upload_id(), finished, clock_.now());
  ASSERT_FALSE(completed);
  EXPECT_EQ(completed.error().code, core::ErrorCode::kBlobUploadUnknown);
  EXPECT_EQ(must(store().known_blob(finished.digest)), std::nullopt);
}

TEST_P(MetadataStoreContract, DeletedUploadIsForgottenAndLinksNothing) {
  auto id = upload_id();
  auto other = upload_id();
  must(store().create_upload(UploadRecord{id, repo("app"), clock_.now(), clock_.now(), 0, ""}));
  must(store().create_upload(UploadRecord{other, repo("app"), clock_.now(), clock_.now(), 7, ""}));
  must(store().delete_upload(id));
  EXPECT_EQ(must(store().get_upload(id)), std::nullopt);
  auto kept = must(store().get_upload(other));
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->size, 7u);
}

TEST_P(MetadataStoreContract, StaleUploadsAreThoseLastUpdatedBeforeTheCutoff) {
  auto t0 = clock_.now();
  auto early = upload_id();
  auto late = upload_id();
  must(store().create_upload(UploadRecord{early, repo("app"), t0, t0, 0, ""}));
  clock_.advance(10min);
  must(store().create_upload(UploadRecord{late, repo("other"), clock_.now(), clock_.now(), 0, ""}));
  clock_.advance(10min);
  must(store().update_upload(early, 10, "1:ten", clock_.now()));  // early: touched at t0+20m

  EXPECT_TRUE(must(store().stale_uploads(t0)).empty());
  // Strictly before: an upload updated exactly at the cutoff is not stale.
  EXPECT_TRUE(must(store().stale_uploads(t0 + 10min)).empty());

  auto stale = must(store().stale_uploads(t0 + 15min));
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0].id, late);
  EXPECT_EQ(stale[0].repository, repo("other"));

  stale = must(store().stale_uploads(t0 + 25min));
  ASSERT_EQ(stale.size(), 2u);
  EXPECT_EQ(stale[0].id, late);
  EXPECT_EQ(stale[1].id, early);
  EXPECT_EQ(stale[1].size, 10u);
  EXPECT_EQ(stale[1].hash_state, "1:ten");
}

// ---- concurrency and persistence

TEST_P(MetadataStoreContract, TouchedUploadIsNotStaleAndOnlyStaleOnesAreClaimed) {
  auto t0 = clock_.now();
  auto id = upload_id();
  must(store().create_upload(UploadRecord{id, repo("app"), t0, t0, 5, "1:five"}));
  clock_.advance(30min);
  must(store().touch_upload(id, clock_.now()));
  auto touched = must(store().get_upload(id));
  ASSERT_TRUE(touched);
  EXPECT_EQ(touched->size, 5u) << "a touch keeps the progress";
  EXPECT_EQ(touched->hash_state, "1:five");
  EXPECT_TRUE(must(store().stale_uploads(t0 + 20min)).empty());

  // A purge that listed it as stale before the touch does not take it after.
  EXPECT_FALSE(must(store().delete_stale_upload(id, t0 + 20min)));
  EXPECT_TRUE(must(store().get_upload(id)));
  EXPECT_TRUE(must(store().delete_stale_upload(id, t0 + 40min)));
  EXPECT_EQ(must(store().get_upload(id)), std::nullopt);
  EXPECT_FALSE(must(store().delete_stale_upload(id, t0 + 40min)));

  auto touch = store().touch_upload(id, clock_.now());
  ASSERT_FALSE(touch);
  EXPECT_EQ(touch.error().code, core::ErrorCode::kBlobUploadUnknown);
}

TEST_P(MetadataStoreContract, PingAnswers) { EXPECT_TRUE(store().ping().has_value()); }

TEST_P(MetadataStoreContract, ConcurrentPushesAndReadsSucceed) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 20;
  std::mutex errors_mutex;
  std::vector<std::string> errors;  // guarded by errors_mutex
  auto report = [&](std::string error) {
    std::lock_guard lock(errors_mutex);
    errors.push_back(std::move(error));
  };
  auto check = [&](const auto& result, std::string_view what) {
    if (!result) {
      report(std::string(what) + ": " + result.error().message);
    }
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto own = repo("thread" + std::to_string(t));
      auto shared = repo("shared");
      for (int round = 0; round < kRounds; ++round) {
        auto name = std::to_string(t) + "-" + std::to_string(round);
        auto layer = blob("layer " + name);
        auto common = blob("common layer");  // every thread links the same blob
        auto now = clock_.now();
        check(store().link_blob(shared, layer, now), "link");
        check(store().link_blob(shared, common, now), "link common");
        check(store().link_blob(own, layer, now), "link own");
        auto put =
            image(shared, "manifest " + name, {layer, common}, {tag("t" + name), tag("latest")});
        auto outcome = store().put_manifest(put);
        check(outcome, "put");
        if (outcome && !outcome->stored()) {
          report("put " + name + " was refused");
        }
        check(store().put_manifest(image(own, "own " + name, {layer}, {tag("t" + name)})),
              "put own");
        check(store().list_tags(shared, "", 1000), "list tags");
        check(store().resolve_tag(shared, tag("latest")), "resolve");
        check(store().get_manifest(shared, put.manifest.digest), "get");
        check(store().list_repositories("", 1000), "catalog");
        check(store().referrers(shared, put.manifest.digest, std::nullopt), "referrers");
        auto id = upload_id();
        check(store().create_upload(UploadRecord{id, own, now, now, 0, ""}), "create upload");
        check(store().update_upload(id, 3, "", now), "update upload");
        check(store().complete_upload(id, blob("up " + name), now), "complete upload");
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  ASSERT_TRUE(errors.empty()) << errors.size() << " errors, first: " << errors.front();

  // Everything every thread wrote is there.
  EXPECT_EQ(must(store().list_tags(repo("shared"), "", 10000)).size(),
            static_cast<std::size_t>(kThreads * kRounds + 1));
  EXPECT_EQ(must(store().list_repositories("", 1000)).size(),
            static_cast<std::size_t>(kThreads + 1));
  for (int t = 0; t < kThreads; ++t) {
    auto own = repo("thread" + std::to_string(t));
    EXPECT_EQ(must(store().list_tags(own, "", 1000)).size(), static_cast<std::size_t>(kRounds));
    EXPECT_TRUE(must(store().linked_blob(own, blob("up " + std::to_string(t) + "-0").digest)));
  }
  auto latest = must(store().resolve_tag(repo("shared"), tag("latest")));
  ASSERT_TRUE(latest);
}

// Stores whose data outlives the store object (files, servers), unlike a private in-memory
// database.
class PersistentMetadataStoreContract : public MetadataStoreContract {};

TEST_P(PersistentMetadataStoreContract, ReopenKeepsEverything) {
  auto digest = push_image(repo("app"), "one", {tag("latest")});
  auto id = upload_id();
  must(store().create_upload(UploadRecord{id, repo("app"), clock_.now(), clock_.now(), 42, ""}));
  store_.reset();

  store_ = must(backend_->open());
  EXPECT_EQ(must(store().list_repositories("", 10)), std::vector<std::string>{"app"});
  EXPECT_EQ(tag_target(repo("app"), "latest"), digest.str());
  EXPECT_TRUE(must(store().get_manifest(repo("app"), digest)));
  EXPECT_TRUE(must(store().linked_blob(repo("app"), blob("layer of one").digest)));
  auto upload = must(store().get_upload(id));
  ASSERT_TRUE(upload);
  EXPECT_EQ(upload->size, 42u);
}

TEST_P(PersistentMetadataStoreContract, TwoStoresOnOneDatabaseSeeEachOthersWrites) {
  // As two berth processes (serve and gc, or replicas) would.
  auto second = must(backend_->open());
  auto digest = push_image(repo("app"), "one", {tag("latest")});
  auto seen = must(second->resolve_tag(repo("app"), tag("latest")));
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->digest, digest);

  EXPECT_TRUE(must(second->delete_tag(repo("app"), tag("latest"))));
  EXPECT_EQ(tag_target(repo("app"), "latest"), std::nullopt);
}

TEST_P(PersistentMetadataStoreContract, TwoStoresRacingForOneFixedTagStoreExactlyOne) {
  // Two replicas on one database push the same new immutable tag with different manifests at
  // the same moment, many times over: each time exactly one put is stored and the tag names it.
  auto second = must(backend_->open());
  MetadataStore* stores[] = {store_.get(), second.get()};
  constexpr int kRounds = 40;
  for (int side = 0; side < 2; ++side) {
    for (const auto& content : {"config", "layer"}) {
      link(repo("app"), blob(std::string(content) + " " + std::to_string(side)));
    }
  }
  for (int round = 0; round < kRounds; ++round) {
    const auto release = tag("v" + std::to_string(round));
    std::vector<ManifestPut> puts;
    for (int side = 0; side < 2; ++side) {
      auto put =
          image(repo("app"), "round " + std::to_string(round) + " side " + std::to_string(side),
                {blob("config " + std::to_string(side)), blob("layer " + std::to_string(side))},
                {release});
      put.fixed_tags = {release};
      puts.push_back(std::move(put));
    }
    std::atomic<int> ready{0};
    ManifestPutOutcome outcomes[2];
    std::vector<std::thread> pushers;
    for (int side = 0; side < 2; ++side) {
      pushers.emplace_back([&, side] {
        ++ready;
        while (ready.load() < 2) {
        }
        outcomes[side] = must(stores[side]->put_manifest(puts[side]));
      });
    }
    for (auto& pusher : pushers) {
      pusher.join();
    }
    ASSERT_NE(outcomes[0].stored(), outcomes[1].stored()) << "round " << round;
    const int winner = outcomes[0].stored() ? 0 : 1;
    ASSERT_EQ(outcomes[1 - winner].moved_fixed_tags.size(), 1u);
    EXPECT_EQ(outcomes[1 - winner].moved_fixed_tags[0].current, puts[winner].manifest.digest);
    EXPECT_EQ(tag_target(repo("app"), release.str()), puts[winner].manifest.digest.str());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Sqlite, MetadataStoreContract,
    ::testing::Values(BackendFactory{"Memory",
                                     [] { return std::make_unique<SqliteMemoryBackend>(); }},
                      BackendFactory{"File", [] { return std::make_unique<SqliteFileBackend>(); }}),
    [](const ::testing::TestParamInfo<BackendFactory>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Sqlite, PersistentMetadataStoreContract,
    ::testing::Values(BackendFactory{"File", [] { return std::make_unique<SqliteFileBackend>(); }}),
    [](const ::testing::TestParamInfo<BackendFactory>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Postgres, MetadataStoreContract,
    ::testing::Values(BackendFactory{"Postgres", make_pg_backend<Backend, PostgresBackend>}),
    [](const ::testing::TestParamInfo<BackendFactory>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Postgres, PersistentMetadataStoreContract,
    ::testing::Values(BackendFactory{"Postgres", make_pg_backend<Backend, PostgresBackend>}),
    [](const ::testing::TestParamInfo<BackendFactory>& info) { return info.param.name; });

}  // namespace
}  // namespace berth::meta
