#include "util/natural_order.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace berth::util {
namespace {

TEST(NaturalOrder, NumbersCompareByValue) {
  EXPECT_TRUE(natural_less("build-3", "build-10"));
  EXPECT_FALSE(natural_less("build-10", "build-3"));
  EXPECT_TRUE(natural_less("v1.9.0", "v1.10.0"));
  EXPECT_TRUE(natural_less("2", "10"));
}

TEST(NaturalOrder, TextComparesByteByByte) {
  EXPECT_TRUE(natural_less("alpha", "beta"));
  EXPECT_TRUE(natural_less("build", "build-1"));
  EXPECT_FALSE(natural_less("build-1", "build"));
  EXPECT_TRUE(natural_less("Z", "a"));
}

TEST(NaturalOrder, LeadingZerosDecideOnlyATie) {
  EXPECT_TRUE(natural_less("7", "007"));
  EXPECT_FALSE(natural_less("007", "7"));
  EXPECT_TRUE(natural_less("007", "8"));
  EXPECT_FALSE(natural_less("x", "x"));
}

TEST(NaturalOrder, SortsTagsTheWayPeopleRead) {
  std::vector<std::string> tags{"build-10", "latest", "build-3", "build-100", "build-03", "1.2"};
  std::sort(tags.begin(), tags.end(),
            [](const std::string& a, const std::string& b) { return natural_less(a, b); });
  EXPECT_EQ(tags, (std::vector<std::string>{"1.2", "build-3", "build-03", "build-10", "build-100",
                                            "latest"}));
}

// Numbers longer than any integer type still order by value.
TEST(NaturalOrder, NumbersLongerThanAnIntegerStillOrder) {
  EXPECT_TRUE(natural_less("r99999999999999999999999", "r100000000000000000000000"));
}

}  // namespace
}  // namespace berth::util
