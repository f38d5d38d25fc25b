#include "core/upload_id.hpp"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

namespace berth::core {
namespace {

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

TEST(UploadId, GeneratedIdsAre32LowercaseHex) {
  for (int i = 0; i < 100; ++i) {
    UploadId id = UploadId::generate();
    EXPECT_EQ(id.str().size(), UploadId::kLength);
    EXPECT_TRUE(is_lower_hex(id.str())) << id.str();
  }
}

TEST(UploadId, ThousandGeneratedIdsAreDistinct) {
  std::unordered_set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(seen.insert(UploadId::generate().str()).second);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(UploadId, GeneratedIdsParseBackEqual) {
  UploadId id = UploadId::generate();
  auto parsed = UploadId::parse(id.str());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, id);
  EXPECT_EQ(parsed->str(), id.str());
}

TEST(UploadId, ParseAcceptsAnyLowercaseHexOfTheRightLength) {
  EXPECT_TRUE(UploadId::parse(std::string(32, '0')).has_value());
  EXPECT_TRUE(UploadId::parse("0123456789abcdef0123456789abcdef").has_value());
}

TEST(UploadId, ParseRejectsWhatGenerateCannotMake) {
  const std::string good = "0123456789abcdef0123456789abcdef";
  for (const std::string& text : {
           std::string(),
           good.substr(1),
           good + "0",
           std::string("0123456789ABCDEF0123456789abcdef"),
           std::string("0123456789abcdeg0123456789abcdef"),
           std::string("../../../../../../../etc/passwd0"),
           std::string("0123456789abcdef0123456789abcde/"),
           std::string("0123456789abcdef0123456789abcde\0", 32),
           std::string("01234567-89ab-cdef-0123-456789ab"),
       }) {
    auto parsed = UploadId::parse(text);
    ASSERT_FALSE(parsed.has_value()) << text;
    EXPECT_EQ(parsed.error().code, ErrorCode::kBlobUploadUnknown);
  }
}

}  // namespace
}  // namespace berth::core
