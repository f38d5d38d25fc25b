// GET /v2/_catalog: order, n/last pagination and the Link header. The catalog is global, so
// every test here gets a berth of its own rather than sharing the suite's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "api_fixture.hpp"

namespace berth::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using ::testing::StartsWith;

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<BerthProcess>();
    registry_ = std::make_unique<RegistryClient>("127.0.0.1", server_->port());
  }
  void TearDown() override {
    registry_.reset();
    if (server_) {
      EXPECT_EQ(server_->stop(), 0) << server_->log();
    }
  }

  HttpClient& http() { return registry_->http(); }

  // Pushes a small image into each repository.
  void create(const std::vector<std::string>& names) {
    for (const auto& name : names) {
      registry_->push_image(name, "v1", ImageOptions().with_layers(1).with_layer_size(16));
    }
  }

  static std::vector<std::string> names_of(const HttpResponse& r) {
    return json_string_array(r.body, "repositories");
  }

  std::unique_ptr<BerthProcess> server_;
  std::unique_ptr<RegistryClient> registry_;
};

TEST_F(CatalogTest, EmptyRegistryHasAnEmptyCatalog) {
  const auto r = http().get("/v2/_catalog");
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_THAT(r.header("Content-Type"), StartsWith("application/json"));
  EXPECT_THAT(names_of(r), IsEmpty());
  EXPECT_FALSE(r.has_header("Link"));
}

TEST_F(CatalogTest, ListsRepositoriesInOrder) {
  const std::vector<std::string> names = {
      "zeta", "alpha/one", "alpha", "alpha-b", "alpha/two", "beta/x/y", "b", "alpha.c", "alpha_d"};
  create(names);
  const auto r = http().get("/v2/_catalog");
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  auto expected = names;
  std::sort(expected.begin(), expected.end());
  EXPECT_THAT(names_of(r), ElementsAreArray(expected));
  EXPECT_FALSE(r.has_header("Link"));
}

TEST_F(CatalogTest, PaginationWithLinkHeader) {
  create({"r1", "r2", "r3", "r4", "r5"});
  const auto first = http().get("/v2/_catalog?n=2");
  ASSERT_EQ(first.status, 200u) << BERTH_DESCRIBE(first);
  EXPECT_THAT(names_of(first), ElementsAre("r1", "r2"));
  EXPECT_EQ(first.header("Link"), "</v2/_catalog?n=2&last=r2>; rel=\"next\"");

  const auto second = http().get(*next_link(first));
  ASSERT_EQ(second.status, 200u) << BERTH_DESCRIBE(second);
  EXPECT_THAT(names_of(second), ElementsAre("r3", "r4"));
  ASSERT_TRUE(next_link(second).has_value());

  const auto third = http().get(*next_link(second));
  ASSERT_EQ(third.status, 200u) << BERTH_DESCRIBE(third);
  EXPECT_THAT(names_of(third), ElementsAre("r5"));
  EXPECT_FALSE(third.has_header("Link"));
}

TEST_F(CatalogTest, NoLinkWhenThePageEndsExactlyAtTheLastRepository) {
  create({"r1", "r2", "r3", "r4"});
  const auto r = http().get("/v2/_catalog?n=2&last=r2");
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_THAT(names_of(r), ElementsAre("r3", "r4"));
  EXPECT_FALSE(r.has_header("Link"));
}

TEST_F(CatalogTest, LastWithSlashesIsEncodedInTheLink) {
  create({"team/a", "team/b", "team/c"});
  const auto first = http().get("/v2/_catalog?n=1");
  ASSERT_EQ(first.status, 200u) << BERTH_DESCRIBE(first);
  EXPECT_THAT(names_of(first), ElementsAre("team/a"));
  const auto next = next_link(first);
  ASSERT_TRUE(next.has_value());
  const auto second = http().get(*next);
  ASSERT_EQ(second.status, 200u) << BERTH_DESCRIBE(second);
  EXPECT_THAT(names_of(second), ElementsAre("team/b"));
}

TEST_F(CatalogTest, FollowingLinksVisitsEveryRepositoryOnce) {
  std::vector<std::string> names;
  for (int i = 0; i < 11; ++i) {
    names.push_back("repo" + std::to_string(10 + i) + (i % 2 == 0 ? "/sub" : ""));
  }
  create(names);
  std::sort(names.begin(), names.end());
  for (int page : {1, 3, 10, 11, 12}) {
    SCOPED_TRACE("page size " + std::to_string(page));
    std::vector<std::string> seen;
    std::string target = "/v2/_catalog?n=" + std::to_string(page);
    for (int guard = 0; guard < 100; ++guard) {
      const auto r = http().get(target);
      ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
      const auto batch = names_of(r);
      EXPECT_LE(batch.size(), static_cast<std::size_t>(page));
      seen.insert(seen.end(), batch.begin(), batch.end());
      const auto next = next_link(r);
      if (!next) {
        break;
      }
      EXPECT_EQ(batch.size(), static_cast<std::size_t>(page)) << "a non-final page must be full";
      target = *next;
    }
    EXPECT_THAT(seen, ElementsAreArray(names));
  }
}

TEST_F(CatalogTest, NZeroIsAnEmptyListWithoutLink) {
  create({"a", "b"});
  const auto r = http().get("/v2/_catalog?n=0");
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_THAT(names_of(r), IsEmpty());
  EXPECT_FALSE(r.has_header("Link"));
}

TEST_F(CatalogTest, LastWithoutN) {
  create({"a", "b", "c"});
  const auto r = http().get("/v2/_catalog?last=a");
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_THAT(names_of(r), ElementsAre("b", "c"));
}

TEST_F(CatalogTest, NotANumberIs400) {
  for (const char* n : {"abc", "-1", "2.5"}) {
    SCOPED_TRACE(n);
    const auto r = http().get(std::string("/v2/_catalog?n=") + n);
    EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
    EXPECT_FALSE(error_code(r).empty()) << BERTH_DESCRIBE(r);
  }
}

TEST_F(CatalogTest, PostIsNotAllowed) {
  const auto r = http().post("/v2/_catalog", "");
  EXPECT_EQ(r.status, 405u) << BERTH_DESCRIBE(r);
}

}  // namespace
}  // namespace berth::testing
