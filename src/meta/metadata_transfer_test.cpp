// metadata_transfer: the table list covers the SQLite schema column by column (so a migration
// that adds a column or a table fails here until the transfer knows it), and a database filled
// with a row in every table goes into PostgreSQL and back out unchanged, with the usage rebuilt
// and the user id counter kept.
#include "meta/metadata_transfer.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "meta/sqlite_metadata_store.hpp"
#include "testing/pg_test_database.hpp"

namespace berth::meta {
namespace {

namespace fs = std::filesystem;

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "berth-transfer-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// Rows of a query, each as "a|b|NULL".
std::vector<std::string> sqlite_rows(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db) << " in " << sql;
  std::vector<std::string> rows;
  while (statement != nullptr && sqlite3_step(statement) == SQLITE_ROW) {
    std::string row;
    for (int i = 0; i < sqlite3_column_count(statement); ++i) {
      const auto* text = sqlite3_column_text(statement, i);
      row += (i ? "|" : "") +
             (text == nullptr ? std::string("NULL") : reinterpret_cast<const char*>(text));
    }
    rows.push_back(row);
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return rows;
}

void sqlite_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error == nullptr ? "" : error;
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

// One row in every table, ids with gaps, a deleted user, a quota below the usage (lowered after
// the pushes), an upload and a lease that stay behind.
constexpr std::string_view kFill = R"sql(
INSERT INTO repositories (id, name, created_at) VALUES (1, 'team/app', 1000), (5, 'other', 1001);
INSERT INTO blobs VALUES ('sha256:aa', 10, 1), ('sha256:bb', 20, 2), ('sha256:cc', 30, 3);
INSERT INTO repository_blobs VALUES (1, 'sha256:aa', 5), (1, 'sha256:bb', 5), (5, 'sha256:aa', 6),
  (1, 'sha256:cc', 7);
INSERT INTO manifests (id, repository_id, digest, media_type, size, artifact_type,
  subject_digest, annotations, created_at, last_pulled_at, pull_count)
  VALUES (3, 1, 'sha256:cc', 'application/vnd.oci.image.manifest.v1+json', 30, NULL, NULL,
          '{"a":"b"}', 8, 9, 4);
INSERT INTO manifest_blobs VALUES (3, 'sha256:aa'), (3, 'sha256:bb');
INSERT INTO manifest_children VALUES (3, 'sha256:dd');
INSERT INTO tags VALUES (1, 'v1', 3, 10, 11, 2);
INSERT INTO blob_tombstones VALUES ('sha256:ee', 12);
INSERT INTO proxy_tags VALUES ('hub/library/x', 'latest', 'sha256:cc', 13);
INSERT INTO proxy_partial_manifests VALUES ('hub/library/x', 'sha256:cc', 14);
INSERT INTO users (id, name, password_hash, admin, created_at)
  VALUES (2, 'alice', 'hash-a', 1, 15), (7, 'bob', 'hash-b', 0, 16);
DELETE FROM users WHERE id = 7;
INSERT INTO projects VALUES ('team', 1, 17), ('other', 0, 18);
INSERT INTO members VALUES ('team', 'alice', 4);
INSERT INTO robots VALUES ('robot$ci', 'ci', 'token-hash', 19, NULL, 20, 0);
INSERT INTO robot_scopes VALUES ('robot$ci', 'team', 2);
INSERT INTO refresh_tokens VALUES ('rt', 'alice', 21, 22, 0, 'u2');
INSERT INTO login_unlocks VALUES ('alice', 23);
INSERT INTO project_settings VALUES ('team', '{"keep":1}', 25, NULL, 24);
INSERT INTO project_immutable_tags VALUES ('team', 'v*');
INSERT INTO uploads (id, repository_id, started_at, updated_at, size) VALUES ('u1', 1, 1, 1, 0);
INSERT INTO leases VALUES ('gc', 'someone', 99);
)sql";

// Every table but the ones a transfer leaves out, in name order, each sorted.
std::map<std::string, std::vector<std::string>> dump(const std::string& path) {
  std::map<std::string, std::vector<std::string>> tables;
  const auto left_out = untransferred_tables();
  for (const auto& name :
       sqlite_rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'")) {
    if (name == "project_blobs" || name == "project_usage" ||
        std::find(left_out.begin(), left_out.end(), name) == left_out.end()) {
      auto rows = sqlite_rows(path, "SELECT * FROM \"" + name + "\"");
      std::sort(rows.begin(), rows.end());
      tables[name] = rows;
    }
  }
  return tables;
}

std::string make_filled_database(const ScratchDir& dir) {
  const std::string path = dir.file("source.db");
  EXPECT_TRUE(open_sqlite_stores(SqliteOptions{.path = path, .readers = 1}).has_value());
  sqlite_exec(path, std::string(kFill));
  return path;
}

TEST(MetadataTransfer, TheTablesCoverTheSqliteSchemaColumnByColumn) {
  ScratchDir dir;
  const std::string path = dir.file("schema.db");
  ASSERT_TRUE(open_sqlite_stores(SqliteOptions{.path = path, .readers = 1}).has_value());
  std::set<std::string> listed;
  for (const auto& table : transfer_tables()) {
    listed.insert(std::string(table.name));
    // table_xinfo's hidden column is 2 or 3 for generated columns, which are never copied.
    auto columns = sqlite_rows(path, "SELECT name, type FROM pragma_table_xinfo('" +
                                         std::string(table.name) + "') WHERE hidden = 0");
    std::vector<std::string> expected;
    for (const auto& column : table.columns) {
      expected.push_back(std::string(column.name) + "|" + (column.integer ? "INTEGER" : "TEXT"));
    }
    std::sort(columns.begin(), columns.end());
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(columns, expected) << table.name;
  }
  for (const auto& name : untransferred_tables()) {
    listed.insert(std::string(name));
  }
  for (const auto& name : sqlite_rows(
           path,
           "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")) {
    EXPECT_TRUE(listed.contains(name)) << name << " is neither transferred nor left out";
  }
}

// One value of a query on PostgreSQL.
std::string pg_value(const std::string& url, const std::string& sql) {
  PGconn* connection = PQconnectdb(url.c_str());
  PGresult* result = PQexec(connection, sql.c_str());
  std::string value = PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1
                          ? PQgetvalue(result, 0, 0)
                          : std::string("error: ") + PQerrorMessage(connection);
  PQclear(result);
  PQfinish(connection);
  return value;
}

TEST(PostgresMetadataTransfer, EveryRowGoesInAndComesBackOutUnchanged) {
  auto database = PgTestDatabase::make_or_skip();
  if (!database) {
    return;
  }
  const std::string url = database->options().url;
  ScratchDir dir;
  const std::string source = make_filled_database(dir);

  auto empty = postgres_is_empty(url);
  ASSERT_TRUE(empty.has_value()) << empty.error().message;
  EXPECT_TRUE(*empty);
  auto imported = import_sqlite_into_postgres(source, url);
  ASSERT_TRUE(imported.has_value()) << imported.error().message;
  EXPECT_GT(imported->rows, 20u);
  EXPECT_FALSE(*postgres_is_empty(url));
  // The usage was rebuilt by PostgreSQL's triggers, the quota below it kept.
  EXPECT_EQ(pg_value(url,
                     "SELECT bytes || '/' || repositories FROM project_usage "
                     "WHERE project = 'team'"),
            "60/1");
  EXPECT_EQ(pg_value(url, "SELECT quota_bytes FROM project_settings"), "25");
  EXPECT_EQ(pg_value(url, "SELECT count(*) FROM uploads"), "0");

  // A second restore into it is refused, and changes nothing.
  auto again = import_sqlite_into_postgres(source, url);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, core::ErrorCode::kConflict);
  EXPECT_NE(again.error().message.find("holds metadata already"), std::string::npos);

  const std::string back = dir.file("back.db");
  auto exported = export_postgres_to_sqlite(url, back);
  ASSERT_TRUE(exported.has_value()) << exported.error().message;
  auto expected = dump(source);
  auto actual = dump(back);
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(actual["sqlite_sequence"], std::vector<std::string>{"users|7"});

  // The next user gets an id never given before (bob's 7 was), on either side.
  EXPECT_EQ(pg_value(url,
                     "INSERT INTO users (name, password_hash, admin, created_at) "
                     "VALUES ('carol', 'h', 0, 30) RETURNING id"),
            "8");
  EXPECT_EQ(pg_value(url,
                     "INSERT INTO repositories (name, created_at) VALUES ('new', 31) "
                     "RETURNING id"),
            "6");
}

TEST(PostgresMetadataTransfer, AnExportNeverOverwritesAFile) {
  auto database = PgTestDatabase::make_or_skip();
  if (!database) {
    return;
  }
  ScratchDir dir;
  const std::string source = make_filled_database(dir);
  auto refused = export_postgres_to_sqlite(database->options().url, source);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("will not overwrite"), std::string::npos);
  EXPECT_EQ(sqlite_rows(source, "SELECT count(*) FROM users"), std::vector<std::string>{"1"});
}

}  // namespace
}  // namespace berth::meta
