// Tag patterns: what they match, what they refuse, and that matching stays cheap.
#include "lifecycle/tag_pattern.hpp"

#include <gtest/gtest.h>

#include <string>

namespace berth::lifecycle {
namespace {

bool match(std::string_view pattern, std::string_view tag) {
  return TagPattern::parse(pattern).value().matches(tag);
}

TEST(TagPatternTest, StarMatchesAnyRunAndQuestionMarkOneCharacter) {
  EXPECT_TRUE(match("*", "latest"));
  EXPECT_TRUE(match("v*", "v"));
  EXPECT_TRUE(match("v*", "v1.2.3"));
  EXPECT_FALSE(match("v*", "av1"));
  EXPECT_TRUE(match("*-rc*", "1.0-rc2"));
  EXPECT_FALSE(match("*-rc*", "1.0"));
  EXPECT_TRUE(match("v?.?", "v1.2"));
  EXPECT_FALSE(match("v?.?", "v1.22"));
  EXPECT_TRUE(match("release-*-final", "release-2024-01-final"));
  EXPECT_FALSE(match("release-*-final", "release-2024-01-final2"));
  EXPECT_TRUE(match("**a**", "a"));
  EXPECT_TRUE(match("latest", "latest"));
  EXPECT_FALSE(match("latest", "Latest"));  // case-sensitive, as tags are
  EXPECT_FALSE(match("latest", "latest1"));
}

TEST(TagPatternTest, OnlyTagCharactersAndWildcardsAreAllowed) {
  for (std::string_view bad : {"", "v/1", "v 1", "[ab]", "a\nb", "é"}) {
    auto parsed = TagPattern::parse(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, core::ErrorCode::kInvalidRequest);
  }
  EXPECT_FALSE(TagPattern::parse(std::string(129, 'a')));
  EXPECT_TRUE(TagPattern::parse(std::string(128, '*')));
}

TEST(TagPatternTest, ErrorsNameThePatternsPosition) {
  auto parsed = parse_tag_patterns({"v*", "bad pattern"}, "immutable_tags");
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("immutable_tags[1]"), std::string::npos)
      << parsed.error().message;
}

// Regression guard for the classic exponential glob: many stars against a long near-miss.
TEST(TagPatternTest, ManyStarsAgainstANearMissFinish) {
  const std::string pattern = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
  EXPECT_FALSE(match(pattern, std::string(128, 'a')));
}

TEST(TagPatternTest, FirstMatchReportsWhichPattern) {
  auto patterns = parse_tag_patterns({"v*", "*"}, "p").value();
  ASSERT_NE(first_match(patterns, "v1"), nullptr);
  EXPECT_EQ(first_match(patterns, "v1")->str(), "v*");
  EXPECT_EQ(first_match(patterns, "x")->str(), "*");
  EXPECT_EQ(first_match({}, "x"), nullptr);
}

}  // namespace
}  // namespace berth::lifecycle
