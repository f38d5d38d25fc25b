// What is specific to the SQLite PolicyStore, below its contract: migration 4 backfilling the
// usage of a database that already holds images, and the triggers' figures checked against a
// computation straight from the registry's tables (which knows nothing of the triggers).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "meta/migrations.hpp"
#include "meta/sqlite_connection.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "testing/fake_clock.hpp"
#include "testing/registry_test_data.hpp"

namespace berth::meta {
namespace {

using berth::testing::blob;
using berth::testing::repo;

using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "berth-policy-sqlite-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class SqlitePolicyStoreTest : public ::testing::Test {
 protected:
  std::string db_path() const { return (dir_.path() / "berth.db").string(); }

  std::unique_ptr<sqlite::Connection> raw() {
    auto connection = sqlite::Connection::open(db_path(), 1000ms);
    if (!connection) {
      throw std::runtime_error(connection.error().message);
    }
    return std::move(*connection);
  }

  std::int64_t int_of(sqlite::Connection& connection, std::string_view sql,
                      const std::string& argument) {
    auto statement = connection.query(sql, "test query", argument);
    if (!statement) {
      throw std::runtime_error(statement.error().message);
    }
    auto row = statement->step();
    if (!row || !*row) {
      throw std::runtime_error("no row for " + std::string(sql));
    }
    return statement->int64(0);
  }

  // The usage of a project computed from the registry's own tables: the distinct digests its
  // repositories link, and the repositories that link any. The project is matched by name
  // prefix, not by the generated column, so the two computations share nothing.
  ProjectUsage from_tables(sqlite::Connection& connection, const std::string& project) {
    constexpr std::string_view kInProject =
        "(r.name = ?1 OR substr(r.name, 1, length(?1) + 1) = ?1 || '/')";
    const std::string bytes =
        "SELECT coalesce(sum(b.size), 0) FROM blobs b WHERE b.digest IN (SELECT rb.digest FROM "
        "repository_blobs rb JOIN repositories r ON r.id = rb.repository_id WHERE " +
        std::string(kInProject) + ")";
    const std::string repositories =
        "SELECT count(*) FROM repositories r WHERE " + std::string(kInProject) +
        " AND EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.repository_id = r.id)";
    return ProjectUsage{
        .bytes = static_cast<std::uint64_t>(int_of(connection, bytes, project)),
        .repositories = static_cast<std::uint64_t>(int_of(connection, repositories, project))};
  }

  TempDir dir_;
  testing::FakeClock clock_;
};

TEST_F(SqlitePolicyStoreTest, MigrationFourBackfillsTheUsageOfExistingImages) {
  {
    auto connection = raw();
    ASSERT_TRUE(connection->exec("PRAGMA foreign_keys = ON; BEGIN", "test"));
    for (const auto& migration : sqlite::migrations()) {
      if (migration.version < 4) {
        ASSERT_TRUE(connection->exec(std::string(migration.sql), "create old schema"));
      }
    }
    const std::string a = "'sha256:" + std::string(64, 'a') + "'";
    const std::string b = "'sha256:" + std::string(64, 'b') + "'";
    const std::string c = "'sha256:" + std::string(64, 'c') + "'";
    ASSERT_TRUE(connection->exec(
        "INSERT INTO repositories (id, name, created_at) VALUES (1, 'team', 0), "
        "(2, 'team/web', 0), (3, 'team/api/v2', 0), (4, 'teams', 0), (5, 'team/empty', 0);"
        "INSERT INTO blobs VALUES (" +
            a + ", 100, 0), (" + b + ", 20, 0), (" + c +
            ", 3, 0);"
            "INSERT INTO repository_blobs VALUES (1, " +
            a + ", 0), (2, " + a + ", 0), (2, " + b + ", 0), (3, " + c + ", 0), (4, " + a +
            ", 0);"
            "PRAGMA user_version = 3; COMMIT;",
        "fill old database"));
  }
  auto stores = open_sqlite_stores(SqliteOptions{.path = db_path(), .readers = 1});
  ASSERT_TRUE(stores) << stores.error().message;
  EXPECT_EQ(stores->policies->usage("team").value(),
            (ProjectUsage{.bytes = 123, .repositories = 3}));
  EXPECT_EQ(stores->policies->usage("teams").value(),
            (ProjectUsage{.bytes = 100, .repositories = 1}));
  const auto digest_a = core::Digest::parse("sha256:" + std::string(64, 'a')).value();
  const auto digest_b = core::Digest::parse("sha256:" + std::string(64, 'b')).value();
  EXPECT_TRUE(stores->policies->counted("team", digest_a).value());
  EXPECT_FALSE(stores->policies->counted("teams", digest_b).value());

  // And the triggers carry on from the backfilled figures.
  ASSERT_TRUE(stores->metadata->unlink_blob(repo("team/web"), digest_b).value());
  auto connection = raw();
  EXPECT_EQ(stores->policies->usage("team").value(), from_tables(*connection, "team"));
}

TEST_F(SqlitePolicyStoreTest, TriggerFiguresEqualAComputationFromTheTables) {
  auto stores = open_sqlite_stores(SqliteOptions{.path = db_path(), .readers = 2});
  ASSERT_TRUE(stores);
  auto& metadata = *stores->metadata;
  const std::vector<std::string> names = {"p", "p/a", "p/b/c", "q/a", "pq"};
  for (int round = 0; round < 4; ++round) {
    for (std::size_t i = 0; i < names.size(); ++i) {
      for (int j = 0; j < 5; ++j) {
        auto ref = blob(std::string(static_cast<std::size_t>(1 + (i * 3 + j * 5 + round) % 9),
                                    static_cast<char>('a' + j)));
        ASSERT_TRUE(metadata.link_blob(repo(names[i]), ref, clock_.now()));
      }
    }
    ASSERT_TRUE(metadata.unlink_blob(repo(names[round % names.size()]), blob("aaa").digest));
    if (round == 2) {
      ASSERT_TRUE(stores->accounts->create_project(Project{"p", false, clock_.now()}));
      ASSERT_TRUE(stores->accounts->delete_project("p"));
    }
    auto connection = raw();
    for (const std::string project : {"p", "q", "pq"}) {
      EXPECT_EQ(stores->policies->usage(project).value(), from_tables(*connection, project))
          << project << " in round " << round;
    }
  }
}

TEST_F(SqlitePolicyStoreTest, LinksAreNeverChangedInPlace) {
  auto stores = open_sqlite_stores(SqliteOptions{.path = db_path(), .readers = 1});
  ASSERT_TRUE(stores);
  ASSERT_TRUE(stores->metadata->link_blob(repo("p/a"), blob("x"), clock_.now()));
  ASSERT_TRUE(stores->metadata->link_blob(repo("q/a"), blob("y"), clock_.now()));
  auto connection = raw();
  ASSERT_TRUE(connection->exec("PRAGMA foreign_keys = ON", "test"));
  auto moved = connection->exec("UPDATE repository_blobs SET repository_id = 2", "move links");
  ASSERT_FALSE(moved);
  EXPECT_NE(moved.error().message.find("never changed in place"), std::string::npos)
      << moved.error().message;
}

// Two pushes checked against the quota at the same instant could both pass the lifecycle's
// check; the link that would take the project past its quota is refused in its transaction.
TEST_F(SqlitePolicyStoreTest, LinksPastTheQuotaAreRefusedInTheirTransaction) {
  auto stores = open_sqlite_stores(SqliteOptions{.path = db_path(), .readers = 1});
  ASSERT_TRUE(stores);
  auto& metadata = *stores->metadata;
  ASSERT_TRUE(stores->accounts->create_project(Project{"p", false, clock_.now()}));
  ProjectSettings settings;
  settings.quota_bytes = 10;
  settings.quota_repositories = 2;
  ASSERT_TRUE(stores->policies->set_settings("p", settings));

  ASSERT_TRUE(metadata.link_blob(repo("p/a"), blob("123456"), clock_.now()));
  // Held already: free, in any repository of the project.
  ASSERT_TRUE(metadata.link_blob(repo("p/b"), blob("123456"), clock_.now()));
  ASSERT_TRUE(metadata.link_blob(repo("p/a"), blob("1234"), clock_.now()));  // 10 of 10
  auto over = metadata.link_blob(repo("p/a"), blob("x"), clock_.now());
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, core::ErrorCode::kDenied) << over.error().message;
  EXPECT_TRUE(over.error().message.starts_with("quota exceeded: ")) << over.error().message;
  EXPECT_TRUE(over.error().is(core::ErrorReason::kQuotaExceeded));
  EXPECT_EQ(stores->policies->usage("p").value(), (ProjectUsage{.bytes = 10, .repositories = 2}));

  // A third repository, even with a blob the project holds, passes the repository quota.
  auto third = metadata.link_blob(repo("p/c"), blob("1234"), clock_.now());
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, core::ErrorCode::kDenied) << third.error().message;
  EXPECT_NE(third.error().message.find("repository quota"), std::string::npos);

  // Other projects, and projects without a quota, are not limited.
  ASSERT_TRUE(metadata.link_blob(repo("q/a"), blob(std::string(100, 'q')), clock_.now()));
  // Raising the quota lets the refused link through.
  settings.quota_bytes = 11;
  ASSERT_TRUE(stores->policies->set_settings("p", settings));
  ASSERT_TRUE(metadata.link_blob(repo("p/a"), blob("x"), clock_.now()));
  auto connection = raw();
  EXPECT_EQ(stores->policies->usage("p").value(), from_tables(*connection, "p"));
}

}  // namespace
}  // namespace berth::meta
