// One SQLite database as the stores built on it see it: the connections (one writer, a few
// readers), how a store borrows one for a read or a write transaction, and the stores' view of
// it (Db, see sql_text.hpp). Internal to meta/.
//
// The MetadataStore and the AccountStore on SQLite are two objects over one shared Database,
// so the server opens one file, runs its migrations once, and every write of either store
// goes through the same writer connection and mutex (SQLite allows one writer per database
// anyway; two writer connections in one process would only wait on each other's locks).
//
// Connections. Every write runs as BEGIN IMMEDIATE ... COMMIT on the writer, guarded by
// writer_mutex_; IMMEDIATE takes the write lock before reading anything, so a check-then-write
// cannot be invalidated by another writer in between, even one in another process (berth gc).
// Reads go to a small pool of reader connections: in WAL mode readers never block the writer
// or each other, and a read that is a single SELECT sees one consistent snapshot without an
// explicit transaction. A private ":memory:" database exists only inside the connection that
// opened it, so there the writer does everything.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "meta/sql_rows.hpp"
#include "meta/sql_text.hpp"
#include "meta/sqlite_connection.hpp"
#include "meta/sqlite_metadata_store.hpp"

namespace berth::meta::sqlite {

using sql::forward;

class Database;

// The stores' view of SQLite (sql_text.hpp).
struct Db : sql::Traits<Database, Connection, Statement, sql::Dialect::kSqlite> {
  static constexpr std::string_view kName = "sqlite";
};

class Database {
 public:
  // Opens (creating if needed) the database, sets it up (WAL, foreign keys) and migrates it
  // to the latest schema version. The errors of open_sqlite_metadata_store.
  [[nodiscard]] static Result<std::shared_ptr<Database>> open(const SqliteOptions& options);

  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs f(connection) on a reader connection, or on the writer for a single-connection
  // (":memory:") database. f must only read, and should be one SELECT (see the top).
  template <class F>
  std::invoke_result_t<F&, Connection&> read(F&& f);

  // Runs f(connection) on the writer inside BEGIN IMMEDIATE; commits if f succeeds, rolls
  // back otherwise.
  template <class F>
  std::invoke_result_t<F&, Connection&> write(F&& f);

  // As write(), and the commit is durable when it returns (synchronous=FULL for this
  // transaction: the WAL, with every earlier commit of any process, is fsync'ed). For commits
  // that something outside the database acts on, like garbage collection deleting bytes.
  template <class F>
  std::invoke_result_t<F&, Connection&> write_durable(F&& f);

 private:
  // Runs one transaction of f on the writer; the caller holds writer_mutex_.
  template <class F>
  std::invoke_result_t<F&, Connection&> transact(F& f);

  Database(std::unique_ptr<Connection> writer, std::vector<std::unique_ptr<Connection>> readers)
      : writer_(std::move(writer)),
        single_connection_(readers.empty()),
        idle_readers_(std::move(readers)) {}

  // Guards writer_, and the whole database when single_connection_.
  std::mutex writer_mutex_;
  std::unique_ptr<Connection> writer_;
  const bool single_connection_;

  // Guards idle_readers_; reader_returned_ is signalled when one is put back.
  std::mutex readers_mutex_;
  std::condition_variable reader_returned_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;
};

template <class F>
std::invoke_result_t<F&, Connection&> Database::read(F&& f) {
  if (single_connection_) {
    std::lock_guard lock(writer_mutex_);
    return f(*writer_);
  }
  std::unique_ptr<Connection> connection;
  {
    std::unique_lock lock(readers_mutex_);
    reader_returned_.wait(lock, [&] { return !idle_readers_.empty(); });
    connection = std::move(idle_readers_.back());
    idle_readers_.pop_back();
  }
  struct GiveBack {
    Database& database;
    std::unique_ptr<Connection>& connection;
    ~GiveBack() {
      {
        std::lock_guard lock(database.readers_mutex_);
        database.idle_readers_.push_back(std::move(connection));
      }
      database.reader_returned_.notify_one();
    }
  } give_back{*this, connection};
  return f(*connection);
}

template <class F>
std::invoke_result_t<F&, Connection&> Database::write(F&& f) {
  std::lock_guard lock(writer_mutex_);
  return transact(f);
}

template <class F>
std::invoke_result_t<F&, Connection&> Database::write_durable(F&& f) {
  std::lock_guard lock(writer_mutex_);
  // PRAGMA synchronous cannot change inside a transaction, so it wraps this one.
  if (auto set = writer_->exec("PRAGMA synchronous = FULL", "make commit durable"); !set) {
    return forward(set);
  }
  auto result = transact(f);
  // A failure here leaves the writer syncing every commit: slower, not wrong, and no reason
  // to report a transaction that committed as failed.
  (void)writer_->exec("PRAGMA synchronous = NORMAL", "restore synchronous mode");
  return result;
}

template <class F>
std::invoke_result_t<F&, Connection&> Database::transact(F& f) {
  Transaction transaction(*writer_);
  if (auto begun = transaction.begin(); !begun) {
    return forward(begun);
  }
  auto result = f(*writer_);
  if (!result) {
    return result;
  }
  if (auto committed = transaction.commit(); !committed) {
    return forward(committed);
  }
  return result;
}

}  // namespace berth::meta::sqlite
