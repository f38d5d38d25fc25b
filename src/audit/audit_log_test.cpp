// AuditLog: entries reach the store through posted drains (never inline in record()), a full
// queue drops and counts instead of waiting, repeated failed sign-ins are coalesced into one
// entry with a count, and the JSON-lines copy holds every entry.
#include "audit/audit_log.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "testing/fake_clock.hpp"
#include "testing/temp_dir.hpp"

namespace berth::audit {
namespace {

using namespace std::chrono_literals;

class MemoryAuditStore final : public meta::AuditStore {
 public:
  core::Result<void> append(const std::vector<Entry>& entries) override {
    ++batches;
    for (auto entry : entries) {
      entry.id = static_cast<std::int64_t>(rows.size()) + 1;
      rows.push_back(std::move(entry));
    }
    return {};
  }
  core::Result<std::vector<Entry>> list(const meta::AuditQuery&) override { return rows; }
  core::Result<std::int64_t> prune(core::TimePoint) override { return 0; }

  std::vector<Entry> rows;
  int batches = 0;
};

// The "pool": posted drains wait here until run() is called, whatever their delay.
struct ManualPost {
  std::vector<std::function<void()>> jobs;
  std::vector<std::chrono::milliseconds> delays;
  AuditLog::Post post() {
    return [this](std::chrono::milliseconds after, std::function<void()> job) {
      delays.push_back(after);
      jobs.push_back(std::move(job));
    };
  }
  void run() {
    auto pending = std::move(jobs);
    jobs.clear();
    for (auto& job : pending) {
      job();
    }
  }
};

Entry failure(std::string user, std::string address = "10.0.0.9") {
  return Entry{.actor = std::move(user),
               .remote = std::move(address),
               .action = "signin",
               .result = "failed",
               .status = 401,
               .detail = "wrong password"};
}

class AuditLogTest : public ::testing::Test {
 protected:
  MemoryAuditStore store_;
  testing::FakeClock clock_;
  ManualPost pool_;
};

TEST_F(AuditLogTest, RecordOnlyQueuesAndOneDrainWritesTheBatch) {
  AuditLog log(store_, clock_, {}, pool_.post());
  log.record({.actor = "alice", .action = "manifest.push", .result = "ok"});
  log.record({.actor = "bob", .action = "tag.delete", .result = "ok"});
  EXPECT_TRUE(store_.rows.empty());
  EXPECT_EQ(pool_.jobs.size(), 1u);  // one drain for both
  pool_.run();
  ASSERT_EQ(store_.rows.size(), 2u);
  EXPECT_EQ(store_.batches, 1);
  EXPECT_EQ(store_.rows[0].actor, "alice");
  EXPECT_EQ(store_.rows[0].at, clock_.now());
  EXPECT_EQ(log.written(), 2u);
  // The queue is empty again: the next entry posts a new drain.
  log.record({.actor = "carol", .action = "signin", .result = "ok"});
  EXPECT_EQ(pool_.jobs.size(), 1u);
}

// A burst of pushes is one transaction: the drain waits batch_wait for what follows the first
// entry, and no longer once batch_entries wait.
TEST_F(AuditLogTest, TheDrainWaitsForABatchUnlessItIsFull) {
  AuditLog log(store_, clock_, {.batch_wait = 150ms, .batch_entries = 4}, pool_.post());
  for (int i = 0; i < 3; ++i) {
    log.record({.actor = "u" + std::to_string(i), .action = "manifest.push", .result = "ok"});
  }
  EXPECT_EQ(pool_.delays, (std::vector<std::chrono::milliseconds>{150ms}));
  log.record({.actor = "u3", .action = "manifest.push", .result = "ok"});
  log.record({.actor = "u4", .action = "manifest.push", .result = "ok"});
  EXPECT_EQ(pool_.delays, (std::vector<std::chrono::milliseconds>{150ms, 0ms}));
  pool_.run();
  EXPECT_EQ(store_.rows.size(), 5u);
  EXPECT_EQ(store_.batches, 1);
  // Both flags are reset: the next entry waits again, and a full batch again goes at once.
  for (int i = 0; i < 4; ++i) {
    log.record({.actor = "v" + std::to_string(i), .action = "manifest.push", .result = "ok"});
  }
  EXPECT_EQ(pool_.delays, (std::vector<std::chrono::milliseconds>{150ms, 0ms, 150ms, 0ms}));
}

TEST_F(AuditLogTest, AFullQueueDropsAndCountsInsteadOfWaiting) {
  AuditLog log(store_, clock_, {.queue_capacity = 3}, pool_.post());
  for (int i = 0; i < 5; ++i) {
    log.record({.actor = "u" + std::to_string(i), .action = "manifest.push", .result = "ok"});
  }
  EXPECT_EQ(log.dropped(), 2u);
  pool_.run();
  EXPECT_EQ(store_.rows.size(), 3u);
}

TEST_F(AuditLogTest, RepeatedFailedSignInsBecomeOneEntryWithACount) {
  AuditLog log(store_, clock_, {.coalesce_window = 60s}, pool_.post());
  for (int i = 0; i < 1000; ++i) {
    log.record_failure(failure("admin"));
    clock_.advance(10ms);
  }
  log.record_failure(failure("root"));
  pool_.run();
  // The first of each kind at once; the 999 repeats are only counted so far.
  ASSERT_EQ(store_.rows.size(), 2u);
  EXPECT_EQ(store_.rows[0].actor, "admin");
  EXPECT_EQ(store_.rows[0].count, 1);

  clock_.advance(61s);
  log.flush();
  ASSERT_EQ(store_.rows.size(), 3u);
  EXPECT_EQ(store_.rows[2].actor, "admin");
  EXPECT_EQ(store_.rows[2].count, 999);
  EXPECT_EQ(store_.rows[2].detail, "wrong password (repeated)");
  // After the window a failure is recorded at once again.
  log.record_failure(failure("admin"));
  pool_.run();
  EXPECT_EQ(store_.rows.size(), 4u);
}

TEST_F(AuditLogTest, TooManyKindsOfFailureAreDroppedNotStored) {
  AuditLog log(store_, clock_, {.max_coalesced = 10}, pool_.post());
  for (int i = 0; i < 100; ++i) {
    log.record_failure(failure("user" + std::to_string(i)));
  }
  pool_.run();
  EXPECT_EQ(store_.rows.size(), 10u);
  EXPECT_EQ(log.dropped(), 90u);
}

TEST_F(AuditLogTest, CloseWritesWhatIsQueuedAndTheRepeatsCounted) {
  {
    AuditLog log(store_, clock_, {}, pool_.post());
    log.record_failure(failure("admin"));
    log.record_failure(failure("admin"));
    log.record_failure(failure("admin"));
    // The pool is gone: its drain never runs.
  }
  ASSERT_EQ(store_.rows.size(), 2u);
  EXPECT_EQ(store_.rows[1].count, 2);
}

TEST_F(AuditLogTest, EveryEntryIsCopiedAsAJsonLine) {
  testing::TempDir dir;
  const auto file = dir.path() / "audit.jsonl";
  {
    AuditLog log(store_, clock_, {.file = file}, pool_.post());
    log.record({.actor = "alice",
                .remote = "10.1.2.3",
                .action = "project.create",
                .project = "app",
                .result = "ok",
                .status = 201});
    log.record({.actor = "bob", .action = "user.delete", .target = "eve", .result = "ok"});
    pool_.run();
  }
  std::ifstream in(file);
  std::string first;
  std::string second;
  std::string third;
  ASSERT_TRUE(std::getline(in, first));
  ASSERT_TRUE(std::getline(in, second));
  EXPECT_FALSE(std::getline(in, third));
  EXPECT_NE(first.find("\"user\":\"alice\""), std::string::npos) << first;
  EXPECT_NE(first.find("\"remote\":\"10.1.2.3\""), std::string::npos) << first;
  EXPECT_NE(first.find("\"action\":\"project.create\""), std::string::npos) << first;
  EXPECT_NE(first.find("\"status\":201"), std::string::npos) << first;
  EXPECT_NE(second.find("\"target\":\"eve\""), std::string::npos) << second;
}

// Before, audit.file was opened once: after logrotate moved it away, every later entry went to
// the moved file (or, once deleted, nowhere) until a restart.
TEST_F(AuditLogTest, TheCopyFollowsTheFileAfterRotation) {
  testing::TempDir dir;
  const auto file = dir.path() / "audit.jsonl";
  AuditLog log(store_, clock_, {.file = file}, pool_.post());
  log.record({.actor = "alice", .action = "project.create", .result = "ok"});
  pool_.run();
  std::filesystem::rename(file, dir.path() / "audit.jsonl.1");
  log.record({.actor = "bob", .action = "project.delete", .result = "ok"});
  pool_.run();
  auto lines_of = [](const std::filesystem::path& path) {
    std::ifstream in(path);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
      out.push_back(line);
    }
    return out;
  };
  const auto rotated = lines_of(dir.path() / "audit.jsonl.1");
  const auto current = lines_of(file);
  ASSERT_EQ(rotated.size(), 1u);
  ASSERT_EQ(current.size(), 1u);
  EXPECT_NE(rotated[0].find("alice"), std::string::npos) << rotated[0];
  EXPECT_NE(current[0].find("bob"), std::string::npos) << current[0];
  EXPECT_EQ(log.copy_failures(), 0u);
}

TEST_F(AuditLogTest, ACopyThatCannotBeWrittenIsCountedAndTheDatabaseStillHasIt) {
  AuditLog log(store_, clock_, {.file = "/dev/full"}, pool_.post());
  log.record({.actor = "alice", .action = "project.create", .result = "ok"});
  pool_.run();
  log.record({.actor = "bob", .action = "project.delete", .result = "ok"});
  pool_.run();
  EXPECT_EQ(log.copy_failures(), 2u);
  EXPECT_EQ(store_.rows.size(), 2u);
  EXPECT_EQ(log.written(), 2u);
}

}  // namespace
}  // namespace berth::audit
