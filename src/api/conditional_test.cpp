#include "api/conditional.hpp"

#include <gtest/gtest.h>

namespace berth::api {
namespace {

constexpr std::string_view kTag = "\"sha256:abc\"";

TEST(IfNoneMatchTest, MatchesListsWeakTagsAndStar) {
  EXPECT_TRUE(if_none_match("\"sha256:abc\"", kTag));
  EXPECT_TRUE(if_none_match("*", kTag));
  EXPECT_TRUE(if_none_match(" \"x\" , \"sha256:abc\"", kTag));
  EXPECT_TRUE(if_none_match("\"x\",\"sha256:abc\"", kTag));
  EXPECT_TRUE(if_none_match("W/\"sha256:abc\"", kTag));
}

TEST(IfNoneMatchTest, DoesNotMatchOtherTags) {
  EXPECT_FALSE(if_none_match("", kTag));
  EXPECT_FALSE(if_none_match("\"sha256:abd\"", kTag));
  EXPECT_FALSE(if_none_match("sha256:abc", kTag));  // unquoted is not an entity tag
  EXPECT_FALSE(if_none_match("\"x\", \"y\"", kTag));
  EXPECT_FALSE(if_none_match(",", kTag));
}

}  // namespace
}  // namespace berth::api
