#include "util/hex.hpp"

#include <gtest/gtest.h>

#include <array>
#include <set>

namespace berth::util {
namespace {

TEST(Hex, TwoLowerCaseDigitsPerByte) {
  const std::array<unsigned char, 4> bytes{0x00, 0x0f, 0xa5, 0xff};
  EXPECT_EQ(hex(bytes), "000fa5ff");
  EXPECT_EQ(hex({}), "");
}

TEST(Hex, RandomHexHasTwoDigitsPerByteAndDiffers) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const auto text = random_hex(16);
    ASSERT_EQ(text.size(), 32u);
    EXPECT_EQ(text.find_first_not_of("0123456789abcdef"), std::string::npos) << text;
    seen.insert(text);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace berth::util
