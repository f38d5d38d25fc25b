// What is specific to the SQLite metadata store, below the MetadataStore contract: schema
// migrations and their versions, WAL mode, the statement cache, transactions, and how SQLite
// failures become core::Error.
#include "meta/sqlite_metadata_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "meta/migrations.hpp"
#include "meta/sqlite_connection.hpp"
#include "testing/fake_clock.hpp"

namespace berth::meta {
namespace {

using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "berth-sqlite-XXXXXX").string();
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

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::string db_path() const { return (dir_.path() / "berth.db").string(); }

  SqliteOptions options() const {
    SqliteOptions options;
    options.path = db_path();
    options.readers = 2;
    return options;
  }

  // A raw connection to the same file, standing in for another process.
  std::unique_ptr<sqlite::Connection> raw() {
    auto connection = sqlite::Connection::open(db_path(), 0ms);
    if (!connection) {
      throw std::runtime_error(connection.error().message);
    }
    return std::move(*connection);
  }

  std::string text_of(sqlite::Connection& connection, std::string_view sql) {
    auto statement = connection.query(sql, "test query");
    if (!statement) {
      throw std::runtime_error(statement.error().message);
    }
    auto row = statement->step();
    if (!row || !*row) {
      throw std::runtime_error("no row for " + std::string(sql));
    }
    return statement->text(0);
  }

  TempDir dir_;
  testing::FakeClock clock_;
};

TEST_F(SqliteStoreTest, NewDatabaseIsMigratedToTheLatestVersionWithHistory) {
  ASSERT_TRUE(open_sqlite_metadata_store(options()));
  auto connection = raw();
  auto version = sqlite::schema_version(*connection);
  ASSERT_TRUE(version);
  EXPECT_EQ(*version, sqlite::latest_schema_version());
  EXPECT_EQ(std::to_string(sqlite::migrations().size()),
            text_of(*connection, "SELECT count(*) FROM schema_migrations"));
  EXPECT_EQ(std::to_string(sqlite::latest_schema_version()),
            text_of(*connection, "SELECT max(version) FROM schema_migrations"));
}

TEST_F(SqliteStoreTest, MigrationVersionsAreConsecutiveFromOne) {
  int expected = 1;
  for (const auto& migration : sqlite::migrations()) {
    EXPECT_EQ(migration.version, expected++);
    EXPECT_FALSE(migration.description.empty());
  }
}

TEST_F(SqliteStoreTest, ReopeningDoesNotMigrateAgain) {
  ASSERT_TRUE(open_sqlite_metadata_store(options()));
  ASSERT_TRUE(open_sqlite_metadata_store(options()));
  auto connection = raw();
  EXPECT_EQ(std::to_string(sqlite::migrations().size()),
            text_of(*connection, "SELECT count(*) FROM schema_migrations"));
}

TEST_F(SqliteStoreTest, DatabaseFromANewerBerthIsRefusedUntouched) {
  ASSERT_TRUE(open_sqlite_metadata_store(options()));
  const int future = sqlite::latest_schema_version() + 1;
  {
    auto connection = raw();
    ASSERT_TRUE(connection->exec("PRAGMA user_version = " + std::to_string(future), "test"));
  }
  auto store = open_sqlite_metadata_store(options());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, core::ErrorCode::kInternal);
  EXPECT_NE(store.error().message.find("schema version " + std::to_string(future)),
            std::string::npos)
      << store.error().message;
  EXPECT_NE(store.error().message.find("newer Berth"), std::string::npos);

  auto connection = raw();
  EXPECT_EQ(sqlite::schema_version(*connection).value(), future);
}

TEST_F(SqliteStoreTest, VersionOneDatabaseIsUpgradedKeepingItsData) {
  // A database as a Berth with only migration 1 left it, holding one tagged image.
  const auto manifest = core::Digest::of("manifest bytes").str();
  const auto layer = core::Digest::of("layer bytes").str();
  {
    auto connection = raw();
    const auto& v1 = sqlite::migrations()[0];
    ASSERT_EQ(v1.version, 1);
    ASSERT_TRUE(connection->exec("BEGIN", "test"));
    ASSERT_TRUE(connection->exec(std::string(v1.sql), "create v1 schema"));
    auto insert = [&](std::string_view sql, const auto&... args) {
      auto statement = connection->query(sql, "fill v1 database", args...);
      ASSERT_TRUE(statement) << statement.error().message;
      auto ran = statement->run();
      ASSERT_TRUE(ran) << ran.error().message;
    };
    insert("INSERT INTO schema_migrations VALUES (1, 'v1', 1000)");
    insert("INSERT INTO repositories (id, name, created_at) VALUES (1, 'app', 1000)");
    insert("INSERT INTO blobs VALUES (?1, 11, 1000), (?2, 14, 1000)", layer, manifest);
    insert("INSERT INTO repository_blobs VALUES (1, ?1, 1000), (1, ?2, 1000)", layer, manifest);
    insert(
        "INSERT INTO manifests (id, repository_id, digest, media_type, size, created_at) "
        "VALUES (1, 1, ?1, 'application/vnd.oci.image.manifest.v1+json', 14, 1000)",
        manifest);
    insert("INSERT INTO manifest_blobs VALUES (1, ?1)", layer);
    insert("INSERT INTO tags VALUES (1, 'latest', 1, 1000)");
    ASSERT_TRUE(connection->exec("PRAGMA user_version = 1", "test"));
    ASSERT_TRUE(connection->exec("COMMIT", "test"));
  }

  auto stores = open_sqlite_stores(options());
  ASSERT_TRUE(stores) << stores.error().message;

  // Old data intact, through the store.
  auto app = core::RepositoryName::parse("app").value();
  auto latest = stores->metadata->resolve_tag(app, core::Tag::parse("latest").value());
  ASSERT_TRUE(latest && *latest);
  EXPECT_EQ((*latest)->digest.str(), manifest);
  EXPECT_EQ((*latest)->created, core::from_unix_ms(1000));
  auto size = stores->metadata->linked_blob(app, core::Digest::parse(layer).value());
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, 11u);

  // New tables present and working.
  ASSERT_TRUE(stores->accounts->create_user(
      User{.name = "alice", .password_hash = "h", .admin = true, .created = clock_.now()}));
  ASSERT_TRUE(stores->accounts->create_project(
      Project{.name = "app", .is_public = false, .created = clock_.now()}));
  ASSERT_TRUE(
      stores->accounts->set_member({.project = "app", .user = "alice", .role = Role::kOwner}));
  EXPECT_EQ(stores->accounts->member_role("app", "alice").value(), Role::kOwner);

  auto connection = raw();
  EXPECT_EQ(sqlite::schema_version(*connection).value(), sqlite::latest_schema_version());
  EXPECT_EQ(text_of(*connection,
                    "SELECT group_concat(version || ':' || applied_at, ' ') FROM "
                    "(SELECT * FROM schema_migrations WHERE version = 1)"),
            "1:1000");
  EXPECT_EQ(text_of(*connection, "SELECT count(*) FROM schema_migrations"),
            std::to_string(sqlite::migrations().size()));
  EXPECT_EQ(text_of(*connection,
                    "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_schema "
                    "WHERE type = 'table' AND name IN ('users', 'projects', 'members', 'robots', "
                    "'robot_scopes', 'refresh_tokens') ORDER BY name)"),
            "members projects refresh_tokens robot_scopes robots users");
}

// Version 7 gave users ids: a database of version 6 keeps its users, each with its own id, and
// the refresh tokens of database users are bound to those ids (others name no account).
TEST_F(SqliteStoreTest, VersionSixUsersGetIdsAndTheirRefreshTokensAreBound) {
  {
    auto connection = raw();
    ASSERT_TRUE(connection->exec("BEGIN", "test"));
    for (const auto& migration : sqlite::migrations()) {
      if (migration.version <= 6) {
        ASSERT_TRUE(connection->exec(std::string(migration.sql), "create v6 schema"));
      }
    }
    ASSERT_TRUE(connection->exec(
        "INSERT INTO users VALUES ('bob', 'hash-b', 0, 2000), ('alice', 'hash-a', 1, 1000);"
        "INSERT INTO refresh_tokens (token_hash, subject, created_at, expires_at, revoked) "
        "VALUES ('t-alice', 'alice', 1, 2, 0), ('t-robot', 'robot$ci', 1, 2, 0), "
        "('t-carol', 'carol', 1, 2, 0);"
        "PRAGMA user_version = 6;",
        "fill v6 database"));
    ASSERT_TRUE(connection->exec("COMMIT", "test"));
  }
  auto stores = open_sqlite_stores(options());
  ASSERT_TRUE(stores) << stores.error().message;
  auto& accounts = *stores->accounts;
  const auto alice = accounts.get_user("alice").value();
  const auto bob = accounts.get_user("bob").value();
  ASSERT_TRUE(alice && bob);
  EXPECT_EQ(alice->password_hash, "hash-a");
  EXPECT_TRUE(alice->admin);
  EXPECT_EQ(bob->created, core::from_unix_ms(2000));
  EXPECT_GT(alice->id, 0);
  EXPECT_NE(alice->id, bob->id);
  EXPECT_EQ(accounts.get_refresh_token("t-alice").value()->account,
            "u" + std::to_string(alice->id));
  EXPECT_EQ(accounts.get_refresh_token("t-robot").value()->account, "");
  EXPECT_EQ(accounts.get_refresh_token("t-carol").value()->account, "");
  // Ids go on from there, and the name stays unique.
  ASSERT_TRUE(accounts.create_user(
      User{.name = "carol", .password_hash = "h", .admin = false, .created = clock_.now()}));
  const auto carol = accounts.get_user("carol").value();
  ASSERT_TRUE(carol);
  EXPECT_GT(carol->id, std::max(alice->id, bob->id));
  EXPECT_EQ(accounts
                .create_user(User{
                    .name = "carol", .password_hash = "h", .admin = false, .created = clock_.now()})
                .error()
                .code,
            core::ErrorCode::kConflict);
}

TEST_F(SqliteStoreTest, BothStoresOfOneOpenShareTheDatabaseAndOutliveEachOther) {
  auto stores = open_sqlite_stores(options());
  ASSERT_TRUE(stores);
  auto app = core::RepositoryName::parse("app").value();
  auto blob = BlobRef{core::Digest::of("x"), 1};
  ASSERT_TRUE(stores->metadata->link_blob(app, blob, clock_.now()));
  stores->metadata.reset();
  ASSERT_TRUE(stores->accounts->create_user(
      User{.name = "alice", .password_hash = "h", .admin = false, .created = clock_.now()}));
  stores->accounts.reset();

  auto connection = raw();
  EXPECT_EQ(text_of(*connection, "SELECT name FROM users"), "alice");
  EXPECT_EQ(text_of(*connection, "SELECT name FROM repositories"), "app");
  // One migration run, not one per store.
  EXPECT_EQ(std::to_string(sqlite::migrations().size()),
            text_of(*connection, "SELECT count(*) FROM schema_migrations"));
}

// Regression: a deleted project's repositories stayed, and whoever created the name next
// became owner of the old private images.
TEST_F(SqliteStoreTest, DeletingAProjectDeletesItsRepositoriesOnly) {
  auto stores = open_sqlite_stores(options());
  ASSERT_TRUE(stores);
  const std::vector<std::string> names = {"a", "a/x", "a/x/y", "a-b", "a.b", "ab/x", "b"};
  for (const auto& name : names) {
    auto repo = core::RepositoryName::parse(name).value();
    ASSERT_TRUE(stores->metadata->link_blob(repo, BlobRef{core::Digest::of(name), name.size()},
                                            clock_.now()));
  }
  ASSERT_TRUE(stores->accounts->create_project(
      Project{.name = "a", .is_public = false, .created = clock_.now()}));
  ASSERT_TRUE(stores->accounts->delete_project("a"));
  std::vector<std::string> left;
  for (const auto& name : names) {
    if (stores->metadata->repository_exists(core::RepositoryName::parse(name).value()).value()) {
      left.push_back(name);
    }
  }
  EXPECT_EQ(left, (std::vector<std::string>{"a-b", "a.b", "ab/x", "b"}));
}

TEST_F(SqliteStoreTest, AccountTablesEnforceTheirForeignKeys) {
  ASSERT_TRUE(open_sqlite_stores(options()));
  auto connection = raw();
  ASSERT_TRUE(connection->exec("PRAGMA foreign_keys = ON", "test"));
  EXPECT_FALSE(connection->exec("INSERT INTO members VALUES ('nope', 'nobody', 1)", "orphan"));
  ASSERT_TRUE(connection->exec("INSERT INTO projects VALUES ('app', 0, 0)", "test"));
  ASSERT_TRUE(connection->exec(
      "INSERT INTO users (name, password_hash, admin, created_at) VALUES ('alice', 'h', 0, 0)",
      "test"));
  EXPECT_FALSE(connection->exec("INSERT INTO members VALUES ('app', 'alice', 5)", "bad role"));
  EXPECT_TRUE(connection->exec("INSERT INTO members VALUES ('app', 'alice', 4)", "member"));
}

TEST_F(SqliteStoreTest, FileDatabaseUsesWalAndEnforcesForeignKeys) {
  auto store = open_sqlite_metadata_store(options());
  ASSERT_TRUE(store);
  auto connection = raw();
  EXPECT_EQ(text_of(*connection, "PRAGMA journal_mode"), "wal");
  // The schema relies on foreign keys; with them on, a link to an unrecorded blob fails.
  ASSERT_TRUE(connection->exec("PRAGMA foreign_keys = ON", "test"));
  ASSERT_TRUE(
      connection->exec("INSERT INTO repositories (name, created_at) VALUES ('app', 0)", "test"));
  auto orphan = connection->exec(
      "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (1, 'x', 0)",
      "insert orphan link");
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().code, core::ErrorCode::kInternal);
  EXPECT_NE(orphan.error().message.find("insert orphan link"), std::string::npos);
}

TEST_F(SqliteStoreTest, OpeningInAMissingDirectoryFailsWithThePath) {
  SqliteOptions bad;
  bad.path = (dir_.path() / "missing" / "berth.db").string();
  auto store = open_sqlite_metadata_store(bad);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, core::ErrorCode::kInternal);
  EXPECT_NE(store.error().message.find(bad.path), std::string::npos) << store.error().message;
}

TEST_F(SqliteStoreTest, EmptyPathIsRefused) {
  auto store = open_sqlite_metadata_store(SqliteOptions{});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, core::ErrorCode::kInternal);
}

TEST_F(SqliteStoreTest, WriteLockHeldElsewhereIsUnavailableWhileReadsGoOn) {
  auto opts = options();
  opts.busy_timeout = 20ms;
  auto store = open_sqlite_metadata_store(opts);
  ASSERT_TRUE(store);
  auto blob = BlobRef{core::Digest::of("x"), 1};
  auto app = core::RepositoryName::parse("app").value();
  ASSERT_TRUE((*store)->link_blob(app, blob, clock_.now()));

  auto other_process = raw();
  ASSERT_TRUE(other_process->exec("BEGIN IMMEDIATE", "test"));
  auto linked =
      (*store)->link_blob(core::RepositoryName::parse("other").value(), blob, clock_.now());
  ASSERT_FALSE(linked);
  EXPECT_EQ(linked.error().code, core::ErrorCode::kUnavailable) << linked.error().message;
  // WAL: readers are not blocked by a writer.
  auto size = (*store)->linked_blob(app, blob.digest);
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, 1u);

  ASSERT_TRUE(other_process->exec("ROLLBACK", "test"));
  EXPECT_TRUE(
      (*store)->link_blob(core::RepositoryName::parse("other").value(), blob, clock_.now()));
}

TEST(SqliteError, BusyAndLockedAreUnavailable) {
  for (int rc : {SQLITE_BUSY, SQLITE_LOCKED, SQLITE_BUSY_SNAPSHOT, SQLITE_BUSY_TIMEOUT}) {
    auto error = sqlite::sqlite_error(rc, nullptr, "store manifest");
    EXPECT_EQ(error.code, core::ErrorCode::kUnavailable) << rc;
    EXPECT_TRUE(error.is(core::ErrorReason::kDatabaseBusy)) << rc;
    EXPECT_NE(error.message.find("store manifest"), std::string::npos);
  }
}

TEST(SqliteError, DiskFullIsUnavailableAndSaysSo) {
  auto error = sqlite::sqlite_error(SQLITE_FULL, nullptr, "link blob");
  EXPECT_EQ(error.code, core::ErrorCode::kUnavailable);
  EXPECT_TRUE(error.is(core::ErrorReason::kDiskFull));
  EXPECT_NE(error.message.find("disk full"), std::string::npos);
  EXPECT_NE(error.message.find("link blob"), std::string::npos);
}

TEST(SqliteError, OthersAreInternalWithPurposeAndMessage) {
  for (int rc : {SQLITE_CORRUPT, SQLITE_IOERR_WRITE, SQLITE_CONSTRAINT_UNIQUE, SQLITE_READONLY}) {
    auto error = sqlite::sqlite_error(rc, nullptr, "resolve tag");
    EXPECT_EQ(error.code, core::ErrorCode::kInternal) << rc;
    EXPECT_TRUE(error.is(core::ErrorReason::kNone)) << rc;
    EXPECT_NE(error.message.find("resolve tag"), std::string::npos);
    EXPECT_NE(error.message.find(sqlite3_errstr(rc)), std::string::npos) << error.message;
  }
}

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = sqlite::Connection::open(":memory:", 0ms);
    ASSERT_TRUE(opened);
    connection_ = std::move(*opened);
    ASSERT_TRUE(connection_->exec("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER) STRICT", "test"));
  }

  int statement_count() const {
    int count = 0;
    for (sqlite3_stmt* s = sqlite3_next_stmt(connection_->handle(), nullptr); s != nullptr;
         s = sqlite3_next_stmt(connection_->handle(), s)) {
      ++count;
    }
    return count;
  }

  std::unique_ptr<sqlite::Connection> connection_;
};

TEST_F(ConnectionTest, StatementsArePreparedOnceAndReused) {
  constexpr std::string_view kInsert = "INSERT INTO t (k, v) VALUES (?1, ?2)";
  for (int i = 0; i < 5; ++i) {
    auto insert = connection_->query(kInsert, "insert", "k" + std::to_string(i), i);
    ASSERT_TRUE(insert);
    ASSERT_TRUE(insert->run());
  }
  EXPECT_EQ(statement_count(), 1);
  auto count = connection_->query("SELECT count(*), sum(v) FROM t", "count");
  ASSERT_TRUE(count);
  ASSERT_TRUE(count->step().value());
  EXPECT_EQ(count->int64(0), 5);
  EXPECT_EQ(count->int64(1), 0 + 1 + 2 + 3 + 4);
}

TEST_F(ConnectionTest, BindsTextIntegersAndNull) {
  std::optional<std::string> none;
  std::optional<std::string> some = "x";
  auto insert = connection_->query("INSERT INTO t (k, v) VALUES (?1, ?2)", "insert",
                                   std::string("a"), std::uint64_t{7});
  ASSERT_TRUE(insert && insert->run());
  auto select = connection_->query("SELECT ?1 IS NULL, ?2, v FROM t WHERE k = ?3", "select", none,
                                   some, std::string_view("a"));
  ASSERT_TRUE(select);
  ASSERT_TRUE(select->step().value());
  EXPECT_EQ(select->int64(0), 1);
  EXPECT_EQ(select->text(1), "x");
  EXPECT_EQ(select->int64(2), 7);
}

TEST_F(ConnectionTest, UnsignedValuesBeyondInt64AreAnError) {
  auto insert = connection_->query("INSERT INTO t (k, v) VALUES (?1, ?2)", "insert too big", "k",
                                   std::numeric_limits<std::uint64_t>::max());
  ASSERT_TRUE(insert);
  auto ran = insert->run();
  ASSERT_FALSE(ran);
  EXPECT_EQ(ran.error().code, core::ErrorCode::kInternal);
  EXPECT_NE(ran.error().message.find("insert too big"), std::string::npos);
}

TEST_F(ConnectionTest, UsingAStatementTwiceAtOnceIsABug) {
  auto first = connection_->query("SELECT 1", "first");
  ASSERT_TRUE(first);
  EXPECT_THROW((void)connection_->query("SELECT 1", "second"), std::logic_error);
}

TEST_F(ConnectionTest, StatementIsResetWhenItGoesOutOfScope) {
  {
    auto select = connection_->query("SELECT 1 UNION ALL SELECT 2", "select");
    ASSERT_TRUE(select);
    ASSERT_TRUE(select->step().value());  // left mid-way
  }
  auto again = connection_->query("SELECT 1 UNION ALL SELECT 2", "select");
  ASSERT_TRUE(again);
  ASSERT_TRUE(again->step().value());
  EXPECT_EQ(again->int64(0), 1);  // from the start, not the second row
}

TEST_F(ConnectionTest, TransactionRollsBackUnlessCommitted) {
  {
    sqlite::Transaction transaction(*connection_);
    ASSERT_TRUE(transaction.begin());
    EXPECT_TRUE(connection_->in_transaction());
    ASSERT_TRUE(connection_->exec("INSERT INTO t VALUES ('gone', 1)", "insert"));
  }
  EXPECT_FALSE(connection_->in_transaction());
  {
    sqlite::Transaction transaction(*connection_);
    ASSERT_TRUE(transaction.begin());
    ASSERT_TRUE(connection_->exec("INSERT INTO t VALUES ('kept', 2)", "insert"));
    ASSERT_TRUE(transaction.commit());
  }
  auto keys = connection_->query("SELECT group_concat(k) FROM t", "keys");
  ASSERT_TRUE(keys);
  ASSERT_TRUE(keys->step().value());
  EXPECT_EQ(keys->text(0), "kept");
}

TEST_F(ConnectionTest, SqlErrorsNameThePurpose) {
  auto bad = connection_->query("SELECT nonsense FROM nowhere", "read the impossible");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, core::ErrorCode::kInternal);
  EXPECT_NE(bad.error().message.find("read the impossible"), std::string::npos);
  EXPECT_NE(bad.error().message.find("nowhere"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace berth::meta
