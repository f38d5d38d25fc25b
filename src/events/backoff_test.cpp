#include "events/backoff.hpp"

#include <gtest/gtest.h>

namespace berth::events {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Backoff, TheCeilingDoublesPerFailureUpToTheCap) {
  // unit close to 1 shows the ceiling.
  constexpr double kTop = 0.999999;
  EXPECT_EQ(backoff(1, seconds(2), seconds(60), kTop), milliseconds(1999));
  EXPECT_EQ(backoff(2, seconds(2), seconds(60), kTop), milliseconds(3999));
  EXPECT_EQ(backoff(3, seconds(2), seconds(60), kTop), milliseconds(7999));
  EXPECT_EQ(backoff(10, seconds(2), seconds(60), kTop), milliseconds(59999));
  EXPECT_EQ(backoff(1000, seconds(2), seconds(60), kTop), milliseconds(59999));
}

TEST(Backoff, FullJitterSpreadsFromZeroToTheCeiling) {
  EXPECT_EQ(backoff(3, seconds(2), seconds(60), 0.0), milliseconds(0));
  EXPECT_EQ(backoff(3, seconds(2), seconds(60), 0.5), milliseconds(4000));
}

}  // namespace
}  // namespace berth::events
