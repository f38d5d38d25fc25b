// berth check's findings and repairs, one kind of damage at a time, made by hand in a temporary
// data directory (the filesystem driver and an SQLite file, as in production) after pushing
// through the real Registry.
#include "lifecycle/check.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <stdexcept>
#include <thread>

#include "meta/sqlite_metadata_store.hpp"
#include "registry/registry.hpp"
#include "storage/fs_blob_store.hpp"
#include "storage/layout.hpp"
#include "testing/fake_clock.hpp"
#include "testing/registry_test_data.hpp"
#include "testing/temp_dir.hpp"

namespace berth::lifecycle {
namespace {

using berth::testing::TempDir;

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using core::Digest;
using core::RepositoryName;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

std::string descriptor(std::string_view media_type, const Digest& digest, std::size_t size) {
  return R"({"mediaType":")" + std::string(media_type) + R"(","digest":")" + digest.str() +
         R"(","size":)" + std::to_string(size) + "}";
}

struct Image {
  RepositoryName repo;
  std::string tag;
  Digest manifest;
  Digest config;
  std::vector<Digest> layers;
};

class CheckTest : public ::testing::Test {
 protected:
  CheckTest() {
    blobs_ = std::move(*storage::open_fs_blob_store(dir_.path()));
    meta::SqliteOptions options;
    options.path = db_path();
    options.readers = 2;
    stores_ = std::move(*meta::open_sqlite_stores(options));
    registry_ = std::make_unique<registry::Registry>(*blobs_, *stores_.metadata, clock_);
  }

  std::string db_path() const { return (dir_.path() / "berth.db").string(); }

  Checker checker(CheckOptions options = {}) {
    return Checker(CheckStores{*stores_.metadata, *stores_.check, *blobs_, *stores_.gc}, clock_,
                   options);
  }

  CheckReport check(CheckOptions options = {}) {
    auto report = checker(options).check();
    EXPECT_TRUE(report.has_value()) << (report ? "" : report.error().message);
    return report ? *report : CheckReport{};
  }

  // Checks, repairs, and returns the report with what the repair did.
  CheckReport check_and_repair(CheckOptions options = {}) {
    auto c = checker(options);
    auto report = c.check();
    EXPECT_TRUE(report.has_value()) << (report ? "" : report.error().message);
    if (!report) {
      return {};
    }
    auto repaired = c.repair(*report, "check-test");
    EXPECT_TRUE(repaired.has_value()) << (repaired ? "" : repaired.error().message);
    return *report;
  }

  Digest push_blob(const RepositoryName& repo, std::string_view content) {
    auto lease = registry_->start_single_request_upload(repo);
    EXPECT_TRUE(lease.has_value());
    EXPECT_TRUE(lease->append(bytes_of(content)).has_value());
    auto blob = registry_->finish_upload(std::move(*lease), Digest::of(content));
    EXPECT_TRUE(blob.has_value()) << (blob ? "" : blob.error().message);
    return Digest::of(content);
  }

  Digest put_manifest(const RepositoryName& repo, std::string_view reference,
                      const std::string& bytes, std::string_view media_type) {
    auto put =
        registry_->put_manifest(repo, *core::Reference::parse(reference), bytes, media_type, {});
    EXPECT_TRUE(put.has_value()) << (put ? "" : put.error().message);
    return Digest::of(bytes);
  }

  // An OCI image with a config and `layers` layers of unique content, tagged `tag`.
  Image push_image(const RepositoryName& repo, const std::string& tag, int layers = 2) {
    Image image{repo, tag, Digest::of(""), Digest::of(""), {}};
    const std::string config = R"({"architecture":"amd64","os":"linux","tag":")" + tag + "\"}";
    image.config = push_blob(repo, config);
    std::string json =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
        R"("config":)" +
        descriptor("application/vnd.oci.image.config.v1+json", image.config, config.size()) +
        R"(,"layers":[)";
    for (int i = 0; i < layers; ++i) {
      const std::string layer = "layer " + std::to_string(i) + " of " + repo.str() + ":" + tag;
      image.layers.push_back(push_blob(repo, layer));
      json += (i ? "," : "") + descriptor("application/vnd.oci.image.layer.v1.tar",
                                          image.layers.back(), layer.size());
    }
    json += "]}";
    image.manifest = put_manifest(repo, tag, json, "application/vnd.oci.image.manifest.v1+json");
    return image;
  }

  // An OCI index over the given images (of the same repository), tagged `tag`.
  Digest push_index(const RepositoryName& repo, const std::string& tag,
                    const std::vector<Image>& children) {
    std::string json =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)";
    for (std::size_t i = 0; i < children.size(); ++i) {
      auto bytes = read_blob(children[i].manifest);
      json += (i ? "," : "") + descriptor("application/vnd.oci.image.manifest.v1+json",
                                          children[i].manifest, bytes.size());
    }
    json += "]}";
    return put_manifest(repo, tag, json, "application/vnd.oci.image.index.v1+json");
  }

  fs::path blob_file(const Digest& digest) const {
    return dir_.path() / storage::layout::blob_key(digest);
  }

  std::string read_blob(const Digest& digest) const {
    std::ifstream in(blob_file(digest), std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  void overwrite(const fs::path& path, std::string_view bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
  }

  // Runs SQL on the database file through its own connection, as a damaged database would be.
  void sql(const std::string& statement) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    int rc = sqlite3_exec(db, ("PRAGMA foreign_keys = ON; " + statement).c_str(), nullptr, nullptr,
                          &error);
    std::string message = error != nullptr ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message;
  }

  bool linked(const RepositoryName& repo, const Digest& digest) {
    auto size = stores_.metadata->linked_blob(repo, digest);
    EXPECT_TRUE(size.has_value());
    return size && size->has_value();
  }

  static std::vector<FindingKind> kinds(const CheckReport& report) {
    std::vector<FindingKind> out;
    for (const auto& finding : report.findings) {
      out.push_back(finding.kind);
    }
    return out;
  }

  TempDir dir_;
  testing::FakeClock clock_{std::chrono::system_clock::now()};
  std::unique_ptr<storage::BlobStore> blobs_;
  meta::SqliteStores stores_;
  std::unique_ptr<registry::Registry> registry_;
};

TEST_F(CheckTest, HealthyStoreHasNoFindings) {
  auto repo = testing::repo("team/app");
  auto a = push_image(repo, "a");
  auto b = push_image(repo, "b", 3);
  push_index(repo, "multi", {a, b});
  push_image(testing::repo("other/tool"), "v1", 1);
  push_blob(repo, "a blob pushed for a manifest not yet put");

  auto report = check();
  EXPECT_THAT(report.findings, IsEmpty());
  EXPECT_EQ(report.remaining(), 0u);
  // 3 images of 2 + (1 + 2) + (1 + 3) + (1 + 1) blobs, an index, and the loose blob.
  EXPECT_EQ(report.stats.manifests, 4u);
  EXPECT_EQ(report.stats.blob_rows, 3u + 4u + 2u + 4u + 1u);
  EXPECT_EQ(report.stats.blob_files, report.stats.blob_rows);
  EXPECT_GT(report.stats.bytes_hashed, 0u);

  // Repairing a healthy store does nothing at all, not even take the lease.
  auto repaired = check_and_repair();
  EXPECT_THAT(repaired.findings, IsEmpty());
}

TEST_F(CheckTest, CorruptBlobIsReportedWithTheImagesThatNeedIt) {
  auto repo = testing::repo("team/app");
  auto image = push_image(repo, "v1");
  push_index(repo, "multi", {image});
  const auto layer = image.layers[0];
  const auto size = read_blob(layer).size();
  overwrite(blob_file(layer), std::string(size, 'x'));  // same size, other bytes

  auto report = check();
  ASSERT_THAT(kinds(report), ElementsAre(FindingKind::kCorruptBlob));
  const auto& finding = report.findings[0];
  EXPECT_EQ(finding.digest, layer);
  EXPECT_THAT(finding.detail, HasSubstr(Digest::of(std::string(size, 'x')).str()));
  EXPECT_THAT(finding.affected, ElementsAre("team/app:multi", "team/app:v1"));
  EXPECT_TRUE(finding.repairable);
  EXPECT_FALSE(finding.fixed);
  // Repair alone does not bring the images back, and the advice says so.
  EXPECT_EQ(finding.remedy(), "berth check --repair, then push again: team/app:multi, team/app:v1");
  EXPECT_EQ(report.remaining(), 1u);
}

TEST_F(CheckTest, RepairDropsCorruptBytesSoThatPushingAgainUploadsThem) {
  auto repo = testing::repo("team/app");
  auto image = push_image(repo, "v1");
  const auto layer = image.layers[1];
  const auto good = read_blob(layer);
  overwrite(blob_file(layer), "truncated");

  auto report = check_and_repair();
  ASSERT_THAT(kinds(report), ElementsAre(FindingKind::kCorruptBlob));
  const auto& finding = report.findings[0];
  EXPECT_FALSE(finding.fixed);  // the image still needs the bytes
  EXPECT_THAT(finding.action, HasSubstr("dropped the corrupt bytes"));
  EXPECT_EQ(finding.remedy(), "push again: team/app:v1");
  EXPECT_FALSE(fs::exists(blob_file(layer)));
  // Unknown to the repository now, so a client pushing the image uploads the layer again.
  EXPECT_FALSE(linked(repo, layer));

  // What is left is a manifest needing bytes that are gone, and it stays reported. Nothing
  // links the bytes any more, so repair has nothing left to do: the remedy is the push, and a
  // second repair does not pretend otherwise.
  auto after = check();
  ASSERT_THAT(kinds(after), ElementsAre(FindingKind::kMissingBytes));
  EXPECT_THAT(after.findings[0].affected, ElementsAre("team/app:v1"));
  EXPECT_FALSE(after.findings[0].repairable);
  EXPECT_EQ(after.findings[0].remedy(), "push again: team/app:v1");
  auto again = check_and_repair();
  ASSERT_THAT(kinds(again), ElementsAre(FindingKind::kMissingBytes));
  EXPECT_FALSE(again.findings[0].fixed);
  EXPECT_EQ(again.findings[0].remedy(), "push again: team/app:v1");

  // Pushing the layer again makes the store whole.
  push_blob(repo, good);
  EXPECT_THAT(check().findings, IsEmpty());
}

TEST_F(CheckTest, WithoutHashingOnlyTheSizeIsCompared) {
  auto repo = testing::repo("team/app");
  auto image = push_image(repo, "v1");
  const auto size = read_blob(image.layers[0]).size();
  overwrite(blob_file(image.layers[0]), std::string(size, 'x'));
  overwrite(blob_file(image.layers[1]), "short");

  auto report = check(CheckOptions{.hash = false});
  ASSERT_THAT(kinds(report), ElementsAre(FindingKind::kCorruptBlob));
  EXPECT_EQ(report.findings[0].digest, image.layers[1]);
  EXPECT_THAT(report.findings[0].detail, HasSubstr("is 5 bytes"));
  EXPECT_EQ(report.stats.bytes_hashed, 0u);
}

TEST_F(CheckTest, DeletedBlobFileIsMissingBytesAndCannotBeRepaired) {
  auto repo = testing::repo("team/app");
  auto image = push_image(repo, "v1");
  push_image(testing::repo("team/other"), "v2");
  fs::remove(blob_file(image.config));

  auto report = check_and_repair();
  ASSERT_THAT(kinds(report), ElementsAre(FindingKind::kMissingBytes));
  const auto& finding = report.findings[0];
  EXPECT_EQ(finding.digest, image.config);
  EXPECT_THAT(finding.affected, ElementsAre("team/app:v1"));
  EXPECT_FALSE(finding.fixed);
  EXPECT_EQ(finding.remedy(), "push again: team/app:v1");
  EXPECT_FALSE(linked(repo, image.config));
  EXPECT_EQ(report.remaining(), 1u);
}

TEST_F(CheckTest, MissingBytesOfABlobNoManifestNeedsAreForgotten) {
  auto repo = testing::repo("team/app");
  auto loose = push_blob(repo, "uploaded, manifest never put");
  fs::remove(blob_file(loose));

  auto report = check_and_repair();
  ASSERT_THAT(kinds(report), ElementsAre(FindingKind::kMissingBytes));
  EXPECT_THAT(report.findings[0].affected, IsEmpty());
  EXPECT_TRUE(report.findings[0].fixed);
  EXPECT_FALSE(linked(repo, loose));
  auto row = stores_.check->find_blob(loose);
  ASSERT_TRUE(row.has_value());
  EXPECT_FALSE(row->has_value());
  EXPECT_THAT(check().findings, IsEmpty());
}

TEST_F(CheckTest, ManifestWhoseBytesAreMissingIsReportedWithItsTags) {
  auto repo = testing::repo("team/app");
  auto image = push_image(repo, "v1");
  ASSERT_TRUE(registry_
                  ->put_manifest(repo, *core::Reference::parse("latest"), read_blob(image.manifest),
                                 "application/vnd.oci.image.manifest.v1+json", {})
                  .has_value());
  auto index = push_index(repo, "multi", {image});
  fs::remove(blob_file(image.manifest));

  auto report = check_and_repair();
  ASSERT_THAT(kinds(report), ElementsAre(FindingKind::kMissingBytes));
  EXPECT_EQ(report.findings[0].digest, image.manifest);
  // The manifest's own tags, and the index that has it as a child.
  EXPECT_THAT(report.findings[0].affected,
              ElementsAre("team/app:latest", "team/app:multi", "team/app:v1"));
  EXPECT_FALSE(report.findings[0].fixed);
  // The index itself is intact and not reported on its own.
  EXPECT_TRUE(fs::exists(blob_file(index)));
}

TEST_F(CheckTest, DeletedRelationRowsAndLinksAreRebuiltFromTheStoredManifest) {
  auto repo = testing::repo("team/app");
  auto a = push_image(repo, "a");
  auto b = push_image(repo, "b");
  auto index = push_index(repo, "multi", {a, b});
  sql("DELETE FROM manifest_blobs WHERE manifest_id = (SELECT id FROM manifests WHERE digest = '" +
      a.manifest.str() + "')");
  sql("DELETE FROM manifest_children");
  sql("DELETE FROM repository_blobs WHERE digest IN ('" + b.layers[0].str() + "', '" + index.str() +
      "')");

  auto report = check();
  ASSERT_THAT(kinds(report),
              ElementsAre(FindingKind::kRelationMismatch, FindingKind::kRelationMismatch,
                          FindingKind::kRelationMismatch));
  EXPECT_THAT(report.findings[0].detail, HasSubstr("lacks 3 blob rows"));
  EXPECT_THAT(report.findings[1].detail, HasSubstr("does not link " + b.layers[0].str()));
  EXPECT_THAT(report.findings[2].detail, HasSubstr("lacks 2 child rows"));
  EXPECT_THAT(report.findings[2].detail, HasSubstr("(the manifest itself)"));

  auto repaired = check_and_repair();
  EXPECT_EQ(repaired.findings.size(), 3u);
  EXPECT_EQ(repaired.remaining(), 0u);
  for (const auto& finding : repaired.findings) {
    EXPECT_TRUE(finding.fixed) << finding.subject();
    EXPECT_THAT(finding.action, HasSubstr("rebuilt relations"));
  }
  EXPECT_THAT(check().findings, IsEmpty());
  auto rebuilt = stores_.check->find_manifest(repo, a.manifest);
  ASSERT_TRUE(rebuilt.has_value() && rebuilt->has_value());
  EXPECT_EQ((*rebuilt)->blobs.size(), 3u);
  EXPECT_TRUE(linked(repo, b.layers[0]));
  EXPECT_TRUE(linked(repo, index));
}

// A tagged image whose manifest lost its own link (what DELETE of the manifest's digest through
// the blob endpoint used to do): repair rebuilds it whole, and the report says so instead of
// "then push again".
TEST_F(CheckTest, RelationMismatchOfATaggedImageIsFixedByRepairAlone) {
  auto repo = testing::repo("team/app");
  auto image = push_image(repo, "v1");
  sql("DELETE FROM repository_blobs WHERE digest = '" + image.manifest.str() + "'");

  auto report = check();
  ASSERT_THAT(kinds(report), ElementsAre(FindingKind::kRelationMismatch));
  EXPECT_THAT(report.findings[0].affected, ElementsAre("team/app:v1"));
  EXPECT_TRUE(report.findings[0].repairable);
  EXPECT_FALSE(report.findings[0].needs_push_after_repair());
  EXPECT_EQ(report.findings[0].remedy(), "berth check --repair fixes it");

  auto repaired = check_and_repair();
  ASSERT_THAT(kinds(repaired), ElementsAre(FindingKind::kRelationMismatch));
  EXPECT_TRUE(repaired.findings[0].fixed);
  EXPECT_EQ(repaired.findings[0].remedy(), "");
  EXPECT_TRUE(linked(repo, image.manifest));
  EXPECT_THAT(check().findings, IsEmpty());
}

TEST_F(CheckTest, RelationRowTheManifestDoesNotNameIsRemoved) {
  auto repo = testing::repo("team/app");
  auto a = push_image(repo, "a");
  auto b = push_image(repo, "b");
  sql("INSERT INTO manifest_blobs (manifest_id, digest) SELECT id, '" + b.layers[0].str() +
      "' FROM manifests WHERE digest = '" + a.manifest.str() + "'");

  auto report = check_and_repair();
  ASSERT_THAT(kinds(report), ElementsAre(FindingKind::kRelationMismatch));
  EXPECT_THAT(report.findings[0].detail, HasSubstr("has 1 blob row the manifest does not name"));
  EXPECT_TRUE(report.findings[0].fixed);
  auto fixed = stores_.check->find_manifest(repo, a.manifest);
  ASSERT_TRUE(fixed.has_value() && fixed->has_value());
  EXPECT_THAT((*fixed)->blobs, ::testing::Not(::testing::Contains(b.layers[0])));
}

TEST_F(CheckTest, StrayFileIsLeftAloneWhileYoungAndDeletedWhenOld) {
  const std::string bytes = "bytes nothing references";
  const auto stray = Digest::of(bytes);
  ASSERT_TRUE(blobs_->put(stray, bytes).has_value());
  push_image(testing::repo("team/app"), "v1");

  auto young = check_and_repair();
  EXPECT_THAT(young.findings, IsEmpty());
  EXPECT_EQ(young.stats.young_leftovers, 1u);
  EXPECT_TRUE(fs::exists(blob_file(stray)));

  clock_.advance(2h);
  auto report = check_and_repair();
  ASSERT_THAT(kinds(report), ElementsAre(FindingKind::kUnreferencedFile));
  EXPECT_EQ(report.findings[0].digest, stray);
  EXPECT_TRUE(report.findings[0].fixed);
  EXPECT_FALSE(fs::exists(blob_file(stray)));
  // The tombstone protocol ran to its end.
  auto tombstones = stores_.gc->tombstones();
  ASSERT_TRUE(tombstones.has_value());
  EXPECT_THAT(*tombstones, IsEmpty());
  EXPECT_THAT(check().findings, IsEmpty());
}

TEST_F(CheckTest, GraceZeroReportsEveryStrayFile) {
  const std::string bytes = "stray";
  ASSERT_TRUE(blobs_->put(Digest::of(bytes), bytes).has_value());
  auto report = check(CheckOptions{.grace = 0ms});
  EXPECT_THAT(kinds(report), ElementsAre(FindingKind::kUnreferencedFile));
}

TEST_F(CheckTest, StrayFileBeingCollectedIsNotReported) {
  const std::string bytes = "being collected";
  const auto digest = Digest::of(bytes);
  ASSERT_TRUE(blobs_->put(digest, bytes).has_value());
  ASSERT_TRUE(stores_.gc->tombstone_orphan_blob(digest, clock_.now()).value());
  EXPECT_THAT(check(CheckOptions{.grace = 0ms}).findings, IsEmpty());
}

TEST_F(CheckTest, ManifestThatDoesNotParseCannotBeRepaired) {
  auto repo = testing::repo("team/app");
  auto image = push_image(repo, "v1");
  push_image(repo, "v2");
  // The bytes hash right, but the recorded media type contradicts the body's mediaType, so
  // they no longer parse as what the metadata says they are.
  sql("UPDATE manifests SET media_type = 'application/vnd.oci.image.index.v1+json' WHERE "
      "digest = '" +
      image.manifest.str() + "'");

  auto report = check_and_repair();
  ASSERT_THAT(kinds(report), ElementsAre(FindingKind::kBadManifest));
  EXPECT_THAT(report.findings[0].detail, HasSubstr("does not parse"));
  EXPECT_FALSE(report.findings[0].repairable);
  EXPECT_FALSE(report.findings[0].fixed);
  EXPECT_EQ(report.findings[0].remedy(),
            "delete team/app@" + image.manifest.str() + " and push again: team/app:v1");
}

TEST_F(CheckTest, IndexWhoseChildIsGoneIsReported) {
  auto repo = testing::repo("team/app");
  auto a = push_image(repo, "a");
  auto b = push_image(repo, "b");
  push_index(repo, "multi", {a, b});
  ASSERT_TRUE(stores_.metadata->delete_manifest(repo, b.manifest).value());

  auto report = check_and_repair();
  ASSERT_THAT(kinds(report), ElementsAre(FindingKind::kMissingChild));
  EXPECT_THAT(report.findings[0].detail, HasSubstr(b.manifest.str()));
  EXPECT_THAT(report.findings[0].affected, ElementsAre("team/app:multi"));
  EXPECT_EQ(report.remaining(), 1u);
}

TEST_F(CheckTest, ManifestNamingABlobNeverStoredIsReported) {
  auto repo = testing::repo("team/app");
  auto image = push_image(repo, "v1");
  // The relation row and the blob row of a layer go (as if the database lost them): the
  // manifest names bytes the metadata never heard of.
  const auto layer = image.layers[0];
  sql("DELETE FROM manifest_blobs WHERE digest = '" + layer.str() + "'");
  sql("DELETE FROM repository_blobs WHERE digest = '" + layer.str() + "'");
  sql("DELETE FROM blobs WHERE digest = '" + layer.str() + "'");
  fs::remove(blob_file(layer));

  auto report = check_and_repair();
  ASSERT_THAT(kinds(report), ElementsAre(FindingKind::kUnknownBlob));
  EXPECT_THAT(report.findings[0].detail, HasSubstr(layer.str()));
  EXPECT_EQ(report.findings[0].remedy(), "push again: team/app:v1");
}

TEST_F(CheckTest, StaleUploadLeftoversAreDeleted) {
  auto repo = testing::repo("team/app");
  const auto orphan_file = core::UploadId::generate();
  ASSERT_TRUE(blobs_->create_upload(orphan_file).has_value());
  const auto orphan_session = core::UploadId::generate();
  ASSERT_TRUE(stores_.metadata
                  ->create_upload(
                      meta::UploadRecord{orphan_session, repo, clock_.now(), clock_.now(), 0, ""})
                  .has_value());
  // A healthy upload in progress: session and file.
  auto started = registry_->start_upload(repo);
  ASSERT_TRUE(started.has_value());
  const auto healthy = *started;

  EXPECT_THAT(check().findings, IsEmpty());  // young: may be in flight
  clock_.advance(2h);
  auto report = check_and_repair();
  ASSERT_THAT(kinds(report), ElementsAre(FindingKind::kStaleUpload, FindingKind::kStaleUpload));
  EXPECT_EQ(report.findings[0].upload, orphan_file);
  EXPECT_EQ(report.findings[1].upload, orphan_session);
  EXPECT_EQ(report.remaining(), 0u);
  EXPECT_FALSE(fs::exists(dir_.path() / storage::layout::upload_key(orphan_file)));
  EXPECT_FALSE(stores_.metadata->get_upload(orphan_session)->has_value());
  EXPECT_TRUE(stores_.metadata->get_upload(healthy)->has_value());
  EXPECT_TRUE(fs::exists(dir_.path() / storage::layout::upload_key(healthy)));
}

TEST_F(CheckTest, RepairWaitsWhileGarbageCollectionHoldsTheLease) {
  const std::string bytes = "stray";
  const auto stray = Digest::of(bytes);
  ASSERT_TRUE(blobs_->put(stray, bytes).has_value());
  ASSERT_TRUE(stores_.gc->acquire_lease("gc", "collector", clock_.now(), 1h).value());

  auto c = checker(CheckOptions{.grace = 0ms});
  auto report = c.check();
  ASSERT_TRUE(report.has_value());
  ASSERT_THAT(kinds(*report), ElementsAre(FindingKind::kUnreferencedFile));
  std::promise<void> waiting;
  auto repair = std::async(std::launch::async, [&] {
    return c.repair(*report, "check-test", [&] { waiting.set_value(); });
  });
  waiting.get_future().wait();
  // While the collector holds the lease, nothing is deleted.
  EXPECT_TRUE(fs::exists(blob_file(stray)));
  ASSERT_TRUE(stores_.gc->release_lease("gc", "collector").has_value());
  auto repaired = repair.get();
  ASSERT_TRUE(repaired.has_value()) << repaired.error().message;
  EXPECT_TRUE(report->findings[0].fixed);
  EXPECT_FALSE(fs::exists(blob_file(stray)));
  // The repair gave the lease back.
  EXPECT_TRUE(stores_.gc->acquire_lease("gc", "collector", clock_.now(), 1h).value());
}

TEST_F(CheckTest, EveryKindAtOnceIsReportedOnceAndRepairedWherePossible) {
  auto repo = testing::repo("team/app");
  auto a = push_image(repo, "a");
  auto b = push_image(repo, "b");
  auto c = push_image(testing::repo("team/c"), "c");
  overwrite(blob_file(a.layers[0]), "garbage");
  fs::remove(blob_file(b.layers[1]));
  sql("DELETE FROM manifest_blobs WHERE manifest_id = (SELECT id FROM manifests WHERE digest = '" +
      c.manifest.str() + "')");
  const std::string stray = "stray bytes";
  ASSERT_TRUE(blobs_->put(Digest::of(stray), stray).has_value());

  auto report = check_and_repair(CheckOptions{.grace = 0ms});
  ASSERT_THAT(kinds(report), ::testing::UnorderedElementsAre(
                                 FindingKind::kCorruptBlob, FindingKind::kMissingBytes,
                                 FindingKind::kRelationMismatch, FindingKind::kUnreferencedFile));
  EXPECT_EQ(report.remaining(), 2u);  // the two images that need bytes pushed again
  auto after = check(CheckOptions{.grace = 0ms});
  ASSERT_THAT(kinds(after), ElementsAre(FindingKind::kMissingBytes, FindingKind::kMissingBytes));
  std::set<std::string> affected;
  for (const auto& finding : after.findings) {
    affected.insert(finding.affected.begin(), finding.affected.end());
  }
  EXPECT_THAT(affected, ElementsAre("team/app:a", "team/app:b"));
}

}  // namespace
}  // namespace berth::lifecycle
