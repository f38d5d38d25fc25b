// Quotas, immutable tags and pull statistics as the registry applies them, against the
// in-memory blob store and SQLite: usage stays exact through pushes, mounts, deletes and
// project deletion; every way a blob or manifest joins a project is refused at the limit with
// a message saying by how much; immutable tags refuse overwrites but not the same manifest;
// pulls are counted in memory and written in one batch.
#include "lifecycle/registry_policy_impl.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/media_type.hpp"
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
using core::Result;

core::Tag tag(std::string_view name) { return core::Tag::parse(name).value(); }

// A PolicyStore that counts pull writes and can be told to fail them, over the real one.
class CountingPolicyStore final : public meta::PolicyStore {
 public:
  explicit CountingPolicyStore(meta::PolicyStore& inner) : inner_(inner) {}

  std::atomic<int> record_calls{0};
  std::atomic<bool> fail_records{false};

  Result<meta::ProjectSettings> settings(const std::string& p) override {
    return inner_.settings(p);
  }
  Result<void> set_settings(const std::string& p, const meta::ProjectSettings& s) override {
    return inner_.set_settings(p, s);
  }
  Result<std::vector<std::string>> projects_with_retention() override {
    return inner_.projects_with_retention();
  }
  Result<bool> claim_retention_run(const std::string& p, core::TimePoint now,
                                   core::TimePoint due_before) override {
    return inner_.claim_retention_run(p, now, due_before);
  }
  Result<meta::ProjectUsage> usage(const std::string& p) override { return inner_.usage(p); }
  Result<bool> counted(const std::string& p, const core::Digest& d) override {
    return inner_.counted(p, d);
  }
  Result<bool> repository_counted(const core::RepositoryName& r) override {
    return inner_.repository_counted(r);
  }
  Result<void> record_pulls(const std::vector<meta::PullRecord>& pulls) override {
    ++record_calls;
    if (fail_records) {
      return core::fail(core::ErrorCode::kUnavailable, "injected: database busy");
    }
    return inner_.record_pulls(pulls);
  }
  Result<std::vector<meta::TagInfo>> project_tags(const std::string& p) override {
    return inner_.project_tags(p);
  }
  Result<meta::RetentionSnapshot> retention_snapshot(const std::string& p) override {
    return inner_.retention_snapshot(p);
  }
  Result<std::vector<core::Tag>> tags_of(const core::RepositoryName& r,
                                         const core::Digest& d) override {
    return inner_.tags_of(r, d);
  }
  Result<meta::RetentionDeletions> delete_retained(
      const meta::RetentionDeletions& planned) override {
    return inner_.delete_retained(planned);
  }

 private:
  meta::PolicyStore& inner_;
};

class RegistryPolicyTest : public ::testing::Test {
 protected:
  RegistryPolicyTest() {
    blobs_ = testing::make_memory_blob_store(clock_);
    stores_ = meta::open_sqlite_stores(meta::SqliteOptions{":memory:"}).value();
    counting_ = std::make_unique<CountingPolicyStore>(*stores_.policies);
    policy_ = std::make_unique<RegistryPolicyImpl>(*counting_, *stores_.metadata, clock_);
    registry_ = std::make_unique<registry::Registry>(*blobs_, *stores_.metadata, clock_,
                                                     registry::RegistryOptions{}, policy_.get());
    for (const char* name : {"app", "other"}) {
      EXPECT_TRUE(stores_.accounts->create_project(meta::Project{name, false, clock_.now()}));
    }
  }

  void set(meta::ProjectSettings settings, const std::string& project = "app") {
    ASSERT_TRUE(stores_.policies->set_settings(project, settings));
  }

  Result<registry::BlobStat> push_blob(const core::RepositoryName& repository,
                                       std::string_view content) {
    auto lease = registry_->start_single_request_upload(repository);
    if (!lease) {
      return std::unexpected(lease.error());
    }
    if (auto appended = lease->append(bytes_of(content)); !appended) {
      registry_->abandon_upload(std::move(*lease));
      return std::unexpected(appended.error());
    }
    return registry_->finish_upload(std::move(*lease), core::Digest::of(content));
  }

  // The manifest JSON of an image made of `layers` (each pushed first) and no config blob
  // beyond a shared empty one.
  std::string manifest_of(const core::RepositoryName& repository,
                          const std::vector<std::string>& layers, std::string note = "") {
    const std::string config = "{}";
    EXPECT_TRUE(push_blob(repository, config));
    std::string json =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
        R"("config":)" +
        descriptor("application/vnd.oci.image.config.v1+json", core::Digest::of(config),
                   config.size()) +
        R"(,"layers":[)";
    for (std::size_t i = 0; i < layers.size(); ++i) {
      EXPECT_TRUE(push_blob(repository, layers[i]));
      json += (i ? "," : "") + descriptor("application/vnd.oci.image.layer.v1.tar",
                                          core::Digest::of(layers[i]), layers[i].size());
    }
    return json + R"(],"annotations":{"note":")" + note + "\"}}";
  }

  Result<registry::PutManifestResult> put(const core::RepositoryName& repository,
                                          std::string_view reference, const std::string& json) {
    return registry_->put_manifest(repository, core::Reference::parse(reference).value(), json,
                                   core::media_type::kOciManifest, {});
  }

  meta::ProjectUsage usage(const std::string& project = "app") {
    return stores_.policies->usage(project).value();
  }

  testing::FakeClock clock_;
  std::unique_ptr<storage::BlobStore> blobs_;
  meta::SqliteStores stores_;
  std::unique_ptr<CountingPolicyStore> counting_;
  std::unique_ptr<RegistryPolicyImpl> policy_;
  std::unique_ptr<registry::Registry> registry_;
};

void expect_denied_by(const core::Result<void>& result, std::string_view by) {
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, core::ErrorCode::kDenied);
  EXPECT_NE(result.error().message.find(std::string("by ") + std::string(by)), std::string::npos)
      << result.error().message;
}

template <class T>
core::Result<void> as_void(const core::Result<T>& result) {
  if (!result) {
    return std::unexpected(result.error());
  }
  return {};
}

// ---- usage

TEST_F(RegistryPolicyTest, UsageIsExactThroughPushMountDeleteAndProjectDeletion) {
  const std::string base(1000, 'b');
  const std::string top(200, 't');
  auto manifest = manifest_of(repo("app/web"), {base, top});
  ASSERT_TRUE(put(repo("app/web"), "v1", manifest));
  // "{}" + base + top + the manifest.
  std::uint64_t expected = 2 + 1000 + 200 + manifest.size();
  EXPECT_EQ(usage(), (meta::ProjectUsage{expected, 1}));

  // Mounting into another repository of the project adds a repository, not bytes.
  ASSERT_TRUE(registry_->mount_blob(repo("app/api"), core::Digest::of(base), repo("app/web")));
  EXPECT_EQ(usage(), (meta::ProjectUsage{expected, 2}));
  // Mounting into another project counts there.
  ASSERT_TRUE(registry_->mount_blob(repo("other/x"), core::Digest::of(base), repo("app/web")));
  EXPECT_EQ(usage("other"), (meta::ProjectUsage{1000, 1}));

  // Deleting the manifest drops its own bytes; the layers stay linked until collected.
  ASSERT_TRUE(registry_->delete_manifest(repo("app/web"),
                                         core::Reference::parse("v1").value()));  // tag only
  EXPECT_EQ(usage().bytes, expected);
  ASSERT_TRUE(registry_->delete_manifest(
      repo("app/web"), core::Reference::parse(core::Digest::of(manifest).str()).value()));
  expected -= manifest.size();
  EXPECT_EQ(usage().bytes, expected);
  // Unlinking a blob that another repository of the project holds changes nothing.
  ASSERT_TRUE(registry_->delete_blob(repo("app/web"), core::Digest::of(base)));
  EXPECT_EQ(usage().bytes, expected);
  ASSERT_TRUE(registry_->delete_blob(repo("app/web"), core::Digest::of(top)));
  expected -= 200;
  EXPECT_EQ(usage(), (meta::ProjectUsage{expected, 2}));

  ASSERT_TRUE(stores_.accounts->delete_project("app"));
  EXPECT_EQ(usage(), meta::ProjectUsage{});
  EXPECT_EQ(usage("other"), (meta::ProjectUsage{1000, 1}));
}

// ---- byte quota

TEST_F(RegistryPolicyTest, EveryWayIntoTheProjectIsRefusedAtTheByteLimit) {
  set(meta::ProjectSettings{.quota_bytes = 1000});
  ASSERT_TRUE(push_blob(repo("app/web"), std::string(900, 'a')));
  EXPECT_EQ(usage().bytes, 900u);

  // Upload start with a known size (Content-Length of a monolithic push): 150 would be 50 over.
  expect_denied_by(registry_->admit_blob(repo("app/web"), core::Digest::of("x"), 150), "50 bytes");
  // An upload, as its bytes arrive.
  expect_denied_by(as_void(push_blob(repo("app/web"), std::string(101, 'b'))), "1 byte ");
  // The refused upload left nothing behind.
  EXPECT_EQ(usage().bytes, 900u);
  // Mount from another project.
  ASSERT_TRUE(push_blob(repo("other/x"), std::string(200, 'c')));
  auto mounted = registry_->mount_blob(repo("app/web"), core::Digest::of(std::string(200, 'c')),
                                       repo("other/x"));
  expect_denied_by(as_void(mounted), "100 bytes");
  // Up to the limit exactly is fine.
  ASSERT_TRUE(push_blob(repo("app/web"), std::string(98, 'd')));
  EXPECT_EQ(usage().bytes, 998u);
  // A manifest put: its own bytes count too.
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":)" +
      descriptor("application/vnd.oci.image.config.v1+json", core::Digest::of(std::string(98, 'd')),
                 98) +
      R"(,"layers":[]})";
  auto refused = put(repo("app/web"), "v1", manifest);
  expect_denied_by(as_void(refused), std::to_string(manifest.size() - 2) + " bytes");
  EXPECT_FALSE(registry_->stat_manifest(repo("app/web"), core::Reference::parse("v1").value()));
}

TEST_F(RegistryPolicyTest, WhatTheProjectAlreadyHoldsCostsNothing) {
  const std::string layer(800, 'l');
  ASSERT_TRUE(push_blob(repo("app/web"), layer));
  set(meta::ProjectSettings{.quota_bytes = 800});
  // The same bytes pushed into another repository of the project, or mounted, are free.
  ASSERT_TRUE(push_blob(repo("app/api"), layer));
  ASSERT_TRUE(registry_->mount_blob(repo("app/cli"), core::Digest::of(layer), repo("app/web")));
  EXPECT_EQ(usage(), (meta::ProjectUsage{800, 3}));
  // But new bytes are not.
  expect_denied_by(as_void(push_blob(repo("app/web"), "1")), "1 byte ");
}

// A chunked upload announces no size and its digest comes last: it is refused as soon as its
// bytes pass what is left of the quota (they used to be taken whole and refused at the last
// PUT), before the bytes that would pass it are written.
TEST_F(RegistryPolicyTest, AnUploadIsRefusedAsSoonAsItPassesWhatIsLeft) {
  set(meta::ProjectSettings{.quota_bytes = 100});
  ASSERT_TRUE(push_blob(repo("app/web"), std::string(60, 'a')));
  auto id = registry_->start_upload(repo("app/web"));
  ASSERT_TRUE(id);
  {
    auto lease = registry_->open_upload(repo("app/web"), *id);
    ASSERT_TRUE(lease && lease->append(bytes_of(std::string(30, 'b'))));
    ASSERT_TRUE(registry_->save_upload(*lease));
  }
  auto lease = registry_->open_upload(repo("app/web"), *id);
  ASSERT_TRUE(lease);
  EXPECT_TRUE(lease->admit(10));
  auto refused = lease->append(bytes_of(std::string(11, 'c')));
  expect_denied_by(refused, "1 byte ");
  EXPECT_TRUE(refused.error().is(core::ErrorReason::kQuotaExceeded));
  EXPECT_EQ(lease->size(), 30u);
  EXPECT_EQ((*blobs_->read_upload(*id))->size(), 30u) << "the refused bytes were not written";
  // Within what is left it goes on.
  ASSERT_TRUE(lease->append(bytes_of(std::string(10, 'c'))));
  lease->release();

  // A monolithic upload of a digest the project holds costs nothing: not bounded.
  const std::string held(60, 'a');
  auto again = registry_->start_single_request_upload(repo("app/api"), core::Digest::of(held));
  ASSERT_TRUE(again && again->append(bytes_of(held)));
  ASSERT_TRUE(registry_->finish_upload(std::move(*again), core::Digest::of(held)));
  // Of a new one, it is.
  const std::string fresh(41, 'f');
  auto bounded = registry_->start_single_request_upload(repo("app/api"), core::Digest::of(fresh));
  ASSERT_TRUE(bounded);
  expect_denied_by(bounded->append(bytes_of(fresh)), "1 byte ");
  // Another project's quota is its own.
  ASSERT_TRUE(push_blob(repo("other/web"), std::string(500, 'o')));
}

TEST_F(RegistryPolicyTest, TheRefusalSaysHowMuchInWords) {
  set(meta::ProjectSettings{.quota_bytes = 10 * 1024 * 1024});
  auto refused =
      registry_->admit_blob(repo("app/web"), core::Digest::of("x"), 10 * 1024 * 1024 + 2048);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().is(core::ErrorReason::kQuotaExceeded));
  EXPECT_EQ(refused.error().message,
            "quota exceeded: project 'app' may store 10485760 bytes (10.0 MiB) and stores 0 bytes; "
            "this push of 10487808 bytes would exceed the quota by 2048 bytes (2.0 KiB)");
}

// ---- repository quota

TEST_F(RegistryPolicyTest, ANewRepositoryIsRefusedAtTheRepositoryLimit) {
  set(meta::ProjectSettings{.quota_repositories = 2});
  ASSERT_TRUE(push_blob(repo("app/one"), "1"));
  ASSERT_TRUE(push_blob(repo("app/two"), "2"));
  auto refused = push_blob(repo("app/three"), "3");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::ErrorCode::kDenied);
  EXPECT_NE(refused.error().message.find("may hold 2 repositories and holds 2"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("by 1 repository"), std::string::npos);
  expect_denied_by(registry_->admit_blob(repo("app/three"), core::Digest::of("3"), 1),
                   "1 repository");
  auto mounted = registry_->mount_blob(repo("app/three"), core::Digest::of("1"), repo("app/one"));
  expect_denied_by(as_void(mounted), "1 repository");
  // Existing repositories take more; other projects are not limited.
  ASSERT_TRUE(push_blob(repo("app/one"), "more"));
  ASSERT_TRUE(push_blob(repo("other/three"), "3"));
  EXPECT_EQ(usage().repositories, 2u);
  // Emptying one frees its place.
  ASSERT_TRUE(registry_->delete_blob(repo("app/two"), core::Digest::of("2")));
  ASSERT_TRUE(push_blob(repo("app/three"), "3"));
}

// ---- immutable tags

TEST_F(RegistryPolicyTest, AnImmutableTagCannotBeMovedButCanBeRePut) {
  set(meta::ProjectSettings{.immutable_tags = {"v*"}});
  auto first = manifest_of(repo("app/web"), {"one"}, "first");
  auto second = manifest_of(repo("app/web"), {"two"}, "second");
  ASSERT_TRUE(put(repo("app/web"), "v1", first));
  // The same manifest again: no change, allowed.
  ASSERT_TRUE(put(repo("app/web"), "v1", first));
  auto moved = put(repo("app/web"), "v1", second);
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().code, core::ErrorCode::kDenied);
  EXPECT_NE(moved.error().message.find("tag 'v1' of 'app/web' is immutable (project pattern 'v*')"),
            std::string::npos)
      << moved.error().message;
  // Through ?tag= as well.
  auto extra = registry_->put_manifest(
      repo("app/web"), core::Reference::parse(core::Digest::of(second).str()).value(), second,
      core::media_type::kOciManifest, {tag("v1")});
  ASSERT_FALSE(extra);
  EXPECT_EQ(extra.error().code, core::ErrorCode::kDenied);
  EXPECT_EQ(registry_->stat_manifest(repo("app/web"), core::Reference::parse("v1").value())->digest,
            core::Digest::of(first));
  // New immutable tags and mutable tags are free to point anywhere.
  ASSERT_TRUE(put(repo("app/web"), "v2", second));
  ASSERT_TRUE(put(repo("app/web"), "latest", first));
  ASSERT_TRUE(put(repo("app/web"), "latest", second));
  // Another project's patterns do not apply.
  auto elsewhere = manifest_of(repo("other/web"), {"x"}, "x");
  ASSERT_TRUE(put(repo("other/web"), "v1", elsewhere));
  ASSERT_TRUE(put(repo("other/web"), "v1", manifest_of(repo("other/web"), {"y"}, "y")));

  EXPECT_TRUE(registry_->tag_is_immutable(repo("app/web"), tag("v1")).value());
  EXPECT_FALSE(registry_->tag_is_immutable(repo("app/web"), tag("latest")).value());
  EXPECT_FALSE(registry_->tag_is_immutable(repo("other/web"), tag("v1")).value());
}

TEST_F(RegistryPolicyTest, TwoReplicasRacingForANewImmutableTagStoreExactlyOne) {
  // A second replica: its own registry and policy (nothing in memory shared), the same stores.
  RegistryPolicyImpl other_policy(*stores_.policies, *stores_.metadata, clock_);
  registry::Registry other(*blobs_, *stores_.metadata, clock_, registry::RegistryOptions{},
                           &other_policy);
  registry::Registry* replicas[] = {registry_.get(), &other};
  set(meta::ProjectSettings{.immutable_tags = {"v*"}});
  const std::string manifests[] = {manifest_of(repo("app/web"), {"one"}, "first"),
                                   manifest_of(repo("app/web"), {"two"}, "second")};
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    const std::string release = "v" + std::to_string(round);
    std::optional<Result<registry::PutManifestResult>> outcomes[2];
    std::atomic<int> ready{0};
    std::vector<std::thread> pushers;
    for (int side = 0; side < 2; ++side) {
      pushers.emplace_back([&, side] {
        ++ready;
        while (ready.load() < 2) {
        }
        outcomes[side] =
            replicas[side]->put_manifest(repo("app/web"), core::Reference::parse(release).value(),
                                         manifests[side], core::media_type::kOciManifest, {});
      });
    }
    for (auto& pusher : pushers) {
      pusher.join();
    }
    ASSERT_NE(outcomes[0]->has_value(), outcomes[1]->has_value()) << release;
    const int winner = outcomes[0]->has_value() ? 0 : 1;
    const auto& refused = *outcomes[1 - winner];
    EXPECT_EQ(refused.error().code, core::ErrorCode::kDenied);
    EXPECT_NE(refused.error().message.find("is immutable"), std::string::npos)
        << refused.error().message;
    EXPECT_EQ(other.stat_manifest(repo("app/web"), core::Reference::parse(release).value())->digest,
              core::Digest::of(manifests[winner]));
  }
}

// ---- pull statistics

TEST_F(RegistryPolicyTest, PullsAreCountedInMemoryAndWrittenInOneBatch) {
  auto manifest = manifest_of(repo("app/web"), {"layer"});
  ASSERT_TRUE(put(repo("app/web"), "v1", manifest));
  const auto digest = core::Digest::of(manifest);
  const auto by_tag = core::Reference::parse("v1").value();
  const auto by_digest = core::Reference::parse(digest.str()).value();

  // Four threads pulling at once: record_pull is called concurrently.
  std::vector<std::thread> pullers;
  for (int t = 0; t < 4; ++t) {
    pullers.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        EXPECT_TRUE(registry_->get_manifest(repo("app/web"), by_tag));
      }
    });
  }
  for (auto& thread : pullers) {
    thread.join();
  }
  clock_.advance(5s);
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(registry_->get_manifest(repo("app/web"), by_digest));
  }
  // Nothing written yet: no write per pull.
  EXPECT_EQ(counting_->record_calls.load(), 0);
  EXPECT_EQ(stores_.policies->project_tags("app").value().at(0).pull_count, 0u);
  EXPECT_EQ(policy_->pending(), 2u);

  EXPECT_EQ(policy_->flush().value(), 2u);
  EXPECT_EQ(counting_->record_calls.load(), 1);
  EXPECT_EQ(policy_->pending(), 0u);
  auto tags = stores_.policies->project_tags("app").value();
  EXPECT_EQ(tags.at(0).pull_count, 100u);
  EXPECT_EQ(tags.at(0).last_pulled, std::optional(clock_.now() - 5s));
  auto manifests = stores_.policies->retention_snapshot("app").value().manifests;
  ASSERT_EQ(manifests.size(), 1u);
  EXPECT_EQ(manifests[0].pull_count, 107u);
  EXPECT_EQ(manifests[0].last_pulled, std::optional(clock_.now()));

  // An empty flush writes nothing.
  EXPECT_EQ(policy_->flush().value(), 0u);
  EXPECT_EQ(counting_->record_calls.load(), 1);
  // HEAD (stat) is not a pull.
  ASSERT_TRUE(registry_->stat_manifest(repo("app/web"), by_tag));
  EXPECT_EQ(policy_->pending(), 0u);
}

TEST_F(RegistryPolicyTest, AFailedFlushKeepsTheCountsForTheNext) {
  auto manifest = manifest_of(repo("app/web"), {"layer"});
  ASSERT_TRUE(put(repo("app/web"), "v1", manifest));
  const auto by_tag = core::Reference::parse("v1").value();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(registry_->get_manifest(repo("app/web"), by_tag));
  }
  counting_->fail_records = true;
  auto failed = policy_->flush();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, core::ErrorCode::kUnavailable);
  EXPECT_EQ(policy_->pending(), 1u);
  // More pulls meanwhile merge with the kept ones.
  ASSERT_TRUE(registry_->get_manifest(repo("app/web"), by_tag));
  counting_->fail_records = false;
  EXPECT_EQ(policy_->flush().value(), 1u);
  EXPECT_EQ(stores_.policies->project_tags("app").value().at(0).pull_count, 4u);
}

TEST(HumanBytesTest, UsesBinaryUnits) {
  EXPECT_EQ(human_bytes(0), "0 B");
  EXPECT_EQ(human_bytes(1023), "1023 B");
  EXPECT_EQ(human_bytes(1024), "1.0 KiB");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(10 * 1024 * 1024), "10.0 MiB");
  EXPECT_EQ(human_bytes(std::uint64_t{5} << 40), "5.0 TiB");
}

}  // namespace
}  // namespace berth::lifecycle
