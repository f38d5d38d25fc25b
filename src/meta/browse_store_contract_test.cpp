// The BrowseStore contract suite (browse_store.hpp): pages of tags and repositories sorted,
// filtered, counted and cut by the database, the figures recorded at push time (total sizes,
// platforms), pull statistics, project figures, search and totals; and the history of
// collections (GcStore::record_run). SQLite and PostgreSQL.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "meta/pg_stores.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "testing/pg_test_database.hpp"
#include "testing/temp_dir.hpp"

namespace berth::meta {
namespace {

core::RepositoryName repo(const std::string& name) { return *core::RepositoryName::parse(name); }
core::Tag tag(const std::string& name) { return *core::Tag::parse(name); }
core::Digest digest(const std::string& bytes) { return core::Digest::of(bytes); }
core::TimePoint at(std::int64_t ms) { return core::from_unix_ms(ms); }

// The value, or a test failure with the store's message.
template <class T>
T must(Result<T> result) {
  if (!result) {
    throw std::runtime_error(result.error().message);
  }
  return std::move(*result);
}

using Opener = std::function<Result<Stores>()>;

struct Backend {
  std::string name;
  std::function<Opener()> make;
};
void PrintTo(const Backend& backend, std::ostream* out) { *out << backend.name; }

Opener sqlite_file() {
  auto dir = std::make_shared<testing::TempDir>();
  return [dir] { return open_sqlite_stores(SqliteOptions{(dir->path() / "meta.db").string()}); };
}

Opener postgres() {
  std::shared_ptr<PgTestDatabase> database = PgTestDatabase::make_or_skip();
  if (database == nullptr) {
    return {};
  }
  return [database] { return open_pg_stores(database->options()); };
}

std::vector<std::string> tag_names(const TagPage& page) {
  std::vector<std::string> out;
  for (const auto& row : page.items) {
    out.push_back(row.tag);
  }
  return out;
}

std::vector<std::string> repository_names(const RepositoryPage& page) {
  std::vector<std::string> out;
  for (const auto& row : page.items) {
    out.push_back(row.name);
  }
  return out;
}

class BrowseStoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    opener_ = GetParam().make();
    if (!opener_) {
      GTEST_SKIP() << "no PostgreSQL here";
    }
    auto stores = opener_();
    if (!stores) {
      throw std::runtime_error("cannot open the stores: " + stores.error().message);
    }
    stores_ = std::move(*stores);
  }

  BrowseStore& store() { return *stores_.browse; }

  // An image of `repository`: a config of 10 bytes and a layer of 100 (both named after
  // `name`, so different images share none), a manifest of 50 bytes, tagged `tags`.
  core::Digest push_image(const std::string& repository, const std::string& name,
                          std::vector<std::string> tags, std::int64_t when,
                          std::optional<std::vector<std::string>> platforms = std::nullopt) {
    const auto r = repo(repository);
    const BlobRef config{digest(name + "-config"), 10};
    const BlobRef layer{digest(name + "-layer"), 100};
    EXPECT_TRUE(stores_.metadata->link_blob(r, config, at(when)));
    EXPECT_TRUE(stores_.metadata->link_blob(r, layer, at(when)));
    ManifestPut put{r,
                    ManifestRecord{digest(name), "application/vnd.oci.image.manifest.v1+json", 50,
                                   "", std::nullopt, "", at(when)},
                    {config, layer},
                    {},
                    {}};
    return put_tagged(std::move(put), tags, std::move(platforms));
  }

  core::Digest push_index(const std::string& repository, const std::string& name,
                          std::vector<core::Digest> children, std::vector<std::string> tags,
                          std::int64_t when, std::vector<std::string> platforms) {
    ManifestPut put{repo(repository),
                    ManifestRecord{digest(name), "application/vnd.oci.image.index.v1+json", 30, "",
                                   std::nullopt, "", at(when)},
                    {},
                    std::move(children),
                    {}};
    return put_tagged(std::move(put), tags, std::move(platforms));
  }

  core::Digest put_tagged(ManifestPut put, const std::vector<std::string>& tags,
                          std::optional<std::vector<std::string>> platforms) {
    for (const auto& t : tags) {
      put.tags.push_back(tag(t));
    }
    put.platforms = std::move(platforms);
    auto stored = stores_.metadata->put_manifest(put);
    EXPECT_TRUE(stored && stored->stored());
    return put.manifest.digest;
  }

  // Holds the database (its directory) as long as the test.
  Opener opener_;
  Stores stores_;
};

TEST_P(BrowseStoreContract, TagsCarryTheirSizesPlatformsAndPulls) {
  const auto image =
      push_image("team/app", "one", {"v1"}, 1000, std::vector<std::string>{"linux/amd64"});
  const auto other =
      push_image("team/app", "two", {}, 1100, std::vector<std::string>{"linux/arm64/v8"});
  push_index("team/app", "index", {image, other}, {"latest"}, 1200,
             {"linux/amd64", "linux/arm64/v8"});
  ASSERT_TRUE(stores_.policies->record_pulls(
      {PullRecord{repo("team/app"), image, tag("v1"), 3, at(5000)}}));

  auto page = must(store().tags(repo("team/app"), TagSort::kName, PageQuery{}));
  EXPECT_EQ(page.total, 2u);
  ASSERT_EQ(tag_names(page), (std::vector<std::string>{"latest", "v1"}));
  const TagRow& index = page.items[0];
  EXPECT_EQ(index.digest, digest("index"));
  EXPECT_EQ(index.media_type, "application/vnd.oci.image.index.v1+json");
  EXPECT_EQ(index.size, 30u + 2 * 160u) << "the index's bytes and its children's totals";
  EXPECT_EQ(index.platforms, (std::vector<std::string>{"linux/amd64", "linux/arm64/v8"}));
  EXPECT_EQ(index.pushed, at(1200));
  EXPECT_FALSE(index.last_pulled);
  EXPECT_EQ(index.pulls, 0u);
  const TagRow& v1 = page.items[1];
  EXPECT_EQ(v1.size, 160u) << "manifest, config and layer";
  EXPECT_EQ(v1.platforms, std::vector<std::string>{"linux/amd64"});
  EXPECT_EQ(v1.last_pulled, at(5000));
  EXPECT_EQ(v1.pulls, 3u);

  auto figures = must(store().manifest_figures(repo("team/app"), digest("index")));
  ASSERT_TRUE(figures);
  EXPECT_EQ(figures->total_size, 30u + 2 * 160u);
  EXPECT_EQ(figures->platforms, index.platforms);
  EXPECT_FALSE(must(store().manifest_figures(repo("team/other"), digest("index"))));
}

TEST_P(BrowseStoreContract, APutAgainWithoutPlatformsKeepsThoseRecorded) {
  push_image("team/app", "one", {"v1"}, 1000, std::vector<std::string>{"linux/amd64"});
  push_image("team/app", "one", {"v2"}, 2000, std::nullopt);
  auto page = must(store().tags(repo("team/app"), TagSort::kName, PageQuery{}));
  ASSERT_EQ(page.items.size(), 2u);
  EXPECT_EQ(page.items[1].platforms, std::vector<std::string>{"linux/amd64"});
  push_image("team/app", "two", {"v3"}, 3000, std::vector<std::string>{});
  page = must(store().tags(repo("team/app"), TagSort::kName, PageQuery{.filter = "v3"}));
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_TRUE(page.items[0].platforms.empty());
}

TEST_P(BrowseStoreContract, TagPagesAreSortedFilteredAndCut) {
  // build-3 pushed last, build-10 pulled last, huge the largest, v1 pulled most.
  push_image("team/app", "a", {"build-10", "build-2"}, 1000);
  push_image("team/app", "b", {"build-3"}, 3000);
  const auto most = push_image("team/app", "c", {"v1"}, 2000);
  ASSERT_TRUE(stores_.metadata->link_blob(repo("team/app"), BlobRef{digest("big"), 1000}, at(1)));
  ManifestPut bigger{repo("team/app"),
                     ManifestRecord{digest("d"), "application/vnd.oci.image.manifest.v1+json", 50,
                                    "", std::nullopt, "", at(2500)},
                     {BlobRef{digest("big"), 1000}},
                     {},
                     {tag("huge")}};
  ASSERT_TRUE(stores_.metadata->put_manifest(bigger));
  ASSERT_TRUE(stores_.policies->record_pulls(
      {PullRecord{repo("team/app"), digest("a"), tag("build-10"), 1, at(9000)},
       PullRecord{repo("team/app"), most, tag("v1"), 5, at(8000)}}));
  const auto r = repo("team/app");
  auto names = [&](TagSort sort, PageQuery page) {
    return tag_names(must(store().tags(r, sort, page)));
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names(TagSort::kName, {}), (V{"build-10", "build-2", "build-3", "huge", "v1"}))
      << "byte order, not natural order";
  EXPECT_EQ(names(TagSort::kName, {.filter = "", .descending = true}),
            (V{"v1", "huge", "build-3", "build-2", "build-10"}));
  EXPECT_EQ(names(TagSort::kPushed, {.filter = "", .descending = true}),
            (V{"build-3", "huge", "v1", "build-10", "build-2"}));
  EXPECT_EQ(names(TagSort::kPulled, {.filter = "", .descending = true}),
            (V{"build-10", "v1", "build-2", "build-3", "huge"}))
      << "never pulled sorts as the oldest, ties by name";
  EXPECT_EQ(names(TagSort::kPulled, {}), (V{"build-2", "build-3", "huge", "v1", "build-10"}));
  EXPECT_EQ(names(TagSort::kSize, {.filter = "", .descending = true}),
            (V{"huge", "build-10", "build-2", "build-3", "v1"}));
  EXPECT_EQ(names(TagSort::kPulls, {.filter = "", .descending = true}),
            (V{"v1", "build-10", "build-2", "build-3", "huge"}));

  auto filtered = must(store().tags(r, TagSort::kName, {.filter = "build", .limit = 2}));
  EXPECT_EQ(filtered.total, 3u);
  EXPECT_EQ(tag_names(filtered), (V{"build-10", "build-2"}));
  filtered = must(store().tags(r, TagSort::kName, {.filter = "build", .limit = 2, .offset = 2}));
  EXPECT_EQ(filtered.total, 3u);
  EXPECT_EQ(tag_names(filtered), (V{"build-3"}));
  filtered = must(store().tags(r, TagSort::kName, {.filter = "build", .offset = 10}));
  EXPECT_EQ(filtered.total, 3u);
  EXPECT_TRUE(filtered.items.empty());
  EXPECT_EQ(names(TagSort::kName, {.filter = "%"}), V{}) << "a filter is text, not a pattern";

  auto none = must(store().tags(repo("team/nothing"), TagSort::kName, {}));
  EXPECT_EQ(none.total, 0u);
  EXPECT_TRUE(none.items.empty());
}

TEST_P(BrowseStoreContract, RepositoryPagesHaveTheirFigures) {
  push_image("team/web", "w", {"v1", "v2"}, 1000);
  push_image("team/api", "a", {"v1"}, 3000);
  push_image("team/api", "a2", {}, 2000);
  push_image("other/x", "x", {"v1"}, 5000);
  // Blobs alone (an upload under way) do not make a repository listed.
  ASSERT_TRUE(stores_.metadata->link_blob(repo("team/empty"), BlobRef{digest("e"), 1}, at(1)));
  ASSERT_TRUE(stores_.policies->record_pulls(
      {PullRecord{repo("team/web"), digest("w"), tag("v1"), 4, at(7000)}}));

  auto page = must(store().repositories("team", RepositorySort::kName, PageQuery{}));
  EXPECT_EQ(page.total, 2u);
  ASSERT_EQ(repository_names(page), (std::vector<std::string>{"team/api", "team/web"}));
  const auto& api = page.items[0];
  EXPECT_EQ(api.tags, 1u);
  EXPECT_EQ(api.manifests, 2u);
  EXPECT_EQ(api.bytes, 320u);
  EXPECT_EQ(api.last_push, at(3000));
  EXPECT_FALSE(api.last_pull);
  EXPECT_EQ(api.pulls, 0u);
  const auto& web = page.items[1];
  EXPECT_EQ(web.tags, 2u);
  EXPECT_EQ(web.last_pull, at(7000));
  EXPECT_EQ(web.pulls, 4u);

  using V = std::vector<std::string>;
  auto names = [&](RepositorySort sort, PageQuery query) {
    return repository_names(must(store().repositories("team", sort, query)));
  };
  const PageQuery descending{.filter = "", .descending = true};
  EXPECT_EQ(names(RepositorySort::kName, descending), (V{"team/web", "team/api"}));
  EXPECT_EQ(names(RepositorySort::kLastPush, descending), (V{"team/api", "team/web"}));
  EXPECT_EQ(names(RepositorySort::kLastPull, descending), (V{"team/web", "team/api"}));
  EXPECT_EQ(names(RepositorySort::kSize, {}), (V{"team/web", "team/api"}));
  EXPECT_EQ(names(RepositorySort::kTags, descending), (V{"team/web", "team/api"}));
  EXPECT_EQ(names(RepositorySort::kName, {.filter = "", .limit = 1, .offset = 1}), (V{"team/web"}));
  auto filtered = must(store().repositories("team", RepositorySort::kName, {.filter = "we"}));
  EXPECT_EQ(filtered.total, 1u);
  EXPECT_EQ(repository_names(filtered), (V{"team/web"}));

  auto one = must(store().repository(repo("team/web")));
  ASSERT_TRUE(one);
  EXPECT_EQ(one->tags, 2u);
  EXPECT_EQ(one->pulls, 4u);
  EXPECT_FALSE(must(store().repository(repo("team/empty"))));
  EXPECT_FALSE(must(store().repository(repo("team/none"))));
}

TEST_P(BrowseStoreContract, ProjectFiguresSearchAndTotals) {
  ASSERT_TRUE(stores_.accounts->create_project(Project{"team", false, at(1)}));
  ASSERT_TRUE(stores_.accounts->create_project(Project{"quiet", true, at(1)}));
  ASSERT_TRUE(stores_.policies->set_settings(
      "team", ProjectSettings{.quota_bytes = 10000, .quota_repositories = 5}));
  push_image("team/web", "w", {"v1", "release-1"}, 1000);
  push_image("team/api", "a", {"v1"}, 3000);

  auto figures = must(store().project_figures());
  ASSERT_EQ(figures.size(), 2u);
  EXPECT_EQ(figures[0].project, "quiet");
  EXPECT_EQ(figures[0].repositories, 0u);
  EXPECT_FALSE(figures[0].last_push);
  EXPECT_FALSE(figures[0].quota_bytes);
  EXPECT_EQ(figures[1].project, "team");
  EXPECT_EQ(figures[1].repositories, 2u);
  EXPECT_EQ(figures[1].bytes, 320u);
  EXPECT_EQ(figures[1].quota_bytes, 10000u);
  EXPECT_EQ(figures[1].quota_repositories, 5u);
  EXPECT_EQ(figures[1].last_push, at(3000));

  EXPECT_EQ(must(store().find_repositories("ap", "", 10)), std::vector<std::string>{"team/api"});
  EXPECT_EQ(must(store().find_repositories("team", "team/api", 10)),
            std::vector<std::string>{"team/web"});
  auto tags = must(store().find_tags("v1", "", "", 10));
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_EQ(tags[0].repository, "team/api");
  EXPECT_EQ(tags[1].repository, "team/web");
  EXPECT_EQ(tags[1].digest, digest("w"));
  tags = must(store().find_tags("e", "team/web", "", 10));
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_EQ(tags[0].tag, "release-1");
  EXPECT_TRUE(must(store().find_tags("e", "team/web", "release-1", 10)).empty());

  auto totals = must(store().totals());
  EXPECT_EQ(totals.projects, 2u);
  EXPECT_EQ(totals.repositories, 2u);
  EXPECT_EQ(totals.blobs, 6u);
  EXPECT_EQ(totals.bytes, 2 * 160u);
}

TEST_P(BrowseStoreContract, TheNewestCollectionsAreKept) {
  EXPECT_TRUE(must(stores_.gc->recent_runs()).empty());
  for (int i = 0; i < static_cast<int>(kGcRunsKept) + 3; ++i) {
    ASSERT_TRUE(stores_.gc->record_run(GcRun{at(i * 10), at(i * 10 + 5), i % 2 == 0,
                                             i == 0 ? "schedule" : "alice",
                                             "{\"run\":" + std::to_string(i) + "}"}));
  }
  auto runs = must(stores_.gc->recent_runs());
  ASSERT_EQ(runs.size(), kGcRunsKept);
  EXPECT_EQ(runs.front().report_json, "{\"run\":22}");
  EXPECT_EQ(runs.front().started, at(220));
  EXPECT_EQ(runs.front().finished, at(225));
  EXPECT_TRUE(runs.front().dry_run);
  EXPECT_EQ(runs.front().started_by, "alice");
  EXPECT_EQ(runs.back().report_json, "{\"run\":3}");
}

INSTANTIATE_TEST_SUITE_P(Backends, BrowseStoreContract,
                         ::testing::Values(Backend{"SqliteFile", sqlite_file}),
                         [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(Postgres, BrowseStoreContract,
                         ::testing::Values(Backend{"Postgres", postgres}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace berth::meta
