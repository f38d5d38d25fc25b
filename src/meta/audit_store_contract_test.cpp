// The AuditStore contract suite (audit_store.hpp): entries come back newest first with every
// field, each filter and the cursor narrow them, pruning goes by age, and entries survive a
// reopening. Run against SQLite in a file and PostgreSQL.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing/store_openers.hpp"

namespace berth::meta {
namespace {

core::TimePoint at(std::int64_t ms) { return core::from_unix_ms(ms); }

AuditEntry entry(std::int64_t ms, std::string actor, std::string action, std::string project) {
  return AuditEntry{.at = at(ms),
                    .actor = std::move(actor),
                    .remote = "10.0.0.1",
                    .action = std::move(action),
                    .project = std::move(project),
                    .target = "t",
                    .result = "ok",
                    .status = 201,
                    .detail = "d"};
}

std::vector<std::string> actions(const std::vector<AuditEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) {
    out.push_back(e.action + "@" + std::to_string(core::to_unix_ms(e.at)));
  }
  return out;
}

class AuditStoreContract : public StoresContract {
 protected:
  AuditStore& store() { return *stores_.audit; }
  void add_sample() {
    ASSERT_TRUE(store().append(
        {entry(1000, "alice", "manifest.push", "app"), entry(2000, "bob", "tag.delete", "app"),
         entry(3000, "alice", "project.create", "web"), entry(4000, "mallory", "signin", "")}));
  }
};

TEST_P(AuditStoreContract, EntriesComeBackNewestFirstWithEveryField) {
  auto e = entry(1000, "alice", "manifest.push", "app");
  e.target = "app/web:1.0";
  e.detail = "sha256:abc";
  e.result = "failed";
  e.status = 404;
  e.count = 7;
  ASSERT_TRUE(store().append({e}));
  ASSERT_TRUE(store().append({entry(2000, "bob", "tag.delete", "app")}));

  auto all = store().list({}).value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].action, "tag.delete");
  EXPECT_GT(all[0].id, all[1].id);
  const auto& got = all[1];
  EXPECT_EQ(got.at, at(1000));
  EXPECT_EQ(got.actor, "alice");
  EXPECT_EQ(got.remote, "10.0.0.1");
  EXPECT_EQ(got.project, "app");
  EXPECT_EQ(got.target, "app/web:1.0");
  EXPECT_EQ(got.result, "failed");
  EXPECT_EQ(got.status, 404);
  EXPECT_EQ(got.detail, "sha256:abc");
  EXPECT_EQ(got.count, 7);
}

TEST_P(AuditStoreContract, FiltersNarrowByActorProjectActionAndTime) {
  add_sample();
  EXPECT_EQ(actions(store().list({.actor = "alice"}).value()),
            (std::vector<std::string>{"project.create@3000", "manifest.push@1000"}));
  EXPECT_EQ(actions(store().list({.project = "app"}).value()),
            (std::vector<std::string>{"tag.delete@2000", "manifest.push@1000"}));
  EXPECT_EQ(actions(store().list({.action = "signin"}).value()),
            (std::vector<std::string>{"signin@4000"}));
  EXPECT_EQ(actions(store().list({.since = at(2000), .until = at(4000)}).value()),
            (std::vector<std::string>{"project.create@3000", "tag.delete@2000"}));
  EXPECT_EQ(actions(store().list({.actor = "alice", .project = "app"}).value()),
            (std::vector<std::string>{"manifest.push@1000"}));
  EXPECT_TRUE(store().list({.actor = "nobody"}).value().empty());
}

TEST_P(AuditStoreContract, PagesFollowTheCursorOrTheOffset) {
  add_sample();
  auto first = store().list({.limit = 3}).value();
  ASSERT_EQ(first.size(), 3u);
  auto next = store().list({.before_id = first.back().id, .limit = 3}).value();
  EXPECT_EQ(actions(next), (std::vector<std::string>{"manifest.push@1000"}));
  EXPECT_EQ(actions(store().list({.limit = 2, .offset = 2}).value()),
            (std::vector<std::string>{"tag.delete@2000", "manifest.push@1000"}));
}

TEST_P(AuditStoreContract, PruneDeletesOnlyOlderEntries) {
  add_sample();
  EXPECT_EQ(store().prune(at(3000)).value(), 2);
  EXPECT_EQ(actions(store().list({}).value()),
            (std::vector<std::string>{"signin@4000", "project.create@3000"}));
  EXPECT_EQ(store().prune(at(3000)).value(), 0);
}

// Pruned in batches of 10,000 (each its own transaction): all of them, not only the first.
TEST_P(AuditStoreContract, PruneDeletesEveryBatch) {
  std::vector<AuditEntry> old(10'005, entry(1000, "alice", "manifest.push", "app"));
  ASSERT_TRUE(store().append(old));
  ASSERT_TRUE(store().append({entry(5000, "bob", "tag.delete", "app")}));
  EXPECT_EQ(store().prune(at(2000)).value(), 10'005);
  EXPECT_EQ(actions(store().list({}).value()), (std::vector<std::string>{"tag.delete@5000"}));
}

TEST_P(AuditStoreContract, FiltersCombine) {
  add_sample();
  EXPECT_EQ(actions(store().list({.actor = "alice", .project = "web"}).value()),
            (std::vector<std::string>{"project.create@3000"}));
  EXPECT_EQ(actions(store().list({.actor = "alice", .action = "manifest.push"}).value()),
            (std::vector<std::string>{"manifest.push@1000"}));
  EXPECT_EQ(actions(store().list({.project = "app", .action = "tag.delete"}).value()),
            (std::vector<std::string>{"tag.delete@2000"}));
  EXPECT_TRUE(store().list({.actor = "bob", .project = "app", .action = "signin"}).value().empty());
}

TEST_P(AuditStoreContract, EntriesSurviveReopeningAndIdsKeepGrowing) {
  add_sample();
  const auto newest = store().list({.limit = 1}).value().at(0).id;
  open();
  EXPECT_EQ(store().list({}).value().size(), 4u);
  ASSERT_TRUE(store().append({entry(5000, "alice", "user.delete", "")}));
  EXPECT_GT(store().list({.limit = 1}).value().at(0).id, newest);
}

INSTANTIATE_TEST_SUITE_P(Backends, AuditStoreContract,
                         ::testing::Values(Backend{"SqliteFile", sqlite_file}),
                         [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(Postgres, AuditStoreContract,
                         ::testing::Values(Backend{"Postgres", postgres}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace berth::meta
