// The garbage collector against the registry on the in-memory blob store (behind the fault
// injector) and SQLite in memory, with a fake clock: what is live and what goes, the grace,
// the dry run, what a failed file deletion leaves for the next run, the lease, and a push that
// races a collection.
#include "lifecycle/garbage_collector.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <memory>
#include <set>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "lifecycle/maintenance_lease.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "registry/registry.hpp"
#include "testing/fake_clock.hpp"
#include "testing/faulty_blob_store.hpp"
#include "testing/memory_blob_store.hpp"
#include "util/utc_time.hpp"

namespace berth::lifecycle {
namespace {

using namespace std::chrono_literals;
using core::Digest;
using core::ErrorCode;

core::RepositoryName repo(std::string_view name) {
  return core::RepositoryName::parse(name).value();
}

std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

std::string descriptor(std::string_view media_type, const Digest& digest, std::size_t size) {
  return R"({"mediaType":")" + std::string(media_type) + R"(","digest":")" + digest.str() +
         R"(","size":)" + std::to_string(size) + "}";
}

constexpr std::string_view kImage = "application/vnd.oci.image.manifest.v1+json";
constexpr std::string_view kIndex = "application/vnd.oci.image.index.v1+json";

// A GcStore that forwards to the real one and lets a test act at chosen moments of a run.
class RacingGcStore final : public meta::GcStore {
 public:
  explicit RacingGcStore(meta::GcStore& inner) : inner_(inner) {}

  std::function<void()> after_orphans_listed;
  std::function<void(const Digest&)> after_tombstone;
  // Calls of tombstone_orphan_blobs, and of tombstone_orphan_blob: each is a durable commit.
  std::size_t batch_tombstone_calls = 0;
  std::size_t single_tombstone_calls = 0;

  core::Result<std::vector<meta::ManifestCandidate>> unreachable_manifests(
      core::TimePoint cutoff, std::size_t limit) override {
    return inner_.unreachable_manifests(cutoff, limit);
  }
  core::Result<bool> delete_unreachable_manifest(const core::RepositoryName& r, const Digest& d,
                                                 core::TimePoint cutoff) override {
    return inner_.delete_unreachable_manifest(r, d, cutoff);
  }
  core::Result<std::vector<meta::LinkCandidate>> unreferenced_links(core::TimePoint cutoff,
                                                                    std::size_t limit) override {
    return inner_.unreferenced_links(cutoff, limit);
  }
  core::Result<bool> delete_unreferenced_link(const core::RepositoryName& r, const Digest& d,
                                              core::TimePoint cutoff) override {
    return inner_.delete_unreferenced_link(r, d, cutoff);
  }
  core::Result<std::vector<meta::OrphanBlob>> orphan_blobs(std::size_t limit) override {
    auto listed = inner_.orphan_blobs(limit);
    if (after_orphans_listed) {
      std::exchange(after_orphans_listed, nullptr)();
    }
    return listed;
  }
  core::Result<bool> tombstone_orphan_blob(const Digest& d, core::TimePoint now) override {
    ++single_tombstone_calls;
    auto tombstoned = inner_.tombstone_orphan_blob(d, now);
    if (tombstoned && *tombstoned && after_tombstone) {
      std::exchange(after_tombstone, nullptr)(d);
    }
    return tombstoned;
  }
  core::Result<std::vector<Digest>> tombstone_orphan_blobs(const std::vector<Digest>& digests,
                                                           core::TimePoint now) override {
    ++batch_tombstone_calls;
    auto tombstoned = inner_.tombstone_orphan_blobs(digests, now);
    if (tombstoned && !tombstoned->empty() && after_tombstone) {
      std::exchange(after_tombstone, nullptr)(tombstoned->front());
    }
    return tombstoned;
  }
  core::Result<std::vector<Digest>> tombstones() override { return inner_.tombstones(); }
  core::Result<void> clear_tombstone(const Digest& d) override { return inner_.clear_tombstone(d); }
  core::Result<bool> blob_known(const Digest& d) override { return inner_.blob_known(d); }
  core::Result<meta::GcPlan> plan(std::optional<core::TimePoint> untagged,
                                  core::TimePoint grace) override {
    return inner_.plan(untagged, grace);
  }
  core::Result<bool> acquire_lease(std::string_view name, std::string_view holder,
                                   core::TimePoint now, std::chrono::seconds ttl) override {
    return inner_.acquire_lease(name, holder, now, ttl);
  }
  core::Result<void> release_lease(std::string_view name, std::string_view holder) override {
    return inner_.release_lease(name, holder);
  }
  core::Result<void> record_run(const meta::GcRun& run) override { return inner_.record_run(run); }
  core::Result<std::vector<meta::GcRun>> recent_runs() override { return inner_.recent_runs(); }
  core::Result<std::optional<meta::LeaseHolder>> lease_holder(std::string_view name) override {
    return inner_.lease_holder(name);
  }

 private:
  meta::GcStore& inner_;
};

struct Image {
  Digest manifest = Digest::of("");
  std::vector<Digest> blobs;  // config, layers
  std::size_t manifest_size = 0;
};

class GarbageCollectorTest : public ::testing::Test {
 protected:
  GarbageCollectorTest() {
    auto faulty =
        std::make_unique<testing::FaultyBlobStore>(testing::make_memory_blob_store(clock_));
    faulty_ = faulty.get();
    blobs_ = std::move(faulty);
    stores_ = *meta::open_sqlite_stores(meta::SqliteOptions{":memory:"});
    registry_ = std::make_unique<registry::Registry>(*blobs_, *stores_.metadata, clock_);
    racing_ = std::make_unique<RacingGcStore>(*stores_.gc);
    gc_ = std::make_unique<GarbageCollector>(*racing_, *blobs_, clock_);
  }

  Digest push_blob(std::string_view repository, std::string_view content) {
    auto lease = registry_->start_single_request_upload(repo(repository));
    if (!lease || !lease->append(bytes_of(content))) {
      throw std::runtime_error("upload failed");
    }
    auto blob = registry_->finish_upload(std::move(*lease), Digest::of(content));
    if (!blob) {
      throw std::runtime_error("finish_upload: " + blob.error().message);
    }
    return blob->digest;
  }

  Digest put_manifest(std::string_view repository, std::string_view reference,
                      const std::string& json, std::string_view media_type) {
    auto put = registry_->put_manifest(repo(repository), *core::Reference::parse(reference), json,
                                       media_type, {});
    if (!put) {
      throw std::runtime_error("put_manifest: " + put.error().message);
    }
    return put->digest;
  }

  // An image with a config and `layers` (contents), tagged `tag` (by digest when empty).
  // `extra` goes into the manifest's JSON (a subject, an artifactType).
  Image push_image(std::string_view repository, std::string_view tag,
                   const std::vector<std::string>& layers, const std::string& extra = "") {
    Image image;
    const std::string config = R"({"os":"linux","name":")" + std::string(tag) + "\"}";
    image.blobs.push_back(push_blob(repository, config));
    std::string json =
        R"({"schemaVersion":2,"mediaType":")" + std::string(kImage) + R"(","config":)" +
        descriptor("application/vnd.oci.image.config.v1+json", image.blobs[0], config.size()) +
        R"(,"layers":[)";
    for (std::size_t i = 0; i < layers.size(); ++i) {
      image.blobs.push_back(push_blob(repository, layers[i]));
      json += (i ? "," : "") + descriptor("application/vnd.oci.image.layer.v1.tar",
                                          image.blobs.back(), layers[i].size());
    }
    json += "]" + extra + "}";
    image.manifest_size = json.size();
    image.manifest =
        put_manifest(repository, tag.empty() ? Digest::of(json).str() : tag, json, kImage);
    return image;
  }

  Digest push_index(std::string_view repository, std::string_view tag,
                    const std::vector<Image>& children) {
    std::string json =
        R"({"schemaVersion":2,"mediaType":")" + std::string(kIndex) + R"(","manifests":[)";
    for (std::size_t i = 0; i < children.size(); ++i) {
      json += (i ? "," : "") + descriptor(kImage, children[i].manifest, children[i].manifest_size);
    }
    json += "]}";
    return put_manifest(repository, tag.empty() ? Digest::of(json).str() : tag, json, kIndex);
  }

  std::string subject_of(const Image& image) {
    return R"(,"artifactType":"application/example","subject":)" +
           descriptor(kImage, image.manifest, image.manifest_size);
  }

  bool stored(const Digest& digest) { return blobs_->stat(digest).value().has_value(); }
  bool linked(std::string_view repository, const Digest& digest) {
    return stores_.metadata->linked_blob(repo(repository), digest).value().has_value();
  }
  bool manifest_exists(std::string_view repository, const Digest& digest) {
    return stores_.metadata->get_manifest(repo(repository), digest).value().has_value();
  }
  std::size_t stored_blobs() {
    std::size_t count = 0;
    EXPECT_TRUE(blobs_->for_each_blob([&](const Digest&, std::uint64_t) { ++count; }));
    return count;
  }

  GcReport run(GcOptions options = {}) {
    auto report = gc_->run(options);
    if (!report) {
      throw std::runtime_error("gc: " + report.error().message);
    }
    return *report;
  }

  static std::string listing(const GcReport& report) {
    std::string out;
    for (const auto& item : items(report)) {
      out += item + "\n";
    }
    return out;
  }

  static std::set<std::string> items(const GcReport& report) {
    std::set<std::string> out;
    for (const auto& item : report.removed) {
      out.insert(std::string(item_kind_name(item.kind)) + " " + item.repository + "@" +
                 item.digest.str() + " " + std::to_string(item.size));
    }
    return out;
  }

  testing::FakeClock clock_;
  testing::FaultyBlobStore* faulty_ = nullptr;
  std::unique_ptr<storage::BlobStore> blobs_;
  meta::SqliteStores stores_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<RacingGcStore> racing_;
  std::unique_ptr<GarbageCollector> gc_;
};

GcOptions collect_untagged() {
  GcOptions options;
  options.untagged_after = 1h;
  return options;
}

TEST_F(GarbageCollectorTest, EverythingATagReachesIsKept) {
  auto image = push_image("app", "v1", {"layer one", "layer two"});
  auto amd = push_image("app", "", {"amd layer"});
  auto arm = push_image("app", "", {"arm layer"});
  auto index = push_index("app", "multi", {amd, arm});
  clock_.advance(48h);

  auto report = run(collect_untagged());
  EXPECT_TRUE(report.removed.empty()) << listing(report);
  EXPECT_TRUE(report.errors.empty());
  for (const auto* each : {&image, &amd, &arm}) {
    EXPECT_TRUE(manifest_exists("app", each->manifest));
    for (const auto& blob : each->blobs) {
      EXPECT_TRUE(stored(blob) && linked("app", blob)) << blob.str();
    }
  }
  EXPECT_TRUE(manifest_exists("app", index) && stored(index));
}

TEST_F(GarbageCollectorTest, UntaggedManifestsGoOnlyWhenAskedAndTakeWhatOnlyTheyHeld) {
  auto kept = push_image("app", "v1", {"shared layer"});
  auto untagged = push_image("app", "", {"shared layer", "own layer"});
  const auto config_size = blobs_->stat(untagged.blobs[0]).value().value();
  clock_.advance(48h);

  auto report = run();
  EXPECT_TRUE(report.removed.empty()) << "untagged manifests are kept by default";
  EXPECT_TRUE(manifest_exists("app", untagged.manifest));

  report = run(collect_untagged());
  EXPECT_TRUE(report.errors.empty());
  EXPECT_EQ(report.manifests_removed, 1u);
  EXPECT_FALSE(manifest_exists("app", untagged.manifest));
  EXPECT_FALSE(stored(untagged.manifest));
  EXPECT_FALSE(stored(untagged.blobs[0])) << "its config";
  EXPECT_FALSE(stored(untagged.blobs[2])) << "its own layer";
  EXPECT_TRUE(stored(untagged.blobs[1])) << "the layer the tagged image shares";
  EXPECT_TRUE(linked("app", kept.blobs[1]));
  // Config, own layer and manifest bytes: the three blobs reclaimed.
  EXPECT_EQ(report.blobs_removed, 3u);
  std::uint64_t bytes = 0;
  for (const auto& item : report.removed) {
    if (item.kind == GcItemKind::kBlob) {
      bytes += item.size;
    }
  }
  EXPECT_EQ(report.bytes_reclaimed, bytes);
  EXPECT_EQ(bytes, untagged.manifest_size + std::string("own layer").size() + config_size);
}

TEST_F(GarbageCollectorTest, ReferrersLiveWithTheirSubjectAndGoWithIt) {
  auto subject = push_image("app", "v1", {"subject layer"});
  auto signature = push_image("app", "", {"signature blob"}, subject_of(subject));
  clock_.advance(48h);

  auto report = run(collect_untagged());
  EXPECT_TRUE(report.removed.empty());
  EXPECT_TRUE(manifest_exists("app", signature.manifest));

  ASSERT_TRUE(registry_->delete_manifest(repo("app"), *core::Reference::parse("v1")));
  clock_.advance(48h);
  report = run(collect_untagged());
  EXPECT_EQ(report.manifests_removed, 2u);
  EXPECT_FALSE(manifest_exists("app", subject.manifest));
  EXPECT_FALSE(manifest_exists("app", signature.manifest));
  EXPECT_FALSE(stored(signature.blobs[1]));
  EXPECT_FALSE(stored(subject.blobs[1]));
}

TEST_F(GarbageCollectorTest, IndexChildrenGoWithTheirIndex) {
  auto amd = push_image("app", "", {"amd layer"});
  auto arm = push_image("app", "", {"arm layer"});
  auto index = push_index("app", "multi", {amd, arm});
  ASSERT_TRUE(registry_->delete_manifest(repo("app"), *core::Reference::parse("multi")));
  clock_.advance(48h);

  auto report = run(collect_untagged());
  EXPECT_EQ(report.manifests_removed, 3u);
  for (const auto& gone : {index, amd.manifest, arm.manifest, amd.blobs[1], arm.blobs[1]}) {
    EXPECT_FALSE(stored(gone)) << gone.str();
  }
  EXPECT_EQ(stored_blobs(), 0u);
}

TEST_F(GarbageCollectorTest, SharedBlobsStayWhileAnyRepositoryLinksThem) {
  auto one = push_image("one", "first", {"shared"});
  auto two = push_image("two", "second", {"shared"});
  ASSERT_EQ(one.blobs[1], two.blobs[1]);
  ASSERT_TRUE(registry_->delete_manifest(repo("two"), *core::Reference::parse(two.manifest.str())));
  clock_.advance(48h);

  auto report = run();
  EXPECT_FALSE(linked("two", two.blobs[1]));
  EXPECT_TRUE(linked("one", one.blobs[1]));
  EXPECT_TRUE(stored(one.blobs[1]));
  EXPECT_EQ(report.links_removed, 2u) << "two's config and layer";
  EXPECT_EQ(report.blobs_removed, 2u) << "two's config and manifest; the layer is shared";

  ASSERT_TRUE(registry_->delete_manifest(repo("one"), *core::Reference::parse(one.manifest.str())));
  clock_.advance(48h);
  run();
  EXPECT_FALSE(stored(one.blobs[1]));
  EXPECT_EQ(stored_blobs(), 0u);
}

TEST_F(GarbageCollectorTest, TheGraceKeepsBlobsOfAPushInProgressAndYoungFiles) {
  auto pending = push_blob("app", "uploaded, manifest not yet put");
  auto stray = Digest::of("a file nothing knows");
  ASSERT_TRUE(blobs_->put(stray, "a file nothing knows"));
  clock_.advance(23h);

  auto report = run();
  EXPECT_TRUE(report.removed.empty());
  EXPECT_TRUE(stored(pending) && linked("app", pending));
  EXPECT_TRUE(stored(stray));

  clock_.advance(2h);
  report = run();
  EXPECT_FALSE(stored(pending));
  EXPECT_FALSE(stored(stray));
  EXPECT_EQ(report.links_removed, 1u);
  EXPECT_EQ(report.blobs_removed, 1u);
  EXPECT_EQ(report.files_swept, 1u);
  EXPECT_EQ(report.bytes_reclaimed, std::string("uploaded, manifest not yet put").size() +
                                        std::string("a file nothing knows").size());
}

TEST_F(GarbageCollectorTest, WithoutTheStorageSweepACollectionNeverListsTheStorage) {
  auto orphan = push_blob("app", "linked, then unlinked");
  auto stray = Digest::of("a file nothing knows");
  ASSERT_TRUE(blobs_->put(stray, "a file nothing knows"));
  clock_.advance(25h);
  // Any listing of the storage now fails the run's sweep.
  faulty_->fail_from(testing::FaultyBlobStore::Op::kList, 1);

  GcOptions without_sweep;
  without_sweep.sweep_storage = false;
  auto report = run(without_sweep);
  EXPECT_TRUE(report.errors.empty()) << listing(report);
  EXPECT_EQ(report.blobs_removed, 1u) << "the metadata alone finds the orphan";
  EXPECT_FALSE(stored(orphan));
  EXPECT_TRUE(stored(stray)) << "unknown files wait for a sweep";
  GcOptions dry_run_without_sweep = without_sweep;
  dry_run_without_sweep.dry_run = true;
  auto planned = run(dry_run_without_sweep);
  EXPECT_TRUE(planned.errors.empty()) << "nor does its dry run";

  report = run();
  EXPECT_EQ(report.errors.size(), 1u) << "the sweep (on by default) lists the storage";
  faulty_->clear();
  report = run();
  EXPECT_EQ(report.files_swept, 1u);
  EXPECT_FALSE(stored(stray));
}

TEST_F(GarbageCollectorTest, UploadingAgainRestartsTheGrace) {
  auto layer = push_blob("app", "layer");
  clock_.advance(25h);
  push_blob("app", "layer");  // a new push of the same content, its manifest still to come
  auto report = run();
  EXPECT_TRUE(report.removed.empty());
  EXPECT_TRUE(stored(layer) && linked("app", layer));
}

TEST_F(GarbageCollectorTest, DryRunChangesNothingAndListsExactlyWhatARunRemoves) {
  push_image("app", "v1", {"shared", "kept"});
  auto dead = push_image("app", "", {"shared", "dead"});
  push_image("app", "", {"signature"}, subject_of(dead));
  push_blob("other", "shared");
  push_blob("app", "loose");
  ASSERT_TRUE(blobs_->put(Digest::of("stray"), "stray"));
  clock_.advance(48h);
  push_blob("app", "young loose");
  const auto before = stored_blobs();

  GcOptions dry = collect_untagged();
  dry.dry_run = true;
  auto planned = run(dry);
  EXPECT_TRUE(planned.dry_run);
  EXPECT_EQ(stored_blobs(), before);
  EXPECT_TRUE(manifest_exists("app", dead.manifest));
  EXPECT_TRUE(linked("app", Digest::of("loose")));

  auto report = run(collect_untagged());
  EXPECT_FALSE(report.dry_run);
  EXPECT_EQ(items(planned), items(report));
  EXPECT_EQ(planned.bytes_reclaimed, report.bytes_reclaimed);
  EXPECT_EQ(planned.manifests_removed, 2u);
  EXPECT_EQ(planned.files_swept, 1u);
  EXPECT_EQ(stored_blobs(), before - report.blobs_removed - report.files_swept);
  EXPECT_TRUE(stored(Digest::of("shared")));
  EXPECT_TRUE(stored(Digest::of("young loose")));
}

TEST_F(GarbageCollectorTest, AFailedFileDeletionLeavesItsTombstoneForTheNextRun) {
  auto loose = push_blob("app", "loose");
  clock_.advance(48h);
  faulty_->fail_nth(testing::FaultyBlobStore::Op::kRemove, 1);

  auto report = run();
  EXPECT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.blobs_removed, 0u);
  EXPECT_TRUE(stored(loose));
  EXPECT_EQ(stores_.gc->tombstones().value(), std::vector<Digest>{loose});
  // Meanwhile nobody may link it: a push would publish bytes that are about to go.
  EXPECT_FALSE(stores_.metadata->link_blob(repo("app"), {loose, 5}, clock_.now()));

  report = run();
  EXPECT_TRUE(report.errors.empty());
  EXPECT_EQ(report.tombstones_finished, 1u);
  EXPECT_EQ(report.bytes_reclaimed, 5u);
  EXPECT_FALSE(stored(loose));
  EXPECT_TRUE(stores_.gc->tombstones().value().empty());
}

TEST_F(GarbageCollectorTest, FinishTombstonesAtStartIsStepOneAlone) {
  auto loose = push_blob("app", "loose");
  clock_.advance(48h);
  ASSERT_TRUE(stores_.gc->delete_unreferenced_link(repo("app"), loose, clock_.now()).value());
  ASSERT_TRUE(stores_.gc->tombstone_orphan_blob(loose, clock_.now()).value());  // then killed
  push_blob("app", "young");

  auto report = gc_->finish_tombstones();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->tombstones_finished, 1u);
  EXPECT_EQ(report->removed.size(), 1u);
  EXPECT_FALSE(stored(loose));
  EXPECT_TRUE(stored(Digest::of("young")));
}

TEST_F(GarbageCollectorTest, EveryFinishedRunIsRecordedWithWhoStartedIt) {
  push_blob("app", "loose");
  clock_.advance(48h);
  GcOptions dry;
  dry.dry_run = true;
  dry.started_by = "alice";
  EXPECT_EQ(run(dry).blobs_removed, 1u);
  GcOptions scheduled;
  scheduled.started_by = "schedule";
  EXPECT_EQ(run(scheduled).blobs_removed, 1u);
  auto runs = stores_.gc->recent_runs().value();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].started_by, "schedule");
  EXPECT_FALSE(runs[0].dry_run);
  EXPECT_NE(runs[0].report_json.find("\"blobs_removed\":1"), std::string::npos)
      << runs[0].report_json;
  EXPECT_EQ(runs[1].started_by, "alice");
  EXPECT_TRUE(runs[1].dry_run);
}

TEST_F(GarbageCollectorTest, ASecondCollectorIsToldOneIsRunning) {
  push_blob("app", "loose");
  clock_.advance(48h);
  ASSERT_TRUE(
      stores_.gc->acquire_lease(kGcLeaseName, "berth gc elsewhere", clock_.now(), 60s).value());

  auto refused = gc_->run({});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  // Named, so that an operator whose backup holds the lease does not look for another gc.
  EXPECT_NE(refused.error().message.find("held by berth gc elsewhere"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("lapses at " +
                                         util::format_utc(clock_.now() + std::chrono::seconds(60))),
            std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(gc_->finish_tombstones());
  EXPECT_TRUE(stored(Digest::of("loose")));
  GcOptions dry;
  dry.dry_run = true;
  EXPECT_EQ(run(dry).blobs_removed, 1u) << "a dry run needs no lease";

  ASSERT_TRUE(stores_.gc->release_lease(kGcLeaseName, "berth gc elsewhere"));
  EXPECT_EQ(run().blobs_removed, 1u);
  EXPECT_TRUE(stores_.gc->acquire_lease(kGcLeaseName, "next", clock_.now(), 60s).value())
      << "the run released the lease";
}

TEST_F(GarbageCollectorTest, APushBetweenListingAndTombstoningKeepsTheBlob) {
  auto layer = push_blob("app", "layer");
  clock_.advance(48h);
  ASSERT_TRUE(stores_.gc->delete_unreferenced_link(repo("app"), layer, clock_.now()).value());
  racing_->after_orphans_listed = [&] { push_blob("other", "layer"); };

  auto report = run();
  EXPECT_EQ(report.blobs_removed, 0u);
  EXPECT_TRUE(stored(layer));
  EXPECT_TRUE(linked("other", layer));
}

// Regression: every orphan blob was tombstoned in its own durable transaction, one fsync per
// blob, so collecting 4000 blobs took half a minute on a busy disk. They are tombstoned in
// chunks now, one commit per chunk, and still each is re-checked.
TEST_F(GarbageCollectorTest, OrphanBlobsAreTombstonedInChunksNotOneCommitEach) {
  std::vector<Digest> layers;
  for (int i = 0; i < 150; ++i) {
    layers.push_back(push_blob("app", "orphan " + std::to_string(i)));
  }
  auto kept = push_image("app", "v1", {"kept layer"});
  clock_.advance(48h);
  auto report = run();
  EXPECT_EQ(report.links_removed, 150u);
  EXPECT_EQ(report.blobs_removed, 150u);
  EXPECT_TRUE(report.errors.empty());
  EXPECT_EQ(racing_->single_tombstone_calls, 0u);
  EXPECT_EQ(racing_->batch_tombstone_calls, 3u) << "150 orphans in chunks of 64";
  for (const auto& layer : layers) {
    EXPECT_FALSE(stored(layer));
  }
  for (const auto& blob : kept.blobs) {
    EXPECT_TRUE(stored(blob));
  }
  EXPECT_TRUE(stores_.gc->tombstones().value().empty());
}

// The bytes of the orphans of one listed batch go in one remove_many() (one DeleteObjects on
// S3, up to 1,000 keys), not one request per blob; and so do the tombstones a killed run left.
TEST_F(GarbageCollectorTest, OrphanBytesAreDeletedInBatchesNotOneRequestEach) {
  std::vector<Digest> layers;
  for (int i = 0; i < 150; ++i) {
    layers.push_back(push_blob("app", "orphan " + std::to_string(i)));
  }
  clock_.advance(48h);
  const int removes_before = faulty_->removes();
  auto report = run();
  EXPECT_EQ(report.blobs_removed, 150u);
  EXPECT_TRUE(report.errors.empty());
  EXPECT_EQ(faulty_->remove_many_calls(), 1) << "150 orphans of one batch, one request";
  EXPECT_EQ(faulty_->removes() - removes_before, 150) << "each removed once, through remove_many";
  for (const auto& layer : layers) {
    EXPECT_FALSE(stored(layer));
  }

  // Tombstones left by a run killed before it deleted the bytes.
  std::vector<Digest> left;
  for (int i = 0; i < 3; ++i) {
    left.push_back(push_blob("app", "left " + std::to_string(i)));
  }
  clock_.advance(48h);
  for (const auto& digest : left) {
    ASSERT_TRUE(stores_.gc->delete_unreferenced_link(repo("app"), digest, clock_.now()).value());
    ASSERT_TRUE(stores_.gc->tombstone_orphan_blob(digest, clock_.now()).value());
  }
  auto finished = gc_->finish_tombstones();
  ASSERT_TRUE(finished);
  EXPECT_EQ(finished->tombstones_finished, 3u);
  EXPECT_EQ(faulty_->remove_many_calls(), 2);
  EXPECT_TRUE(stores_.gc->tombstones().value().empty());
}

// A server shutting down stops its collection at the drain deadline: between safe steps, never
// inside one. The chunk of orphans it had tombstoned is finished (no tombstone left behind),
// the lease is released, and the next run removes the rest.
TEST_F(GarbageCollectorTest, AStoppedRunEndsBetweenStepsAndTheNextFinishesTheRest) {
  std::vector<Digest> layers;
  for (int i = 0; i < 150; ++i) {
    layers.push_back(push_blob("app", "orphan " + std::to_string(i)));
  }
  auto kept = push_image("app", "v1", {"kept layer"});
  clock_.advance(48h);
  std::stop_source stop;
  // Asked to stop in the middle of the first chunk: after its tombstones, before its bytes go.
  racing_->after_tombstone = [&](const Digest&) { stop.request_stop(); };
  GcOptions options;
  options.stop = stop.get_token();

  auto report = run(options);
  EXPECT_TRUE(report.cancelled);
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_NE(report.errors[0].find("stopped early"), std::string::npos) << report.errors[0];
  EXPECT_EQ(report.links_removed, 150u);
  EXPECT_EQ(report.blobs_removed, 64u) << "the chunk begun is finished, no other";
  EXPECT_EQ(racing_->batch_tombstone_calls, 1u);
  EXPECT_TRUE(stores_.gc->tombstones().value().empty()) << "nothing left half done";
  EXPECT_EQ(stored_blobs(), 150u - 64u + kept.blobs.size() + 1)
      << "the other orphans, the image's blobs and its manifest stay for now";
  EXPECT_TRUE(stores_.gc->acquire_lease(kGcLeaseName, "next", clock_.now(), 60s).value())
      << "the stopped run released the lease";
  ASSERT_TRUE(stores_.gc->release_lease(kGcLeaseName, "next"));

  report = run();
  EXPECT_FALSE(report.cancelled);
  EXPECT_TRUE(report.errors.empty());
  EXPECT_EQ(report.blobs_removed, 150u - 64u);
  for (const auto& layer : layers) {
    EXPECT_FALSE(stored(layer));
  }
  for (const auto& blob : kept.blobs) {
    EXPECT_TRUE(stored(blob));
  }
}

TEST_F(GarbageCollectorTest, FinishingTombstonesStopsBetweenTombstones) {
  auto first = push_blob("app", "first");
  auto second = push_blob("app", "second");
  clock_.advance(48h);
  for (const auto& digest : {first, second}) {
    ASSERT_TRUE(stores_.gc->delete_unreferenced_link(repo("app"), digest, clock_.now()).value());
    ASSERT_TRUE(stores_.gc->tombstone_orphan_blob(digest, clock_.now()).value());  // then killed
  }
  std::stop_source stop;
  stop.request_stop();
  auto report = gc_->finish_tombstones(stop.get_token());
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->cancelled);
  EXPECT_EQ(report->tombstones_finished, 0u);
  EXPECT_EQ(stores_.gc->tombstones().value().size(), 2u) << "left for the next start or run";

  report = gc_->finish_tombstones();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->tombstones_finished, 2u);
  EXPECT_FALSE(stored(first));
  EXPECT_FALSE(stored(second));
}

TEST_F(GarbageCollectorTest, APushWhileTheBytesAreBeingDeletedPublishesThemAgain) {
  auto layer = push_blob("app", "layer");
  clock_.advance(48h);
  std::thread pusher;
  std::string failure;
  std::promise<void> collected;
  std::shared_future<void> collection_over = collected.get_future().share();
  // The push starts with the tombstone written and the bytes not yet deleted; it may get
  // anywhere before the collector goes on. Refused while the digest is tombstoned, it tries
  // again once the collection is over, as the api layer does after a pause. Whatever the
  // order, it must end with the bytes.
  racing_->after_tombstone = [&](const Digest&) {
    pusher = std::thread([&] {
      auto lease = registry_->start_single_request_upload(repo("other"));
      if (!lease || !lease->append(bytes_of("layer"))) {
        failure = "upload failed";
        return;
      }
      auto blob = registry_->try_finish_upload(*lease, layer);
      if (!blob && blob.error().is(core::ErrorReason::kBlobBeingCollected)) {
        collection_over.wait();
        blob = registry_->try_finish_upload(*lease, layer);
      }
      if (!blob) {
        failure = blob.error().message;
      }
    });
  };
  auto report = run();
  collected.set_value();
  pusher.join();
  EXPECT_EQ(failure, "");
  EXPECT_EQ(report.blobs_removed, 1u) << "the collection deleted the bytes";
  EXPECT_TRUE(linked("other", layer));
  ASSERT_TRUE(stored(layer)) << "the push published them again";
  auto reader = registry_->open_blob(repo("other"), layer);
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->size(), 5u);
}

}  // namespace
}  // namespace berth::lifecycle
