// core::Error's reason and the BERTH_TRY propagation helper.
#include "core/error.hpp"

#include <gtest/gtest.h>

namespace berth::core {
namespace {

TEST(Error, ReasonDefaultsToNoneAndFailCanSetIt) {
  const Error plain{ErrorCode::kUnavailable, "database busy", {}};
  EXPECT_TRUE(plain.is(ErrorReason::kNone));
  auto refused = fail(ErrorCode::kUnavailable, ErrorReason::kBlobBeingCollected, "collecting");
  EXPECT_TRUE(refused.error().is(ErrorReason::kBlobBeingCollected));
  EXPECT_FALSE(refused.error().is(ErrorReason::kNone));
  EXPECT_EQ(refused.error().message, "collecting");
  EXPECT_FALSE(refused.error().retry_after.has_value());
}

Result<int> number(bool ok) {
  if (!ok) {
    return fail(ErrorCode::kUnavailable, ErrorReason::kDiskFull, "no room");
  }
  return 7;
}

Result<std::string> twice(bool first, bool second, int& reached) {
  BERTH_TRY(number(first));
  ++reached;
  BERTH_TRY(number(second));
  ++reached;
  return "both";
}

TEST(Error, TryPropagatesTheFirstErrorAndGoesOnAfterASuccess) {
  int reached = 0;
  EXPECT_EQ(twice(true, true, reached).value(), "both");
  EXPECT_EQ(reached, 2);

  reached = 0;
  auto failed = twice(true, false, reached);
  ASSERT_FALSE(failed);
  EXPECT_EQ(reached, 1);
  EXPECT_TRUE(failed.error().is(ErrorReason::kDiskFull));
  EXPECT_EQ(failed.error().message, "no room");

  reached = 0;
  EXPECT_FALSE(twice(false, true, reached));
  EXPECT_EQ(reached, 0);
}

}  // namespace
}  // namespace berth::core
