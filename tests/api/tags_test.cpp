// GET /v2/<name>/tags/list: order, n/last pagination, the Link header, and errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

#include "api_fixture.hpp"

namespace berth::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using ::testing::StartsWith;

class TagsTest : public ApiTest {
 protected:
  static std::string tags_path(std::string_view name) {
    return "/v2/" + std::string(name) + "/tags/list";
  }

  // Pushes one image to `name` and tags it with every tag (in the given order).
  void tag_all(const std::string& name, const std::vector<std::string>& tags) {
    const auto image =
        registry().push_image(name, "", ImageOptions().with_layers(1).with_layer_size(64));
    for (const auto& tag : tags) {
      registry().push_manifest(name, tag, image.manifest, image.media_type);
    }
  }

  std::vector<std::string> tags_of(const HttpResponse& r) {
    return json_string_array(r.body, "tags");
  }
};

TEST_F(TagsTest, ListsEveryTagInLexicalOrder) {
  const std::string name = repo();
  const std::vector<std::string> tags = {"v2", "latest", "v10",  "1",   "10", "9",
                                         "a",  "b-c",    "v1.0", "b_c", "b.c"};
  tag_all(name, tags);
  const auto r = http().get(tags_path(name));
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_THAT(r.header("Content-Type"), StartsWith("application/json"));
  EXPECT_FALSE(r.has_header("Link"));
  auto expected = tags;
  std::sort(expected.begin(), expected.end());
  EXPECT_THAT(tags_of(r), ElementsAreArray(expected));
  EXPECT_NE(r.body.find("\"name\":\"" + name + "\""), std::string::npos) << r.body;
}

TEST_F(TagsTest, MixedCaseTagsHaveOneOrderAcrossPages) {
  // The spec says "lexical order (i.e. case-insensitive alphanumeric order)"; registries mostly
  // sort bytewise. Either way, paging must walk the same order the full list has.
  const std::string name = repo();
  const std::vector<std::string> tags = {"beta", "Alpha", "alpha2", "Zulu", "gamma", "_x", "B"};
  tag_all(name, tags);
  const auto whole = http().get(tags_path(name));
  ASSERT_EQ(whole.status, 200u) << BERTH_DESCRIBE(whole);
  const auto listed = tags_of(whole);
  auto bytewise = tags;
  std::sort(bytewise.begin(), bytewise.end());
  auto caseless = tags;
  std::sort(caseless.begin(), caseless.end(), [](const std::string& a, const std::string& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return std::tolower(static_cast<unsigned char>(x)) <
             std::tolower(static_cast<unsigned char>(y));
    });
  });
  EXPECT_TRUE(listed == bytewise || listed == caseless) << whole.body;
  EXPECT_THAT(registry().list_tags(name, 1), ElementsAreArray(listed));
  EXPECT_THAT(registry().list_tags(name, 3), ElementsAreArray(listed));
}

TEST_F(TagsTest, PaginationWithLinkHeader) {
  const std::string name = repo();
  tag_all(name, {"t1", "t2", "t3", "t4", "t5"});

  const auto first = http().get(tags_path(name) + "?n=2");
  ASSERT_EQ(first.status, 200u) << BERTH_DESCRIBE(first);
  EXPECT_THAT(tags_of(first), ElementsAre("t1", "t2"));
  EXPECT_EQ(first.header("Link"), "<" + tags_path(name) + "?n=2&last=t2>; rel=\"next\"");

  const auto next = next_link(first);
  ASSERT_TRUE(next.has_value());
  const auto second = http().get(*next);
  ASSERT_EQ(second.status, 200u) << BERTH_DESCRIBE(second);
  EXPECT_THAT(tags_of(second), ElementsAre("t3", "t4"));
  ASSERT_TRUE(next_link(second).has_value()) << "t5 is still to come";

  const auto third = http().get(*next_link(second));
  ASSERT_EQ(third.status, 200u) << BERTH_DESCRIBE(third);
  EXPECT_THAT(tags_of(third), ElementsAre("t5"));
  EXPECT_FALSE(third.has_header("Link")) << third.header("Link");
}

TEST_F(TagsTest, NoLinkWhenThePageEndsExactlyAtTheLastTag) {
  const std::string name = repo();
  tag_all(name, {"a1", "a2", "a3", "a4"});
  const auto first = http().get(tags_path(name) + "?n=2");
  ASSERT_EQ(first.status, 200u) << BERTH_DESCRIBE(first);
  ASSERT_TRUE(first.has_header("Link"));
  const auto second = http().get(tags_path(name) + "?n=2&last=a2");
  ASSERT_EQ(second.status, 200u) << BERTH_DESCRIBE(second);
  EXPECT_THAT(tags_of(second), ElementsAre("a3", "a4"));
  EXPECT_FALSE(second.has_header("Link")) << "no tags remain, so there is no next page";

  const auto exact = http().get(tags_path(name) + "?n=4");
  ASSERT_EQ(exact.status, 200u) << BERTH_DESCRIBE(exact);
  EXPECT_THAT(tags_of(exact), ElementsAre("a1", "a2", "a3", "a4"));
  EXPECT_FALSE(exact.has_header("Link"));
}

TEST_F(TagsTest, NLargerThanTheListReturnsEverything) {
  const std::string name = repo();
  tag_all(name, {"x", "y"});
  const auto r = http().get(tags_path(name) + "?n=1000");
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_THAT(tags_of(r), ElementsAre("x", "y"));
  EXPECT_FALSE(r.has_header("Link"));
}

TEST_F(TagsTest, NZeroIsAnEmptyListWithoutLink) {
  const std::string name = repo();
  tag_all(name, {"x", "y"});
  const auto r = http().get(tags_path(name) + "?n=0");
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_THAT(tags_of(r), IsEmpty());
  EXPECT_FALSE(r.has_header("Link"));
}

TEST_F(TagsTest, LastWithoutN) {
  const std::string name = repo();
  tag_all(name, {"a", "b", "c", "d"});
  const auto r = http().get(tags_path(name) + "?last=b");
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_THAT(tags_of(r), ElementsAre("c", "d"));
  EXPECT_FALSE(r.has_header("Link"));
}

TEST_F(TagsTest, LastNeedNotBeAnExistingTag) {
  const std::string name = repo();
  tag_all(name, {"a", "c", "e"});
  const auto r = http().get(tags_path(name) + "?n=10&last=b");
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_THAT(tags_of(r), ElementsAre("c", "e"));
  const auto after_all = http().get(tags_path(name) + "?n=10&last=z");
  ASSERT_EQ(after_all.status, 200u) << BERTH_DESCRIBE(after_all);
  EXPECT_THAT(tags_of(after_all), IsEmpty());
  EXPECT_FALSE(after_all.has_header("Link"));
}

TEST_F(TagsTest, FollowingLinksVisitsEveryTagOnce) {
  const std::string name = repo();
  std::vector<std::string> tags;
  for (int i = 0; i < 23; ++i) {
    tags.push_back("tag-" + std::to_string(1000 + i));
  }
  tag_all(name, tags);
  for (std::size_t page : {1u, 4u, 5u, 22u, 23u, 24u}) {
    SCOPED_TRACE("page size " + std::to_string(page));
    EXPECT_THAT(registry().list_tags(name, page), ElementsAreArray(tags));
  }
}

TEST_F(TagsTest, UnknownRepositoryIs404NameUnknown) {
  const auto r = http().get(tags_path(repo("absent")));
  EXPECT_EQ(r.status, 404u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(error_code(r), "NAME_UNKNOWN");
}

TEST_F(TagsTest, InvalidNameIs400NameInvalid) {
  for (const char* name : {"UPPER", "a..b", "%2e%2e"}) {
    SCOPED_TRACE(name);
    const auto r = http().get(tags_path(name));
    EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
    EXPECT_EQ(error_code(r), "NAME_INVALID");
  }
}

TEST_F(TagsTest, NotANumberIs400) {
  const std::string name = repo();
  tag_all(name, {"x"});
  for (const char* n : {"abc", "-1", "1.5", "0x10", "1e3", "%20"}) {
    SCOPED_TRACE(n);
    const auto r = http().get(tags_path(name) + "?n=" + n);
    EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
    EXPECT_FALSE(error_code(r).empty()) << BERTH_DESCRIBE(r);
  }
}

TEST_F(TagsTest, RepositoryWhoseTagsWereDeletedListsNoTags) {
  const std::string name = repo();
  const auto image = registry().push_image(name, "only");
  ASSERT_EQ(http().del("/v2/" + name + "/manifests/only").status, 202u);
  const auto r = http().get(tags_path(name));
  // The manifest is still there by digest, so the repository exists.
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_THAT(tags_of(r), IsEmpty());
  EXPECT_TRUE(registry().manifest_exists(name, image.digest));
}

TEST_F(TagsTest, TagsOfOtherRepositoriesDoNotShow) {
  const std::string parent = repo();
  const std::string child = parent + "/child";
  tag_all(parent, {"p1"});
  tag_all(child, {"c1"});
  EXPECT_THAT(registry().list_tags(parent), ElementsAre("p1"));
  EXPECT_THAT(registry().list_tags(child), ElementsAre("c1"));
}

TEST_F(TagsTest, DeleteOnTagsListIsNotAllowed) {
  const std::string name = repo();
  tag_all(name, {"x"});
  const auto r = http().del(tags_path(name));
  EXPECT_EQ(r.status, 405u) << BERTH_DESCRIBE(r);
  EXPECT_THAT(registry().list_tags(name), ElementsAre("x"));
}

}  // namespace
}  // namespace berth::testing
