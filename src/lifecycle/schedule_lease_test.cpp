// Periodic jobs on several replicas (schedule_lease.hpp), on SQLite and a fake clock: two
// holders of one store are two replicas ticking on the same schedule.
#include "lifecycle/schedule_lease.hpp"

#include <gtest/gtest.h>

#include "meta/sqlite_metadata_store.hpp"
#include "testing/fake_clock.hpp"

namespace berth::lifecycle {
namespace {

using namespace std::chrono_literals;

class ScheduleLeaseTest : public ::testing::Test {
 protected:
  ScheduleLeaseTest() : stores_(*meta::open_sqlite_stores(meta::SqliteOptions{":memory:"})) {}

  // One turn of `holder`: whether it ran the job.
  bool turn(const std::string& holder, std::string_view job = "upload purge") {
    auto ran =
        run_on_one_replica(*stores_.gc, clock_, job, holder, kInterval, [&] { ++runs_[holder]; });
    EXPECT_TRUE(ran) << ran.error().message;
    return ran && *ran;
  }

  static constexpr std::chrono::milliseconds kInterval = 60s;
  testing::FakeClock clock_;
  meta::SqliteStores stores_;
  std::map<std::string, int> runs_;
};

TEST_F(ScheduleLeaseTest, OneReplicaRunsAJobPerIntervalAndAnotherTakesOverWhenItStops) {
  EXPECT_TRUE(turn("a"));
  clock_.advance(30s);
  EXPECT_FALSE(turn("b")) << "b ran the job 30 s after a did";
  clock_.advance(30s);
  EXPECT_TRUE(turn("a")) << "the holder's own next turn must run";
  clock_.advance(30s);
  EXPECT_FALSE(turn("b"));
  // a stops: its lease lapses one interval after its last run.
  clock_.advance(31s);
  EXPECT_TRUE(turn("b"));
  clock_.advance(30s);
  EXPECT_FALSE(turn("a")) << "a, back, ran beside b";
  EXPECT_EQ(runs_["a"], 2);
  EXPECT_EQ(runs_["b"], 1);
}

TEST_F(ScheduleLeaseTest, JobsHaveLeasesOfTheirOwn) {
  EXPECT_TRUE(turn("a", "upload purge"));
  EXPECT_TRUE(turn("b", "retention"));
  EXPECT_FALSE(turn("b", "upload purge"));
  EXPECT_FALSE(turn("a", "retention"));
}

TEST_F(ScheduleLeaseTest, ARunTakesNoLeaseGarbageCollectionWaitsFor) {
  EXPECT_TRUE(turn("a", "garbage collection"));
  auto gc = stores_.gc->acquire_lease("gc", "collector", clock_.now(), 60s);
  ASSERT_TRUE(gc);
  EXPECT_TRUE(*gc);
}

TEST_F(ScheduleLeaseTest, TheLeaseIsKeptForAnIntervalFromTheEndOfTheRun) {
  bool other_ran = true;
  auto ran = run_on_one_replica(*stores_.gc, clock_, "retention", "a", kInterval, [&] {
    clock_.advance(50s);
    other_ran = turn("b", "retention");
  });
  ASSERT_TRUE(ran);
  EXPECT_TRUE(*ran);
  EXPECT_FALSE(other_ran) << "b ran the job while a was running it";
  // 100 s after a started, 50 s after it ended.
  clock_.advance(50s);
  EXPECT_FALSE(turn("b", "retention"));
  clock_.advance(11s);
  EXPECT_TRUE(turn("b", "retention"));
}

}  // namespace
}  // namespace berth::lifecycle
