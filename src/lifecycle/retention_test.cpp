// Retention scenarios against the registry on the in-memory blob store and SQLite, with a fake
// clock: keep-N, age, not-pulled, include/exclude patterns, "any" versus "all",
// multi-platform indexes and referrers, immutable tags, the bytes a plan frees, that apply
// deletes exactly what preview listed, and the schedule.
#include "lifecycle/retention.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "core/media_type.hpp"
#include "lifecycle/registry_policy_impl.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "registry/registry.hpp"
#include "testing/fake_clock.hpp"
#include "testing/memory_blob_store.hpp"
#include "testing/registry_test_data.hpp"

namespace berth::lifecycle {
namespace {

using berth::testing::bytes_of;
using berth::testing::descriptor;
using berth::testing::repo;

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

struct Pushed {
  core::Digest digest;
  std::string bytes;
};

class RetentionTest : public ::testing::Test {
 protected:
  RetentionTest() {
    blobs_ = testing::make_memory_blob_store(clock_);
    stores_ = meta::open_sqlite_stores(meta::SqliteOptions{":memory:"}).value();
    policy_ = std::make_unique<RegistryPolicyImpl>(*stores_.policies, *stores_.metadata, clock_);
    registry_ = std::make_unique<registry::Registry>(*blobs_, *stores_.metadata, clock_,
                                                     registry::RegistryOptions{}, policy_.get());
    retention_ = std::make_unique<Retention>(*stores_.policies, clock_);
    EXPECT_TRUE(stores_.accounts->create_project(meta::Project{"app", false, clock_.now()}));
  }

  core::Digest push_blob(const core::RepositoryName& repository, std::string_view content) {
    auto lease = registry_->start_single_request_upload(repository);
    EXPECT_TRUE(lease.has_value());
    EXPECT_TRUE(lease->append(bytes_of(content)).has_value());
    auto blob = registry_->finish_upload(std::move(*lease), core::Digest::of(content));
    EXPECT_TRUE(blob.has_value()) << (blob ? "" : blob.error().message);
    return core::Digest::of(content);
  }

  Pushed put(const core::RepositoryName& repository, std::string_view reference,
             const std::string& bytes, std::string_view media_type) {
    auto result = registry_->put_manifest(repository, core::Reference::parse(reference).value(),
                                          bytes, media_type, {});
    EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().message);
    return Pushed{core::Digest::of(bytes), bytes};
  }

  // An image of a config and the given layers, tagged (or by digest when tag is empty).
  Pushed image(const core::RepositoryName& repository, std::string_view tag,
               const std::vector<std::string>& layers, std::string_view subject = {}) {
    const std::string config =
        R"({"architecture":"amd64","os":"linux","n":")" + std::to_string(++counter_) + "\"}";
    auto config_digest = push_blob(repository, config);
    std::string json =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
        R"("config":)" +
        descriptor("application/vnd.oci.image.config.v1+json", config_digest, config.size()) +
        R"(,"layers":[)";
    for (std::size_t i = 0; i < layers.size(); ++i) {
      auto digest = push_blob(repository, layers[i]);
      json += (i ? "," : "") +
              descriptor("application/vnd.oci.image.layer.v1.tar", digest, layers[i].size());
    }
    json += "]";
    if (!subject.empty()) {
      json += R"(,"subject":)" + std::string(subject);
    }
    json += "}";
    if (tag.empty()) {
      return put(repository, core::Digest::of(json).str(), json, core::media_type::kOciManifest);
    }
    return put(repository, tag, json, core::media_type::kOciManifest);
  }

  Pushed index(const core::RepositoryName& repository, std::string_view tag,
               const std::vector<Pushed>& children) {
    std::string json =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)";
    for (std::size_t i = 0; i < children.size(); ++i) {
      json += (i ? "," : "") + descriptor(core::media_type::kOciManifest, children[i].digest,
                                          children[i].bytes.size());
    }
    json += "]}";
    return put(repository, tag, json, core::media_type::kOciIndex);
  }

  void set_policy(std::string_view json, std::vector<std::string> immutable = {}) {
    meta::ProjectSettings settings;
    settings.retention_json = std::string(json);
    settings.immutable_tags = std::move(immutable);
    ASSERT_TRUE(stores_.policies->set_settings("app", settings));
  }

  std::vector<std::string> tags_of(std::string_view name) {
    auto page = registry_->list_tags(repo(name), std::nullopt, "");
    EXPECT_TRUE(page.has_value());
    return page ? page->names : std::vector<std::string>{};
  }

  bool has_manifest(std::string_view name, const core::Digest& digest) {
    return stores_.metadata->get_manifest(repo(name), digest).value().has_value();
  }

  static std::vector<std::string> planned_tags(const RetentionPlan& plan) {
    std::vector<std::string> out;
    for (const auto& tag : plan.tags) {
      out.push_back(tag.ref.repository.str() + ":" + tag.ref.tag.str());
    }
    return out;
  }
  static std::set<std::string> planned_manifests(const RetentionPlan& plan) {
    std::set<std::string> out;
    for (const auto& manifest : plan.manifests) {
      out.insert(manifest.repository.str() + "@" + manifest.digest.str());
    }
    return out;
  }
  static std::string at(std::string_view name, const Pushed& pushed) {
    return std::string(name) + "@" + pushed.digest.str();
  }

  // Previews, applies, and checks that apply deleted exactly the preview.
  RetentionOutcome preview_then_apply(RetentionPlan* preview_out = nullptr) {
    auto preview = retention_->preview("app");
    EXPECT_TRUE(preview.has_value()) << (preview ? "" : preview.error().message);
    auto outcome = retention_->apply("app");
    EXPECT_TRUE(outcome.has_value()) << (outcome ? "" : outcome.error().message);
    if (!preview || !outcome) {
      return {};
    }
    EXPECT_EQ(planned_tags(outcome->plan), planned_tags(*preview));
    EXPECT_EQ(planned_manifests(outcome->plan), planned_manifests(*preview));
    EXPECT_EQ(outcome->plan.freed_bytes, preview->freed_bytes);
    std::vector<std::string> deleted_tags;
    for (const auto& tag : outcome->deleted.tags) {
      deleted_tags.push_back(tag.repository.str() + ":" + tag.tag.str());
    }
    std::set<std::string> deleted_manifests;
    for (const auto& manifest : outcome->deleted.manifests) {
      deleted_manifests.insert(manifest.repository.str() + "@" + manifest.digest.str());
    }
    EXPECT_EQ(deleted_tags, planned_tags(*preview));
    EXPECT_EQ(deleted_manifests, planned_manifests(*preview));
    EXPECT_EQ(outcome->skipped_tags + outcome->skipped_manifests, 0u);
    EXPECT_EQ(outcome->freed_bytes, preview->freed_bytes);
    if (preview_out != nullptr) {
      *preview_out = *preview;
    }
    return std::move(*outcome);
  }

  testing::FakeClock clock_;
  std::unique_ptr<storage::BlobStore> blobs_;
  meta::SqliteStores stores_;
  std::unique_ptr<RegistryPolicyImpl> policy_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<Retention> retention_;
  int counter_ = 0;
};

TEST_F(RetentionTest, WithoutAPolicyThereIsNothingToPreview) {
  auto preview = retention_->preview("app");
  ASSERT_FALSE(preview);
  EXPECT_EQ(preview.error().code, core::ErrorCode::kNotFound);
  EXPECT_FALSE(retention_->apply("app"));
}

TEST_F(RetentionTest, KeepLastKeepsTheNewestTagsOfEachRepository) {
  for (int i = 1; i <= 5; ++i) {
    image(repo("app/web"), "v" + std::to_string(i), {"web layer " + std::to_string(i)});
    clock_.advance(1h);
  }
  image(repo("app/api"), "a1", {"api 1"});
  clock_.advance(1h);
  image(repo("app/api"), "a2", {"api 2"});
  set_policy(R"({"rules": {"keep_last": 3}})");

  preview_then_apply();
  EXPECT_THAT(tags_of("app/web"), ElementsAre("v3", "v4", "v5"));
  EXPECT_THAT(tags_of("app/api"), ElementsAre("a1", "a2"));
}

TEST_F(RetentionTest, KeepLastCountsRePushesAsNewAndBreaksTiesByName) {
  image(repo("app/web"), "b", {"b"});
  image(repo("app/web"), "c", {"c"});  // same millisecond as b: c counts as newer
  clock_.advance(1h);
  image(repo("app/web"), "a", {"a"});
  set_policy(R"({"rules": {"keep_last": 2}})");
  auto plan = retention_->preview("app").value();
  EXPECT_THAT(planned_tags(plan), ElementsAre("app/web:b"));
  EXPECT_THAT(plan.tags[0].reasons, ElementsAre("keep_last"));
}

TEST_F(RetentionTest, MaxAgeDeletesTagsPushedBeforeTheCutoff) {
  image(repo("app/web"), "day0", {"0"});
  clock_.advance(24h * 10);
  image(repo("app/web"), "day10", {"10"});
  clock_.advance(24h * 10);
  image(repo("app/web"), "day20", {"20"});
  clock_.advance(24h * 5);  // now: day 25
  set_policy(R"({"rules": {"max_age_days": 14}})");

  auto outcome = preview_then_apply();
  EXPECT_THAT(planned_tags(outcome.plan), ElementsAre("app/web:day0", "app/web:day10"));
  EXPECT_THAT(tags_of("app/web"), ElementsAre("day20"));
}

TEST_F(RetentionTest, NotPulledLooksAtTheLastPullOrThePush) {
  auto by_tag = image(repo("app/web"), "pulled-by-tag", {"1"});
  auto by_digest = image(repo("app/web"), "pulled-by-digest", {"2"});
  image(repo("app/web"), "never-pulled", {"3"});
  clock_.advance(24h * 20);
  image(repo("app/web"), "young", {"4"});
  ASSERT_TRUE(
      registry_->get_manifest(repo("app/web"), core::Reference::parse("pulled-by-tag").value()));
  ASSERT_TRUE(registry_->get_manifest(repo("app/web"),
                                      core::Reference::parse(by_digest.digest.str()).value()));
  ASSERT_TRUE(policy_->flush());
  clock_.advance(24h * 11);  // now: day 31
  set_policy(R"({"rules": {"not_pulled_days": 30}})");

  auto outcome = preview_then_apply();
  EXPECT_THAT(planned_tags(outcome.plan), ElementsAre("app/web:never-pulled"));
  EXPECT_THAT(tags_of("app/web"), ElementsAre("pulled-by-digest", "pulled-by-tag", "young"));
  EXPECT_TRUE(has_manifest("app/web", by_tag.digest));
}

TEST_F(RetentionTest, IncludeAndExcludePatternsChooseTheCandidates) {
  for (const char* tag : {"build-1", "build-2", "build-keep-3", "latest", "v1.0"}) {
    image(repo("app/web"), tag, {std::string("layer ") + tag});
    clock_.advance(1min);
  }
  set_policy(R"({"include": ["build-*", "v*"], "exclude": ["build-keep*", "v1.?"],
                 "rules": {"keep_last": 0}})");
  auto outcome = preview_then_apply();
  EXPECT_THAT(planned_tags(outcome.plan), ElementsAre("app/web:build-1", "app/web:build-2"));
  EXPECT_THAT(tags_of("app/web"), ElementsAre("build-keep-3", "latest", "v1.0"));
}

TEST_F(RetentionTest, AnyDeletesWhatOneRuleCallsForAllWhatEveryRuleDoes) {
  // Pushed on days 0, 1, 2, 20, 21; now day 22.
  for (int day : {0, 1, 2, 20, 21}) {
    clock_.set(core::from_unix_ms(1'700'000'000'000) + 24h * day);
    image(repo("app/web"), "d" + std::to_string(day), {"day " + std::to_string(day)});
  }
  clock_.set(core::from_unix_ms(1'700'000'000'000) + 24h * 22);

  set_policy(R"({"match": "any", "rules": {"keep_last": 4, "max_age_days": 14}})");
  EXPECT_THAT(planned_tags(retention_->preview("app").value()),
              ElementsAre("app/web:d0", "app/web:d1", "app/web:d2"));
  auto any = retention_->preview("app").value();
  EXPECT_THAT(any.tags[0].reasons, ElementsAre("keep_last", "max_age_days"));
  EXPECT_THAT(any.tags[1].reasons, ElementsAre("max_age_days"));

  set_policy(R"({"match": "all", "rules": {"keep_last": 4, "max_age_days": 14}})");
  auto outcome = preview_then_apply();
  EXPECT_THAT(planned_tags(outcome.plan), ElementsAre("app/web:d0"));
  EXPECT_THAT(tags_of("app/web"), ElementsAre("d1", "d2", "d20", "d21"));
}

TEST_F(RetentionTest, ImmutableTagsAreNeverDeleted) {
  image(repo("app/web"), "v1", {"1"});
  image(repo("app/web"), "nightly", {"2"});
  clock_.advance(24h * 30);
  set_policy(R"({"rules": {"max_age_days": 7}})", {"v*"});
  auto outcome = preview_then_apply();
  EXPECT_THAT(planned_tags(outcome.plan), ElementsAre("app/web:nightly"));
  EXPECT_THAT(tags_of("app/web"), ElementsAre("v1"));
}

TEST_F(RetentionTest, AnIndexTakesItsChildrenAlongAndKeepsThemWhileItStays) {
  auto amd_old = image(repo("app/multi"), "", {"amd64 old"});
  auto arm_shared = image(repo("app/multi"), "", {"arm64 shared"});
  auto old_index = index(repo("app/multi"), "old", {amd_old, arm_shared});
  clock_.advance(24h * 30);
  auto amd_new = image(repo("app/multi"), "", {"amd64 new"});
  auto new_index = index(repo("app/multi"), "new", {amd_new, arm_shared});
  // A child with a tag of its own stays when its index goes.
  auto tagged_child = image(repo("app/multi"), "child-tag", {"tagged child"});
  clock_.advance(24h * 30);
  auto third_index = index(repo("app/multi"), "third", {tagged_child});
  // An untagged manifest that nothing reached before is garbage collection's, not ours.
  auto stray = image(repo("app/multi"), "", {"stray"});
  set_policy(R"({"include": ["old", "third"], "rules": {"keep_last": 0}})");

  auto outcome = preview_then_apply();
  EXPECT_THAT(planned_manifests(outcome.plan),
              UnorderedElementsAre(at("app/multi", old_index), at("app/multi", amd_old),
                                   at("app/multi", third_index)));
  EXPECT_FALSE(has_manifest("app/multi", old_index.digest));
  EXPECT_FALSE(has_manifest("app/multi", amd_old.digest));
  EXPECT_TRUE(has_manifest("app/multi", arm_shared.digest));
  EXPECT_TRUE(has_manifest("app/multi", new_index.digest));
  EXPECT_TRUE(has_manifest("app/multi", amd_new.digest));
  EXPECT_TRUE(has_manifest("app/multi", tagged_child.digest));
  EXPECT_TRUE(has_manifest("app/multi", stray.digest));
  EXPECT_THAT(tags_of("app/multi"), ElementsAre("child-tag", "new"));
}

TEST_F(RetentionTest, ReferrersGoWithTheirSubject) {
  auto subject = image(repo("app/web"), "old", {"subject layer"});
  auto signature =
      image(repo("app/web"), "", {"signature"},
            descriptor(core::media_type::kOciManifest, subject.digest, subject.bytes.size()));
  auto kept = image(repo("app/web"), "keep", {"kept layer"});
  set_policy(R"({"include": ["old"], "rules": {"keep_last": 0}})");
  auto outcome = preview_then_apply();
  EXPECT_THAT(planned_manifests(outcome.plan),
              UnorderedElementsAre(at("app/web", subject), at("app/web", signature)));
  EXPECT_TRUE(has_manifest("app/web", kept.digest));
}

TEST_F(RetentionTest, FreedBytesAreTheBlobsOnlyTheDeletedImagesHoldInTheProject) {
  const std::string base(1000, 'b');        // shared by every image
  const std::string old_layer(300, 'o');    // only the old image
  const std::string shared_other(50, 's');  // also in a kept image of another repository
  auto old_image = image(repo("app/web"), "old", {base, old_layer, shared_other});
  clock_.advance(1h);
  image(repo("app/web"), "new", {base});
  image(repo("app/api"), "api", {shared_other});
  // In another project: does not keep anything of app's.
  image(repo("other/web"), "x", {old_layer});
  set_policy(R"({"include": ["old"], "rules": {"keep_last": 0}})");

  RetentionPlan preview;
  auto outcome = preview_then_apply(&preview);
  // The old layer, the old image's config and the old manifest itself.
  std::uint64_t config_size = 0;
  for (const auto& blob : preview.freed_blobs) {
    if (blob.digest != core::Digest::of(old_layer) && blob.digest != old_image.digest) {
      config_size = blob.size;
    }
  }
  ASSERT_EQ(preview.freed_blobs.size(), 3u);
  EXPECT_EQ(preview.freed_bytes, old_layer.size() + old_image.bytes.size() + config_size);

  // Once garbage collection has dropped the links nothing references, the project's usage has
  // dropped by exactly that.
  const auto before = stores_.policies->usage("app").value().bytes + old_image.bytes.size();
  for (const auto& blob : preview.freed_blobs) {
    auto unlinked = stores_.metadata->unlink_blob(repo("app/web"), blob.digest);
    ASSERT_TRUE(unlinked.has_value()) << unlinked.error().message;
    // The manifest's own link went with the manifest; its layer and config are still linked.
    EXPECT_EQ(*unlinked, blob.digest != old_image.digest) << blob.digest.str();
  }
  EXPECT_EQ(before - stores_.policies->usage("app").value().bytes, preview.freed_bytes);
}

TEST_F(RetentionTest, ADisabledPolicyCanBePreviewedAndRunByHandButIsNotScheduled) {
  image(repo("app/web"), "a", {"a"});
  clock_.advance(1h);
  image(repo("app/web"), "b", {"b"});
  set_policy(R"({"enabled": false, "rules": {"keep_last": 1}})");
  EXPECT_THAT(planned_tags(retention_->preview("app").value()), ElementsAre("app/web:a"));
  auto runs = retention_->run_due().value();
  EXPECT_THAT(runs, IsEmpty());
  EXPECT_THAT(tags_of("app/web"), ElementsAre("a", "b"));
  ASSERT_TRUE(retention_->apply("app"));
  EXPECT_THAT(tags_of("app/web"), ElementsAre("b"));
}

TEST_F(RetentionTest, AnEnabledPolicyRunsWhenItsScheduleIsDue) {
  set_policy(R"({"enabled": true, "schedule": "1d", "rules": {"keep_last": 1}})");
  image(repo("app/web"), "a", {"a"});
  clock_.advance(1h);
  image(repo("app/web"), "b", {"b"});

  auto first = retention_->run_due().value();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].project, "app");
  ASSERT_TRUE(first[0].outcome);
  EXPECT_EQ(first[0].outcome->deleted.tags.size(), 1u);

  clock_.advance(1h);
  image(repo("app/web"), "c", {"c"});
  EXPECT_THAT(retention_->run_due().value(), IsEmpty());  // not due for another 23 hours
  EXPECT_THAT(tags_of("app/web"), ElementsAre("b", "c"));

  clock_.advance(23h);
  auto second = retention_->run_due().value();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_THAT(tags_of("app/web"), ElementsAre("c"));
}

// A server shutting down asks the schedule to stop: no further project is claimed (a claimed
// run that never ran would wait a whole schedule), so what was due stays due.
TEST_F(RetentionTest, AStoppedScheduleClaimsNothingMoreAndWhatWasDueStaysDue) {
  set_policy(R"({"enabled": true, "schedule": "1d", "rules": {"keep_last": 1}})");
  image(repo("app/web"), "a", {"a"});
  clock_.advance(1h);
  image(repo("app/web"), "b", {"b"});

  std::stop_source stop;
  stop.request_stop();
  EXPECT_THAT(retention_->run_due(stop.get_token()).value(), IsEmpty());
  EXPECT_THAT(tags_of("app/web"), ElementsAre("a", "b"));

  auto runs = retention_->run_due().value();
  ASSERT_EQ(runs.size(), 1u) << "still due";
  EXPECT_THAT(tags_of("app/web"), ElementsAre("b"));
}

TEST_F(RetentionTest, APreviewOfAnUnsavedPolicyChangesNothing) {
  image(repo("app/web"), "a", {"a"});
  auto policy = parse_retention_policy(R"({"rules": {"keep_last": 0}})").value();
  auto plan = retention_->preview("app", policy).value();
  EXPECT_THAT(planned_tags(plan), ElementsAre("app/web:a"));
  EXPECT_THAT(tags_of("app/web"), ElementsAre("a"));
  EXPECT_FALSE(retention_->preview("app"));  // nothing stored
}

TEST_F(RetentionTest, PlanJsonListsWhatAndWhy) {
  image(repo("app/web"), "a", {"a"});
  set_policy(R"({"rules": {"keep_last": 0}})");
  auto json = plan_json(retention_->preview("app").value());
  EXPECT_NE(json.find(R"("repository":"app/web","tag":"a")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("reasons":["keep_last"])"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("last_pulled":null)"), std::string::npos) << json;
}

}  // namespace
}  // namespace berth::lifecycle
