// prune_audit_log (scheduled_jobs.hpp): audit.retention back from the clock's now is the cut,
// and 0 keeps everything.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "server/scheduled_jobs.hpp"
#include "testing/fake_clock.hpp"

namespace berth::server {
namespace {

using namespace std::chrono_literals;

class CutRecordingStore final : public meta::AuditStore {
 public:
  core::Result<void> append(const std::vector<meta::AuditEntry>&) override { return {}; }
  core::Result<std::vector<meta::AuditEntry>> list(const meta::AuditQuery&) override {
    return std::vector<meta::AuditEntry>{};
  }
  core::Result<std::int64_t> prune(core::TimePoint before) override {
    cut = before;
    return 3;
  }
  std::optional<core::TimePoint> cut;
};

TEST(AuditPrune, CutsAtTheRetentionBackFromNow) {
  testing::FakeClock clock;
  CutRecordingStore store;
  EXPECT_EQ(prune_audit_log(store, clock, std::chrono::hours(24 * 90)).value(), 3);
  ASSERT_TRUE(store.cut);
  EXPECT_EQ(*store.cut, clock.now() - std::chrono::hours(24 * 90));
  clock.advance(24h);
  ASSERT_TRUE(prune_audit_log(store, clock, std::chrono::hours(24 * 90)));
  EXPECT_EQ(*store.cut, clock.now() - std::chrono::hours(24 * 90));
}

TEST(AuditPrune, ZeroRetentionKeepsEverything) {
  testing::FakeClock clock;
  CutRecordingStore store;
  EXPECT_EQ(prune_audit_log(store, clock, config::Duration::zero()).value(), 0);
  EXPECT_FALSE(store.cut);
}

}  // namespace
}  // namespace berth::server
