#include "util/utc_time.hpp"

#include <gtest/gtest.h>

namespace berth::util {
namespace {

using std::chrono::system_clock;

TEST(UtcTime, FormatsWholeSecondsInUtc) {
  const auto time = system_clock::from_time_t(1796545811) + std::chrono::milliseconds(999);
  EXPECT_EQ(format_utc(time), "2026-12-06T08:30:11Z");
}

TEST(UtcTime, ParsesWhatItFormats) {
  const auto time = system_clock::from_time_t(1796545811);
  EXPECT_EQ(parse_utc(format_utc(time)), time);
}

TEST(UtcTime, KeepsMillisecondsOfAFraction) {
  const auto base = system_clock::from_time_t(1796545811);
  EXPECT_EQ(parse_utc("2026-12-06T08:30:11.5Z"), base + std::chrono::milliseconds(500));
  EXPECT_EQ(parse_utc("2026-12-06T08:30:11.123456Z"), base + std::chrono::milliseconds(123));
}

TEST(UtcTime, RefusesWhatIsNotRfc3339Utc) {
  EXPECT_EQ(parse_utc(""), std::nullopt);
  EXPECT_EQ(parse_utc("2026-12-06"), std::nullopt);
  EXPECT_EQ(parse_utc("2026-12-06T08:30:11"), std::nullopt);
  EXPECT_EQ(parse_utc("2026-12-06T08:30:11+01:00"), std::nullopt);
  EXPECT_EQ(parse_utc("2026-12-06T08:30:11.Z"), std::nullopt);
  EXPECT_EQ(parse_utc("2026-12-06T08:30:11Zjunk"), std::nullopt);
}

}  // namespace
}  // namespace berth::util
