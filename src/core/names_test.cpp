#include "core/names.hpp"

#include <gtest/gtest.h>

#include <string>

namespace berth::core {
namespace {

const std::string kReferenceHex =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

// A name of exactly n bytes made of single-letter components: "a/a/a...".
std::string name_of_length(std::size_t n) {
  std::string s;
  while (s.size() + 2 <= n) {
    s += s.empty() ? "a" : "/a";
  }
  while (s.size() < n) {
    s += 'b';  // Lengthen the last component.
  }
  return s;
}

struct Case {
  std::string name;
  std::string text;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

// ---- repository names ----------------------------------------------------------------------

class RepositoryNameAccepts : public ::testing::TestWithParam<Case> {};

TEST_P(RepositoryNameAccepts, AndKeepsTheText) {
  auto name = RepositoryName::parse(GetParam().text);
  ASSERT_TRUE(name.has_value()) << GetParam().text << ": " << name.error().message;
  EXPECT_EQ(name->str(), GetParam().text);
  auto again = RepositoryName::parse(name->str());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, *name);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RepositoryNameAccepts,
    ::testing::Values(Case{"OneLetter", "a"}, Case{"OneDigit", "0"}, Case{"Word", "library"},
                      Case{"TwoComponents", "library/ubuntu"},
                      Case{"ManyComponents", "a/b/c/d/e/f"}, Case{"Dot", "a.b"},
                      Case{"Underscore", "a_b"}, Case{"DoubleUnderscore", "a__b"},
                      Case{"Dash", "a-b"}, Case{"DoubleDash", "a--b"},
                      Case{"ManyDashes", "a-----b"},
                      Case{"MixedSeparators", "my.app_v2__x-y--z/sub-1.2"},
                      Case{"DigitsOnly", "123/456"}, Case{"Length255", name_of_length(255)}),
    case_name);

class RepositoryNameRejects : public ::testing::TestWithParam<Case> {};

TEST_P(RepositoryNameRejects, WithNameInvalid) {
  auto name = RepositoryName::parse(GetParam().text);
  ASSERT_FALSE(name.has_value()) << GetParam().text;
  EXPECT_EQ(name.error().code, ErrorCode::kNameInvalid);
  EXPECT_FALSE(name.error().message.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Table, RepositoryNameRejects,
    ::testing::Values(Case{"Empty", ""}, Case{"Length256", name_of_length(256)},
                      Case{"TripleUnderscore", "a___b"}, Case{"TrailingDash", "a-"},
                      Case{"LeadingDash", "-a"}, Case{"TrailingDot", "a."},
                      Case{"LeadingDot", ".a"}, Case{"LeadingUnderscore", "_a"},
                      Case{"TrailingUnderscore", "a_"}, Case{"DotDash", "a.-b"},
                      Case{"DoubleDot", "a..b"}, Case{"DotDotComponent", "a/../b"},
                      Case{"DotDot", ".."}, Case{"Dot", "."}, Case{"PathTraversal", "../x"},
                      Case{"DeepTraversal", "a/../../etc/passwd"}, Case{"Uppercase", "Library"},
                      Case{"UppercaseInside", "library/Ubuntu"}, Case{"DoubleSlash", "a//b"},
                      Case{"TrailingSlash", "a/"}, Case{"LeadingSlash", "/a"},
                      Case{"OnlySlash", "/"}, Case{"Backslash", "a\\b"}, Case{"Colon", "a:b"},
                      Case{"At", "a@sha256"}, Case{"Space", "a b"}, Case{"Percent", "a%2fb"},
                      Case{"Nul", std::string("a\0b", 3)}, Case{"NonAscii", "caf\xc3\xa9"},
                      Case{"Newline", "a\n"}),
    case_name);

TEST(RepositoryName, ProjectIsTheFirstComponent) {
  EXPECT_EQ(RepositoryName::parse("library/ubuntu")->project(), "library");
  EXPECT_EQ(RepositoryName::parse("a/b/c")->project(), "a");
  EXPECT_EQ(RepositoryName::parse("solo")->project(), "solo");
}

TEST(RepositoryName, Ordering) {
  auto a = *RepositoryName::parse("a");
  auto b = *RepositoryName::parse("b");
  EXPECT_LT(a, b);
  EXPECT_NE(a, b);
}

// ---- tags ----------------------------------------------------------------------------------

class TagAccepts : public ::testing::TestWithParam<Case> {};

TEST_P(TagAccepts, AndKeepsTheText) {
  auto tag = Tag::parse(GetParam().text);
  ASSERT_TRUE(tag.has_value()) << GetParam().text << ": " << tag.error().message;
  EXPECT_EQ(tag->str(), GetParam().text);
}

INSTANTIATE_TEST_SUITE_P(
    Table, TagAccepts,
    ::testing::Values(Case{"Latest", "latest"}, Case{"Version", "v1.2.3"}, Case{"Uppercase", "RC1"},
                      Case{"LeadingUnderscore", "_x"}, Case{"LeadingDigit", "1.0"},
                      Case{"DashesAndDots", "a-b.c_d--e..f"}, Case{"OneChar", "a"},
                      Case{"TrailingDot", "a."},
                      Case{"DigestLikeWithoutColon", "sha256-" + kReferenceHex},
                      Case{"Length128", std::string(128, 'a')}),
    case_name);

class TagRejects : public ::testing::TestWithParam<Case> {};

TEST_P(TagRejects, WithTagInvalid) {
  auto tag = Tag::parse(GetParam().text);
  ASSERT_FALSE(tag.has_value()) << GetParam().text;
  EXPECT_EQ(tag.error().code, ErrorCode::kTagInvalid);
}

INSTANTIATE_TEST_SUITE_P(
    Table, TagRejects,
    ::testing::Values(Case{"Empty", ""}, Case{"Length129", std::string(129, 'a')},
                      Case{"LeadingDot", ".a"}, Case{"LeadingDash", "-a"}, Case{"DotDot", ".."},
                      Case{"Slash", "a/b"}, Case{"Colon", "a:b"}, Case{"Plus", "a+b"},
                      Case{"Space", "a b"}, Case{"At", "a@b"}, Case{"Nul", std::string("a\0", 2)},
                      Case{"NonAscii", "\xc3\xa9"}),
    case_name);

// ---- references ----------------------------------------------------------------------------

TEST(Reference, TagIsATag) {
  auto ref = Reference::parse("v1.0");
  ASSERT_TRUE(ref.has_value());
  EXPECT_TRUE(ref->is_tag());
  EXPECT_FALSE(ref->is_digest());
  EXPECT_EQ(ref->tag().str(), "v1.0");
  EXPECT_EQ(ref->str(), "v1.0");
}

TEST(Reference, DigestIsADigest) {
  auto ref = Reference::parse("sha256:" + kReferenceHex);
  ASSERT_TRUE(ref.has_value());
  EXPECT_TRUE(ref->is_digest());
  EXPECT_FALSE(ref->is_tag());
  EXPECT_EQ(ref->digest().hex(), kReferenceHex);
  EXPECT_EQ(ref->str(), "sha256:" + kReferenceHex);
}

TEST(Reference, TextWithColonIsJudgedAsADigest) {
  auto ref = Reference::parse("latest:x");
  ASSERT_FALSE(ref.has_value());
  EXPECT_EQ(ref.error().code, ErrorCode::kDigestInvalid);
  ref = Reference::parse("md5:d41d8cd98f00b204e9800998ecf8427e");
  ASSERT_FALSE(ref.has_value());
  EXPECT_EQ(ref.error().code, ErrorCode::kDigestInvalid);
}

TEST(Reference, BadTagIsTagInvalid) {
  for (const std::string& text : {std::string(), std::string(".x"), std::string("-x"),
                                  std::string(129, 't'), std::string("a/b")}) {
    auto ref = Reference::parse(text);
    ASSERT_FALSE(ref.has_value()) << text;
    EXPECT_EQ(ref.error().code, ErrorCode::kTagInvalid) << text;
  }
}

TEST(Reference, ConstructedFromValues) {
  Reference by_tag(*Tag::parse("x"));
  EXPECT_TRUE(by_tag.is_tag());
  Reference by_digest(Digest::of("x"));
  EXPECT_TRUE(by_digest.is_digest());
  EXPECT_EQ(by_digest.str(), Digest::of("x").str());
}

}  // namespace
}  // namespace berth::core
