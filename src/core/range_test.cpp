#include "core/range.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace berth::core {
namespace {

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kI64Max = std::numeric_limits<std::int64_t>::max();

// ---- Content-Range of an upload chunk ---------------------------------------------------

struct GoodContentRange {
  std::string name;
  std::string header;
  ByteRange want;
};

class ContentRangeAccepts : public ::testing::TestWithParam<GoodContentRange> {};

TEST_P(ContentRangeAccepts, Table) {
  auto r = parse_content_range(GetParam().header);
  ASSERT_TRUE(r.has_value()) << GetParam().header << ": " << r.error().message;
  EXPECT_EQ(*r, GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ContentRangeAccepts,
    ::testing::Values(GoodContentRange{"Plain", "0-99", {0, 99}},
                      GoodContentRange{"SingleByte", "5-5", {5, 5}},
                      GoodContentRange{"Offset", "100-199", {100, 199}},
                      GoodContentRange{"BytesUnit", "bytes 0-99/1000", {0, 99}},
                      GoodContentRange{"BytesUnitStarTotal", "bytes 0-99/*", {0, 99}},
                      GoodContentRange{"BytesUnitNoTotal", "bytes 10-19", {10, 19}},
                      GoodContentRange{"UnitIsCaseInsensitive", "Bytes 0-0/1", {0, 0}},
                      GoodContentRange{"TotalExactlyCovers", "bytes 0-99/100", {0, 99}},
                      GoodContentRange{"SurroundingSpaces", "  0-99 ", {0, 99}},
                      GoodContentRange{"LeadingZeros", "007-010", {7, 10}},
                      GoodContentRange{"LargestPosition", "0-9223372036854775807", {0, kI64Max}}),
    [](const auto& info) { return info.param.name; });

class ContentRangeRejects : public ::testing::TestWithParam<std::string> {};

TEST_P(ContentRangeRejects, WithBlobUploadInvalid) {
  auto r = parse_content_range(GetParam());
  ASSERT_FALSE(r.has_value()) << "'" << GetParam() << "' gave " << r->first << "-" << r->last;
  EXPECT_EQ(r.error().code, ErrorCode::kBlobUploadInvalid);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ContentRangeRejects,
    ::testing::Values("", " ", "-", "0", "0-", "-99", "99-0", "1-0", "a-b", "0-9x", "+0-9", "0-+9",
                      "0 - 9", "0--9", "-1-5", "0x0-0x9", "0-99/", "0-99/x", "bytes 0-99/50",
                      "bytes 0-99/99", "bytes=0-99", "bytes", "bytes ", "bytes0-99", "0-99,100-199",
                      "0-9223372036854775808", "9223372036854775808-9223372036854775809",
                      "0-18446744073709551615", "0-18446744073709551616",
                      "0-99999999999999999999999999999", std::string("0-9\0", 4)));

// Regression guard: ByteRange::length() of any accepted range is exact.
TEST(ContentRange, LengthCannotOverflow) {
  auto r = parse_content_range("0-9223372036854775807");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->length(), kI64Max + 1);
}

// ---- Range of a blob GET -------------------------------------------------------------------

struct RangeCase {
  std::string name;
  std::string header;
  std::uint64_t size;
  std::optional<ByteRange> want;
};

class RangeServes : public ::testing::TestWithParam<RangeCase> {};

TEST_P(RangeServes, Table) {
  auto r = parse_range(GetParam().header, GetParam().size);
  ASSERT_TRUE(r.has_value()) << GetParam().header << ": " << r.error().message;
  EXPECT_EQ(r->range, GetParam().want) << GetParam().header;
  if (r->range) {
    EXPECT_LE(r->range->first, r->range->last);
    EXPECT_LT(r->range->last, GetParam().size);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, RangeServes,
    ::testing::Values(
        // Satisfiable single ranges: 206.
        RangeCase{"FirstHundred", "bytes=0-99", 1000, ByteRange{0, 99}},
        RangeCase{"Middle", "bytes=100-199", 1000, ByteRange{100, 199}},
        RangeCase{"OneByte", "bytes=0-0", 1, ByteRange{0, 0}},
        RangeCase{"LastByte", "bytes=999-999", 1000, ByteRange{999, 999}},
        RangeCase{"LastClampedToSize", "bytes=0-5000", 1000, ByteRange{0, 999}},
        RangeCase{"OpenEnded", "bytes=100-", 1000, ByteRange{100, 999}},
        RangeCase{"OpenEndedFromZero", "bytes=0-", 1000, ByteRange{0, 999}},
        RangeCase{"Suffix", "bytes=-100", 1000, ByteRange{900, 999}},
        RangeCase{"SuffixWholeBlob", "bytes=-1000", 1000, ByteRange{0, 999}},
        RangeCase{"SuffixLongerThanBlob", "bytes=-5000", 1000, ByteRange{0, 999}},
        RangeCase{"SuffixOne", "bytes=-1", 1000, ByteRange{999, 999}},
        RangeCase{"UnitCaseInsensitive", "BYTES=0-1", 10, ByteRange{0, 1}},
        RangeCase{"Whitespace", "  bytes= 0-1 ", 10, ByteRange{0, 1}},
        RangeCase{"EmptyListElementsIgnored", "bytes=,0-1,", 10, ByteRange{0, 1}},
        RangeCase{"LeadingZeros", "bytes=0005-0007", 10, ByteRange{5, 7}},
        // Overflowing numbers are just very large positions.
        RangeCase{"LastOverflows", "bytes=5-99999999999999999999999", 10, ByteRange{5, 9}},
        RangeCase{"SuffixOverflows", "bytes=-99999999999999999999999", 10, ByteRange{0, 9}},
        RangeCase{"LastIsU64Max", "bytes=1-18446744073709551615", 10, ByteRange{1, 9}},
        RangeCase{"HugeBlob", "bytes=18446744073709551613-", kU64Max,
                  ByteRange{kU64Max - 2, kU64Max - 1}},
        // Ignored: the whole blob with 200.
        RangeCase{"NoHeader", "", 1000, std::nullopt},
        RangeCase{"OtherUnit", "items=0-1", 1000, std::nullopt},
        RangeCase{"NoEquals", "bytes 0-1", 1000, std::nullopt},
        RangeCase{"NoDash", "bytes=5", 1000, std::nullopt},
        RangeCase{"Empty", "bytes=", 1000, std::nullopt},
        RangeCase{"OnlyCommas", "bytes=,,", 1000, std::nullopt},
        RangeCase{"JustDash", "bytes=-", 1000, std::nullopt},
        RangeCase{"Letters", "bytes=a-b", 1000, std::nullopt},
        RangeCase{"Negative", "bytes=-5-10", 1000, std::nullopt},
        RangeCase{"Plus", "bytes=+1-2", 1000, std::nullopt},
        RangeCase{"SpaceInside", "bytes=1 -2", 1000, std::nullopt},
        RangeCase{"LastBeforeFirst", "bytes=10-5", 1000, std::nullopt},
        RangeCase{"LastBeforeFirstBothHuge",
                  "bytes=99999999999999999999999-99999999999999999999998", 10, std::nullopt},
        RangeCase{"LastBeforeFirstLeadingZeros", "bytes=10-0009", 1000, std::nullopt},
        RangeCase{"TwoRanges", "bytes=0-1,5-6", 1000, std::nullopt},
        RangeCase{"ThreeRanges", "bytes=0-1, 5-6, -3", 1000, std::nullopt},
        RangeCase{"TwoRangesOneUnsatisfiable", "bytes=0-1,5000-6000", 1000, std::nullopt},
        RangeCase{"TwoUnsatisfiable", "bytes=5000-,6000-", 1000, std::nullopt}),
    [](const auto& info) { return info.param.name; });

struct Unsatisfiable {
  std::string name;
  std::string header;
  std::uint64_t size;
};

class RangeUnsatisfiable : public ::testing::TestWithParam<Unsatisfiable> {};

TEST_P(RangeUnsatisfiable, IsRangeInvalid) {
  auto r = parse_range(GetParam().header, GetParam().size);
  ASSERT_FALSE(r.has_value()) << GetParam().header;
  EXPECT_EQ(r.error().code, ErrorCode::kRangeInvalid);
  EXPECT_EQ(http_status(r.error().code), 416);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RangeUnsatisfiable,
    ::testing::Values(Unsatisfiable{"FirstAtSize", "bytes=1000-", 1000},
                      Unsatisfiable{"FirstPastSize", "bytes=1000-2000", 1000},
                      Unsatisfiable{"FirstOverflows", "bytes=99999999999999999999999-", 1000},
                      Unsatisfiable{"FirstOverflowsWithLast",
                                    "bytes=99999999999999999999999-99999999999999999999999", 1000},
                      Unsatisfiable{"ZeroSuffix", "bytes=-0", 1000},
                      Unsatisfiable{"ZeroSuffixLeadingZeros", "bytes=-000", 1000},
                      Unsatisfiable{"EmptyBlob", "bytes=0-", 0},
                      Unsatisfiable{"EmptyBlobRange", "bytes=0-10", 0},
                      Unsatisfiable{"EmptyBlobSuffix", "bytes=-5", 0}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace berth::core
