// What is specific to the SQLite GcStore: the query plans of its statements (every per-item
// lookup an index search, every listing one scan of its driving table), and the tables of
// migration 3.
#include "meta/sqlite_gc_store.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "meta/sqlite_connection.hpp"
#include "meta/sqlite_metadata_store.hpp"

namespace berth::meta {
namespace {

using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "berth-gcsql-XXXXXX").string();
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

// The detail lines of EXPLAIN QUERY PLAN.
std::vector<std::string> query_plan(sqlite::Connection& connection, std::string_view sql) {
  auto statement = connection.query("EXPLAIN QUERY PLAN " + std::string(sql), "explain");
  if (!statement) {
    throw std::runtime_error(statement.error().message);
  }
  std::vector<std::string> lines;
  while (true) {
    auto row = statement->step();
    if (!row) {
      throw std::runtime_error(row.error().message);
    }
    if (!*row) {
      return lines;
    }
    lines.push_back(statement->text(3));
  }
}

class SqliteGcStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(open_sqlite_stores(SqliteOptions{.path = path(), .readers = 1}));
    auto connection = sqlite::Connection::open(path(), 0ms);
    ASSERT_TRUE(connection) << connection.error().message;
    connection_ = std::move(*connection);
    // The planner's choices depend on statistics; without ANALYZE it assumes tables are
    // large, which is the case that matters.
  }

  std::string path() const { return (dir_.path() / "berth.db").string(); }

  TempDir dir_;
  std::unique_ptr<sqlite::Connection> connection_;
};

TEST_F(SqliteGcStoreTest, LookupsUseIndexesAndListingsScanOnlyWhatTheyList) {
  for (const auto& statement : sqlite::gc_statements()) {
    SCOPED_TRACE(std::string(statement.name));
    auto plan = query_plan(*connection_, statement.sql);
    std::string all;
    for (const auto& line : plan) {
      all += line + "\n";
    }
    if (statement.scans == "*") {
      continue;
    }
    std::set<std::string> allowed;
    for (std::size_t start = 0; start < statement.scans.size();) {
      auto end = std::min(statement.scans.find(' ', start), statement.scans.size());
      allowed.insert(std::string(statement.scans.substr(start, end - start)));
      start = end + 1;
    }
    for (const auto& line : plan) {
      if (line.starts_with("SCAN ")) {
        auto table = line.substr(5, line.find(' ', 5) - 5);
        EXPECT_TRUE(allowed.contains(table)) << "scans " << table << ":\n" << all;
      }
      // A search on a prefix of a two-column key walks a whole repository's rows.
      EXPECT_FALSE(line.starts_with("SEARCH ") && line.ends_with("(repository_id=?)"))
          << line << ":\n"
          << all;
      EXPECT_EQ(line.find("AUTOMATIC"), std::string::npos) << line << ":\n" << all;
    }
  }
}

TEST_F(SqliteGcStoreTest, MigrationThreeMadeTheTombstoneAndLeaseTables) {
  for (std::string_view table : {"blob_tombstones", "leases"}) {
    auto statement = connection_->query(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1", "test", table);
    ASSERT_TRUE(statement);
    auto row = statement->step();
    ASSERT_TRUE(row && *row);
    EXPECT_EQ(statement->int64(0), 1) << table;
  }
}

}  // namespace
}  // namespace berth::meta
