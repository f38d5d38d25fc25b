// The PolicyStore contract suite: one set of tests, run against every implementation through a
// Backend factory (SQLite in memory and on a file now; PostgreSQL joins by adding a Backend and
// one line to the instantiation). The PolicyStore is a view of the same database as the
// MetadataStore and the AccountStore, so a Backend opens all three together: usage must follow
// what the other two do (links, manifests, project deletion), whatever path they take.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/media_type.hpp"
#include "meta/policy_store.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "testing/fake_clock.hpp"
#include "testing/pg_test_database.hpp"
#include "testing/registry_test_data.hpp"

namespace berth::meta {
namespace {

using berth::testing::blob;
using berth::testing::repo;

using namespace std::chrono_literals;

// ---- backends

class Backend {
 public:
  virtual ~Backend() = default;
  // The three stores over one new, empty database.
  [[nodiscard]] virtual Result<SqliteStores> open() = 0;
};

class SqliteMemoryBackend final : public Backend {
 public:
  Result<SqliteStores> open() override {
    return open_sqlite_stores(SqliteOptions{.path = ":memory:"});
  }
};

class SqliteFileBackend final : public Backend {
 public:
  SqliteFileBackend() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "berth-policies-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    dir_ = pattern;
  }
  ~SqliteFileBackend() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  Result<SqliteStores> open() override {
    return open_sqlite_stores(SqliteOptions{.path = (dir_ / "berth.db").string(), .readers = 3});
  }

 private:
  std::filesystem::path dir_;
};

// A schema of its own on the test PostgreSQL.
class PostgresBackend final : public Backend {
 public:
  explicit PostgresBackend(std::unique_ptr<PgTestDatabase> database)
      : database_(std::move(database)) {}
  Result<SqliteStores> open() override { return open_pg_stores(database_->options()); }

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

core::Tag tag(std::string_view name) { return core::Tag::parse(name).value(); }

class PolicyStoreContract : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    if (IsSkipped()) {
      return;
    }
    stores_ = must(backend_->open());
  }

  PolicyStore& policies() { return *stores_.policies; }
  MetadataStore& metadata() { return *stores_.metadata; }
  AccountStore& accounts() { return *stores_.accounts; }

  void create_project(const std::string& name) {
    must(accounts().create_project(Project{name, false, clock_.now()}));
  }

  void link(const core::RepositoryName& repository, const BlobRef& ref) {
    must(metadata().link_blob(repository, ref, clock_.now()));
  }

  ManifestPut manifest(const core::RepositoryName& repository, std::string_view content,
                       std::vector<BlobRef> blobs, std::vector<core::Tag> tags = {},
                       std::vector<core::Digest> children = {}) {
    return ManifestPut{
        .repository = repository,
        .manifest = ManifestRecord{.digest = core::Digest::of(content),
                                   .media_type = std::string(core::media_type::kOciManifest),
                                   .size = content.size(),
                                   .artifact_type = {},
                                   .subject = std::nullopt,
                                   .annotations_json = {},
                                   .created = clock_.now()},
        .blobs = std::move(blobs),
        .children = std::move(children),
        .tags = std::move(tags)};
  }

  // Links a config and a layer and puts a manifest naming them; returns its digest.
  core::Digest push_image(const core::RepositoryName& repository, std::string_view name,
                          std::vector<core::Tag> tags = {}) {
    auto config = blob(std::string("config of ") + std::string(name));
    auto layer = blob(std::string("layer of ") + std::string(name));
    link(repository, config);
    link(repository, layer);
    auto put = manifest(repository, std::string("manifest ") + std::string(name), {config, layer},
                        std::move(tags));
    EXPECT_TRUE(must(metadata().put_manifest(put)).stored());
    return put.manifest.digest;
  }

  // Eight threads, spread over `replicas` (stores on one database), link four distinct blobs of
  // ten bytes each into a project with a quota of 50 bytes: exactly five links are accepted,
  // every other one refused for the quota.
  void links_racing_past_the_quota(std::vector<MetadataStore*> replicas) {
    create_project("p");
    ProjectSettings settings;
    settings.quota_bytes = 50;
    must(policies().set_settings("p", settings));
    constexpr int kThreads = 8;
    constexpr int kLinks = 4;
    std::atomic<int> accepted{0};
    std::atomic<int> unexpected{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        MetadataStore& store = *replicas[static_cast<std::size_t>(t) % replicas.size()];
        for (int i = 0; i < kLinks; ++i) {
          auto content = std::to_string(t) + "-" + std::to_string(i);
          content.resize(10, '.');
          auto linked =
              store.link_blob(repo("p/r" + std::to_string(t)), blob(content), clock_.now());
          if (linked) {
            ++accepted;
          } else if (!linked.error().is(core::ErrorReason::kQuotaExceeded)) {
            ++unexpected;
          }
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    EXPECT_EQ(unexpected.load(), 0);
    EXPECT_EQ(accepted.load(), 5);
    EXPECT_EQ(must(policies().usage("p")).bytes, 50u);
  }

  std::unique_ptr<Backend> backend_;
  SqliteStores stores_;
  testing::FakeClock clock_;
};

// ---- settings

TEST_P(PolicyStoreContract, AProjectWithoutSettingsHasTheDefaults) {
  create_project("app");
  EXPECT_EQ(must(policies().settings("app")), ProjectSettings{});
  EXPECT_EQ(must(policies().settings("never-created")), ProjectSettings{});
  EXPECT_TRUE(must(policies().projects_with_retention()).empty());
}

TEST_P(PolicyStoreContract, SettingsReadBackAndAreReplacedWhole) {
  create_project("app");
  ProjectSettings settings{.retention_json = R"({"rules":{"keep_last":3}})",
                           .immutable_tags = {"v*", "release-*", "v*"},
                           .quota_bytes = 1 << 20,
                           .quota_repositories = 5};
  must(policies().set_settings("app", settings));
  auto read = must(policies().settings("app"));
  EXPECT_EQ(read.retention_json, settings.retention_json);
  // A set: byte order, no duplicates.
  EXPECT_EQ(read.immutable_tags, (std::vector<std::string>{"release-*", "v*"}));
  EXPECT_EQ(read.quota_bytes, std::optional<std::uint64_t>(1 << 20));
  EXPECT_EQ(read.quota_repositories, std::optional<std::uint64_t>(5));

  must(policies().set_settings("app", ProjectSettings{.quota_bytes = 0}));
  EXPECT_EQ(must(policies().settings("app")), ProjectSettings{.quota_bytes = 0});
}

TEST_P(PolicyStoreContract, SettingsOfAMissingProjectAreRefused) {
  auto set = policies().set_settings("ghost", ProjectSettings{.quota_bytes = 1});
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code, core::ErrorCode::kNotFound);
}

TEST_P(PolicyStoreContract, DeletingAProjectDeletesItsSettings) {
  create_project("app");
  must(policies().set_settings(
      "app", ProjectSettings{.retention_json = "{}", .immutable_tags = {"v*"}, .quota_bytes = 10}));
  must(accounts().delete_project("app"));
  create_project("app");
  EXPECT_EQ(must(policies().settings("app")), ProjectSettings{});
}

TEST_P(PolicyStoreContract, ProjectsWithRetentionAreThoseWithAPolicy) {
  for (const char* name : {"c", "a", "b"}) {
    create_project(name);
  }
  must(policies().set_settings("c", ProjectSettings{.retention_json = "{}"}));
  must(policies().set_settings("a", ProjectSettings{.retention_json = "{}"}));
  must(policies().set_settings("b", ProjectSettings{.quota_bytes = 1}));
  EXPECT_EQ(must(policies().projects_with_retention()), (std::vector<std::string>{"a", "c"}));
}

TEST_P(PolicyStoreContract, ARetentionRunIsClaimedOncePerPeriod) {
  create_project("app");
  create_project("plain");
  must(policies().set_settings("app", ProjectSettings{.retention_json = "{}"}));
  const auto t0 = clock_.now();
  EXPECT_TRUE(must(policies().claim_retention_run("app", t0, t0 - 24h)));
  // Another server asking at the same moment does not get it.
  EXPECT_FALSE(must(policies().claim_retention_run("app", t0, t0 - 24h)));
  EXPECT_FALSE(must(policies().claim_retention_run("app", t0 + 1h, t0 + 1h - 24h)));
  EXPECT_TRUE(must(policies().claim_retention_run("app", t0 + 24h, t0)));
  EXPECT_FALSE(must(policies().claim_retention_run("plain", t0, t0)));
  // Replacing the settings keeps the scheduler's record.
  must(policies().set_settings("app", ProjectSettings{.retention_json = "{\"x\":1}"}));
  EXPECT_FALSE(must(policies().claim_retention_run("app", t0 + 25h, t0 + 1h)));
}

// ---- usage

TEST_P(PolicyStoreContract, UsageCountsEachBlobOncePerProject) {
  const auto shared = blob("shared layer");  // 12 bytes
  const auto own = blob("own");              // 3 bytes
  link(repo("team/a"), shared);
  link(repo("team/b"), shared);
  link(repo("team/b"), own);
  link(repo("other/a"), shared);
  EXPECT_EQ(must(policies().usage("team")), (ProjectUsage{.bytes = 15, .repositories = 2}));
  EXPECT_EQ(must(policies().usage("other")), (ProjectUsage{.bytes = 12, .repositories = 1}));
  EXPECT_EQ(must(policies().usage("nobody")), ProjectUsage{});
  EXPECT_TRUE(must(policies().counted("team", own.digest)));
  EXPECT_FALSE(must(policies().counted("other", own.digest)));

  EXPECT_TRUE(must(metadata().unlink_blob(repo("team/a"), shared.digest)));
  EXPECT_EQ(must(policies().usage("team")), (ProjectUsage{.bytes = 15, .repositories = 1}));
  EXPECT_TRUE(must(metadata().unlink_blob(repo("team/b"), shared.digest)));
  EXPECT_EQ(must(policies().usage("team")), (ProjectUsage{.bytes = 3, .repositories = 1}));
  EXPECT_FALSE(must(policies().counted("team", shared.digest)));
  EXPECT_TRUE(must(policies().counted("other", shared.digest)));
}

// The lifecycle checks a push against the quota before it links; two pushes checked at once
// could both pass. The store refuses the link that would go past the quota, in its own
// transaction, whatever inserts it.
TEST_P(PolicyStoreContract, LinksPastTheQuotaAreRefusedInTheirTransaction) {
  create_project("p");
  ProjectSettings settings;
  settings.quota_bytes = 10;
  settings.quota_repositories = 2;
  must(policies().set_settings("p", settings));
  link(repo("p/a"), blob("123456"));
  link(repo("p/b"), blob("123456"));  // held already: free in any repository of the project
  link(repo("p/a"), blob("1234"));    // 10 of 10
  auto over = metadata().link_blob(repo("p/a"), blob("x"), clock_.now());
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, core::ErrorCode::kDenied) << over.error().message;
  EXPECT_TRUE(over.error().is(core::ErrorReason::kQuotaExceeded)) << over.error().message;
  EXPECT_TRUE(over.error().message.starts_with("quota exceeded: ")) << over.error().message;
  auto third = metadata().link_blob(repo("p/c"), blob("1234"), clock_.now());
  ASSERT_FALSE(third);
  EXPECT_NE(third.error().message.find("repository quota"), std::string::npos)
      << third.error().message;
  EXPECT_EQ(must(policies().usage("p")), (ProjectUsage{.bytes = 10, .repositories = 2}));
}

// Many pushers at once (threads here, replicas on PostgreSQL: each thread's transaction runs
// on a connection of its own there): exactly as many links as fit are accepted.
TEST_P(PolicyStoreContract, ConcurrentLinksNeverPassTheQuota) {
  links_racing_past_the_quota({&metadata()});
}

TEST_P(PolicyStoreContract, ARepositoryCountsOnceItHoldsABlob) {
  auto upload = UploadRecord{.id = core::UploadId::generate(),
                             .repository = repo("app/new"),
                             .started = clock_.now(),
                             .updated = clock_.now(),
                             .size = 0,
                             .hash_state = ""};
  must(metadata().create_upload(upload));
  EXPECT_TRUE(must(metadata().repository_exists(repo("app/new"))));
  EXPECT_FALSE(must(policies().repository_counted(repo("app/new"))));
  EXPECT_EQ(must(policies().usage("app")).repositories, 0u);

  must(metadata().complete_upload(upload.id, blob("x"), clock_.now()));
  EXPECT_TRUE(must(policies().repository_counted(repo("app/new"))));
  EXPECT_EQ(must(policies().usage("app")), (ProjectUsage{.bytes = 1, .repositories = 1}));

  EXPECT_TRUE(must(metadata().unlink_blob(repo("app/new"), blob("x").digest)));
  EXPECT_FALSE(must(policies().repository_counted(repo("app/new"))));
  EXPECT_EQ(must(policies().usage("app")), ProjectUsage{});
}

TEST_P(PolicyStoreContract, UsageFollowsManifestsAndTheirDeletion) {
  auto digest = push_image(repo("app/web"), "one", {tag("v1")});
  const std::uint64_t layers =
      std::string("config of one").size() + std::string("layer of one").size();
  const std::uint64_t manifest = std::string("manifest one").size();
  EXPECT_EQ(must(policies().usage("app")),
            (ProjectUsage{.bytes = layers + manifest, .repositories = 1}));
  EXPECT_TRUE(must(metadata().delete_manifest(repo("app/web"), digest)));
  EXPECT_EQ(must(policies().usage("app")), (ProjectUsage{.bytes = layers, .repositories = 1}));
}

TEST_P(PolicyStoreContract, DeletingAProjectZeroesItsUsageThroughTheCascade) {
  create_project("app");
  push_image(repo("app"), "root", {tag("latest")});
  push_image(repo("app/web"), "web", {tag("latest")});
  push_image(repo("apple/web"), "other project", {tag("latest")});
  const auto apple = must(policies().usage("apple"));
  ASSERT_GT(must(policies().usage("app")).bytes, 0u);

  must(accounts().delete_project("app"));
  EXPECT_EQ(must(policies().usage("app")), ProjectUsage{});
  EXPECT_FALSE(must(policies().counted("app", core::Digest::of("layer of web"))));
  EXPECT_EQ(must(policies().usage("apple")), apple);

  // And counting starts again from nothing.
  push_image(repo("app/web"), "web", {tag("latest")});
  EXPECT_EQ(must(policies().usage("app")).repositories, 1u);
}

// Usage against a model of the links, through a random mix of every operation that links or
// unlinks: the figures must equal the model's after each step, not only at the end.
TEST_P(PolicyStoreContract, UsageEqualsTheUniqueBlobsOfTheProjectAfterEveryOperation) {
  const std::vector<std::string> repositories = {"a", "a/x", "a/y/z", "ab", "b/x"};
  std::vector<BlobRef> pool;
  for (int i = 0; i < 8; ++i) {
    pool.push_back(blob(std::string(static_cast<std::size_t>(i + 1) * 7, 'a' + i)));
  }
  // repository -> digest -> size
  std::map<std::string, std::map<std::string, std::uint64_t>> model;
  std::map<std::string, std::vector<core::Digest>> manifests;
  auto project_of = [](const std::string& name) { return name.substr(0, name.find('/')); };
  auto expected = [&](const std::string& project) {
    ProjectUsage usage;
    std::map<std::string, std::uint64_t> unique;
    for (const auto& [name, links] : model) {
      if (project_of(name) != project || links.empty()) {
        continue;
      }
      ++usage.repositories;
      unique.insert(links.begin(), links.end());
    }
    for (const auto& [digest, size] : unique) {
      usage.bytes += size;
    }
    return usage;
  };

  std::mt19937 random(20240611);
  auto pick = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(random);
  };
  int manifest_counter = 0;
  for (int step = 0; step < 300; ++step) {
    const std::string name = repositories[pick(repositories.size())];
    const auto repository = repo(name);
    switch (pick(5)) {
      case 0:
      case 1: {
        const auto& ref = pool[pick(pool.size())];
        link(repository, ref);
        model[name][ref.digest.str()] = ref.size;
        break;
      }
      case 2: {
        const auto& ref = pool[pick(pool.size())];
        must(metadata().unlink_blob(repository, ref.digest));
        model[name].erase(ref.digest.str());
        break;
      }
      case 3: {
        // A manifest naming what the repository holds (if anything) beyond its manifests.
        std::vector<BlobRef> named;
        for (const auto& ref : pool) {
          if (model[name].contains(ref.digest.str())) {
            named.push_back(ref);
          }
        }
        auto put = manifest(repository, "manifest " + std::to_string(++manifest_counter), named);
        ASSERT_TRUE(must(metadata().put_manifest(put)).stored());
        model[name][put.manifest.digest.str()] = put.manifest.size;
        manifests[name].push_back(put.manifest.digest);
        break;
      }
      case 4: {
        if (pick(10) == 0) {
          // The rarest and most drastic: the whole project.
          const auto project = project_of(name);
          create_project(project);
          must(accounts().delete_project(project));
          std::erase_if(model,
                        [&](const auto& entry) { return project_of(entry.first) == project; });
          std::erase_if(manifests,
                        [&](const auto& entry) { return project_of(entry.first) == project; });
        } else if (!manifests[name].empty()) {
          auto& list = manifests[name];
          const auto index = pick(list.size());
          ASSERT_TRUE(must(metadata().delete_manifest(repository, list[index])));
          model[name].erase(list[index].str());
          list.erase(list.begin() + static_cast<std::ptrdiff_t>(index));
        }
        break;
      }
    }
    for (const std::string project : {"a", "ab", "b"}) {
      ASSERT_EQ(must(policies().usage(project)), expected(project))
          << "project " << project << " after step " << step;
    }
  }
}

// ---- pull statistics

TEST_P(PolicyStoreContract, PullsAddUpPerTagAndPerManifest) {
  const auto digest = push_image(repo("app"), "img", {tag("v1"), tag("latest")});
  const auto t0 = clock_.now();
  must(policies().record_pulls({
      PullRecord{repo("app"), digest, tag("v1"), 3, t0 + 1s},
      PullRecord{repo("app"), digest, std::nullopt, 2, t0 + 5s},
  }));
  // An older batch arriving late does not move the last pull back.
  must(policies().record_pulls({PullRecord{repo("app"), digest, tag("v1"), 1, t0}}));

  auto tags = must(policies().project_tags("app"));
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_EQ(tags[0].tag.str(), "latest");
  EXPECT_EQ(tags[0].pull_count, 0u);
  EXPECT_EQ(tags[0].last_pulled, std::nullopt);
  EXPECT_EQ(tags[1].tag.str(), "v1");
  EXPECT_EQ(tags[1].pull_count, 4u);
  EXPECT_EQ(tags[1].last_pulled, std::optional(t0 + 1s));

  auto snapshot = must(policies().retention_snapshot("app"));
  ASSERT_EQ(snapshot.manifests.size(), 1u);
  EXPECT_EQ(snapshot.manifests[0].pull_count, 6u);
  EXPECT_EQ(snapshot.manifests[0].last_pulled, std::optional(t0 + 5s));
}

TEST_P(PolicyStoreContract, PullsOfWhatIsGoneAreDropped) {
  const auto old_digest = push_image(repo("app"), "old", {tag("v1")});
  clock_.advance(1s);
  push_image(repo("app"), "new", {tag("v1")});  // v1 moves
  must(policies().record_pulls({
      PullRecord{repo("app"), old_digest, tag("v1"), 5, clock_.now()},
      PullRecord{repo("app"), core::Digest::of("never pushed"), tag("v1"), 5, clock_.now()},
      PullRecord{repo("nowhere"), old_digest, std::nullopt, 5, clock_.now()},
  }));
  auto tags = must(policies().project_tags("app"));
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_EQ(tags[0].pull_count, 0u);  // it names another manifest now
  auto snapshot = must(policies().retention_snapshot("app"));
  for (const auto& manifest : snapshot.manifests) {
    EXPECT_EQ(manifest.pull_count, manifest.digest == old_digest ? 5u : 0u);
  }
}

// ---- what retention reads

TEST_P(PolicyStoreContract, TheSnapshotHoldsTagsManifestsAndTheirReferences) {
  const auto t0 = clock_.now();
  const auto amd = push_image(repo("app/multi"), "amd64");
  const auto arm = push_image(repo("app/multi"), "arm64");
  clock_.advance(1h);
  auto index = manifest(repo("app/multi"), "index", {}, {tag("v1")}, {amd, arm});
  ASSERT_TRUE(must(metadata().put_manifest(index)).stored());
  auto signature = manifest(repo("app/multi"), "signature", {});
  signature.manifest.subject = index.manifest.digest;
  ASSERT_TRUE(must(metadata().put_manifest(signature)).stored());
  push_image(repo("other"), "elsewhere", {tag("v1")});

  auto snapshot = must(policies().retention_snapshot("app"));
  ASSERT_EQ(snapshot.tags.size(), 1u);
  EXPECT_EQ(snapshot.tags[0].repository.str(), "app/multi");
  EXPECT_EQ(snapshot.tags[0].digest, index.manifest.digest);
  EXPECT_EQ(snapshot.tags[0].pushed, t0 + 1h);
  ASSERT_EQ(snapshot.manifests.size(), 4u);
  std::map<std::string, const ManifestInfo*> by_digest;
  for (const auto& info : snapshot.manifests) {
    by_digest[info.digest.str()] = &info;
  }
  const auto& image = *by_digest.at(amd.str());
  EXPECT_EQ(image.size, std::string("manifest amd64").size());
  EXPECT_EQ(image.created, t0);
  ASSERT_EQ(image.blobs.size(), 2u);
  std::set<std::string> blob_lines;
  for (const auto& ref : image.blobs) {
    blob_lines.insert(ref.digest.str() + " " + std::to_string(ref.size));
  }
  EXPECT_EQ(blob_lines, (std::set<std::string>{
                            blob("config of amd64").digest.str() + " 15",
                            blob("layer of amd64").digest.str() + " 14",
                        }));
  const auto& top = *by_digest.at(index.manifest.digest.str());
  EXPECT_TRUE(top.blobs.empty());
  EXPECT_EQ(std::set<core::Digest>(top.children.begin(), top.children.end()),
            (std::set<core::Digest>{amd, arm}));
  EXPECT_EQ(by_digest.at(signature.manifest.digest.str())->subject,
            std::optional(index.manifest.digest));
  EXPECT_EQ(must(policies().project_tags("app")).size(), 1u);
}

TEST_P(PolicyStoreContract, TagsOfAManifest) {
  const auto digest = push_image(repo("app"), "img", {tag("b"), tag("a")});
  push_image(repo("app"), "other", {tag("c")});
  auto tags = must(policies().tags_of(repo("app"), digest));
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_EQ(tags[0].str(), "a");
  EXPECT_EQ(tags[1].str(), "b");
  EXPECT_TRUE(must(policies().tags_of(repo("elsewhere"), digest)).empty());
}

// ---- applying a plan

TEST_P(PolicyStoreContract, DeleteRetainedDeletesTagsThenWhatNothingKeeps) {
  const auto old_image = push_image(repo("app"), "old", {tag("v1")});
  const auto kept = push_image(repo("app"), "kept", {tag("v2"), tag("also")});
  const auto amd = push_image(repo("app"), "amd64");
  auto index = manifest(repo("app"), "index", {}, {tag("multi")}, {amd});
  ASSERT_TRUE(must(metadata().put_manifest(index)).stored());
  const auto tags = must(policies().project_tags("app"));
  auto ref_of = [&](std::string_view name) {
    for (const auto& info : tags) {
      if (info.tag.str() == name) {
        return TagRef{info.repository, info.tag, info.digest, info.pushed};
      }
    }
    throw std::runtime_error("no tag " + std::string(name));
  };
  const auto before = must(policies().usage("app"));

  // Children listed before their index: the order must not matter.
  RetentionDeletions plan{.tags = {ref_of("v1"), ref_of("v2"), ref_of("multi")},
                          .manifests = {{repo("app"), amd},
                                        {repo("app"), old_image},
                                        {repo("app"), kept},
                                        {repo("app"), index.manifest.digest}}};
  auto deleted = must(policies().delete_retained(plan));
  EXPECT_EQ(deleted.tags.size(), 3u);
  std::set<core::Digest> gone;
  for (const auto& ref : deleted.manifests) {
    gone.insert(ref.digest);
  }
  // "kept" still has the tag "also".
  EXPECT_EQ(gone, (std::set<core::Digest>{old_image, amd, index.manifest.digest}));
  EXPECT_TRUE(must(metadata().get_manifest(repo("app"), kept)).has_value());
  EXPECT_FALSE(must(metadata().get_manifest(repo("app"), amd)).has_value());
  // The manifests' own bytes leave the usage now; layers wait for garbage collection.
  const auto after = must(policies().usage("app"));
  EXPECT_EQ(before.bytes - after.bytes, std::string("manifest old").size() +
                                            std::string("manifest amd64").size() +
                                            std::string("index").size());
}

TEST_P(PolicyStoreContract, DeleteRetainedSkipsWhatChangedSinceThePlan) {
  const auto first = push_image(repo("app"), "first", {tag("v1")});
  const auto planned = must(policies().project_tags("app")).at(0);
  const auto child = push_image(repo("app"), "child");
  clock_.advance(1s);
  // Since the plan: v1 moved away and back, and the child got an index.
  push_image(repo("app"), "second", {tag("v1")});
  auto back = manifest(repo("app"), "manifest first",
                       {blob("config of first"), blob("layer of first")}, {tag("v1")});
  ASSERT_TRUE(must(metadata().put_manifest(back)).stored());
  auto index = manifest(repo("app"), "new index", {}, {tag("idx")}, {child});
  ASSERT_TRUE(must(metadata().put_manifest(index)).stored());

  RetentionDeletions plan{
      .tags = {TagRef{planned.repository, planned.tag, planned.digest, planned.pushed}},
      .manifests = {{repo("app"), first}, {repo("app"), child}, {repo("gone"), first}}};
  auto deleted = must(policies().delete_retained(plan));
  EXPECT_TRUE(deleted.tags.empty());
  EXPECT_TRUE(deleted.manifests.empty());
  EXPECT_EQ(must(metadata().resolve_tag(repo("app"), tag("v1")))->digest, first);
  EXPECT_TRUE(must(metadata().get_manifest(repo("app"), child)).has_value());
}

// ---- two store instances on one database: two replicas

class SharedPolicyStoreContract : public PolicyStoreContract {};

TEST_P(SharedPolicyStoreContract, LinksFromTwoReplicasNeverPassTheQuotaTogether) {
  // Each replica's own check passes (usage plus one blob is within the quota), the links race:
  // the quota must still hold, because the store checks in the linking transaction.
  auto second = must(backend_->open());
  links_racing_past_the_quota({&metadata(), second.metadata.get()});
  EXPECT_EQ(must(second.policies->usage("p")).bytes, 50u);
}

TEST_P(SharedPolicyStoreContract, PullsFlushedByTwoReplicasAddUp) {
  auto second = must(backend_->open());
  PolicyStore* replicas[] = {stores_.policies.get(), second.policies.get()};
  const auto digest = push_image(repo("app"), "img", {tag("v1")});
  constexpr int kFlushes = 20;
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      for (int i = 0; i < kFlushes; ++i) {
        must(replicas[r]->record_pulls({PullRecord{repo("app"), digest, tag("v1"), 3,
                                                   clock_.now() + std::chrono::seconds(i)}}));
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  auto tags = must(policies().project_tags("app"));
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_EQ(tags[0].pull_count, 2u * kFlushes * 3u);
  auto snapshot = must(second.policies->retention_snapshot("app"));
  ASSERT_EQ(snapshot.manifests.size(), 1u);
  EXPECT_EQ(snapshot.manifests[0].pull_count, 2u * kFlushes * 3u);
}

INSTANTIATE_TEST_SUITE_P(
    Sqlite, PolicyStoreContract,
    ::testing::Values(BackendFactory{"Memory",
                                     [] { return std::make_unique<SqliteMemoryBackend>(); }},
                      BackendFactory{"File", [] { return std::make_unique<SqliteFileBackend>(); }}),
    [](const ::testing::TestParamInfo<BackendFactory>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Postgres, PolicyStoreContract,
    ::testing::Values(BackendFactory{"Postgres", make_pg_backend<Backend, PostgresBackend>}),
    [](const ::testing::TestParamInfo<BackendFactory>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Sqlite, SharedPolicyStoreContract,
    ::testing::Values(BackendFactory{"File", [] { return std::make_unique<SqliteFileBackend>(); }}),
    [](const ::testing::TestParamInfo<BackendFactory>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Postgres, SharedPolicyStoreContract,
    ::testing::Values(BackendFactory{"Postgres", make_pg_backend<Backend, PostgresBackend>}),
    [](const ::testing::TestParamInfo<BackendFactory>& info) { return info.param.name; });

}  // namespace
}  // namespace berth::meta
