// A thin RAII layer over the sqlite3 C API, used only inside meta/: a Connection owns its
// sqlite3 handle and its prepared statements, a Statement is one use of a cached prepared
// statement, a Transaction is a BEGIN IMMEDIATE that rolls back unless committed, and
// sqlite_error() is the one place where an SQLite result code becomes a core::Error.
//
// Statements are prepared once per connection (sqlite3_prepare_v3 with
// SQLITE_PREPARE_PERSISTENT) and cached by their SQL text: reads sit on the registry's hot
// path (manifest GET by tag, tags/list) and parsing the SQL again on every call would cost
// more than running it. A Statement resets its prepared statement when it goes out of scope.
// That matters beyond reuse: an un-reset SELECT keeps its read transaction open, which pins
// the WAL snapshot and stops checkpoints from ever completing.
//
// A Connection is not thread-safe. Each one is used by one thread at a time (the store's
// writer mutex and reader pool see to it), so connections are opened with SQLITE_OPEN_NOMUTEX
// and skip SQLite's own per-call locking.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>

#include "core/error.hpp"

namespace berth::meta::sqlite {

using core::Result;

// The error for a failed SQLite call on `db` (which may be null when there is no connection).
// `purpose` says what Berth was trying to do, e.g. "resolve tag".
//  - SQLITE_BUSY / SQLITE_LOCKED (after busy_timeout ran out): kUnavailable, worth retrying.
//  - SQLITE_FULL: kUnavailable "disk full".
//  - anything else: kInternal with SQLite's message.
[[nodiscard]] core::Error sqlite_error(int rc, sqlite3* db, std::string_view purpose);

class Connection;

// One use of a cached prepared statement: bind, step, read columns. Movable, not copyable.
// Parameters are positional from 1; text is copied into SQLite (SQLITE_TRANSIENT) so callers
// may bind temporaries.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  template <class T>
  void bind(int index, const T& value);

  // true: a row is available; false: the statement is done.
  [[nodiscard]] Result<bool> step();
  // Steps to the end, ignoring any rows (INSERT/UPDATE/DELETE).
  [[nodiscard]] Result<void> run();

  bool is_null(int column) const;
  std::int64_t int64(int column) const;
  // Empty for NULL.
  std::string text(int column) const;

 private:
  friend class Connection;
  Statement(sqlite3_stmt* stmt, bool* in_use, std::string_view purpose)
      : stmt_(stmt), in_use_(in_use), purpose_(purpose) {}

  void bind_int64(int index, std::int64_t value);
  void bind_text(int index, std::string_view value);
  void bind_null(int index);
  void note_bind(int rc);

  sqlite3_stmt* stmt_;
  bool* in_use_;
  // What the statement is for, for error messages; always a string literal.
  std::string_view purpose_;
  // The first binding error, reported by the next step().
  int bind_rc_ = SQLITE_OK;
};

class Connection {
 public:
  // Opens (creating if needed) a database file, or ":memory:". busy_timeout is how long a
  // statement waits for a lock another connection or process holds before SQLITE_BUSY.
  [[nodiscard]] static Result<std::unique_ptr<Connection>> open(
      const std::string& path, std::chrono::milliseconds busy_timeout);

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs SQL text without caching it; it may hold several statements (pragmas, migrations).
  [[nodiscard]] Result<void> exec(const std::string& sql, std::string_view purpose);

  // The cached statement for `sql`, with `args` bound to parameters 1, 2, ... `purpose` must be
  // a string literal. Using the same SQL again while a Statement for it is alive is a bug
  // (std::logic_error).
  template <class... Args>
  [[nodiscard]] Result<Statement> query(std::string_view sql, std::string_view purpose,
                                        const Args&... args) {
    auto statement = prepare(sql, purpose);
    if (statement) {
      int index = 0;
      (statement->bind(++index, args), ...);
    }
    return statement;
  }

  // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  std::int64_t changes() const;
  // True while a transaction is open (SQLite may end one by itself after some errors).
  bool in_transaction() const;
  sqlite3* handle() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  [[nodiscard]] Result<Statement> prepare(std::string_view sql, std::string_view purpose);

  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    // Heap-allocated so that its address stays put when the map rehashes.
    std::unique_ptr<bool> in_use = std::make_unique<bool>(false);
  };
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const noexcept {
      return std::hash<std::string_view>{}(sql);
    }
  };

  sqlite3* db_;
  std::unordered_map<std::string, Cached, SqlHash, std::equal_to<>> cache_;
};

// BEGIN IMMEDIATE ... COMMIT on one connection; rolls back on destruction unless committed.
// IMMEDIATE takes the write lock up front, so two writers never both read and then deadlock
// on upgrading to write (the case busy_timeout cannot resolve).
class Transaction {
 public:
  explicit Transaction(Connection& connection) : connection_(connection) {}
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  [[nodiscard]] Result<void> begin();
  [[nodiscard]] Result<void> commit();

 private:
  Connection& connection_;
  bool open_ = false;
};

template <class T>
void Statement::bind(int index, const T& value) {
  if constexpr (std::is_same_v<T, std::nullptr_t> || std::is_same_v<T, std::nullopt_t>) {
    bind_null(index);
  } else if constexpr (std::is_same_v<T, bool>) {
    bind_int64(index, value ? 1 : 0);
  } else if constexpr (std::signed_integral<T>) {
    bind_int64(index, value);
  } else if constexpr (std::unsigned_integral<T>) {
    // Sizes and limits arrive unsigned; SQLite integers are signed 64-bit. Nothing real is
    // that large, so an out-of-range value is a bug upstream, reported by step().
    if (value > static_cast<std::uint64_t>(INT64_MAX)) {
      note_bind(SQLITE_RANGE);
    } else {
      bind_int64(index, static_cast<std::int64_t>(value));
    }
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    bind_text(index, std::string_view(value));
  } else {
    // std::optional of any of the above: NULL when empty.
    if (value.has_value()) {
      bind(index, *value);
    } else {
      bind_null(index);
    }
  }
}

}  // namespace berth::meta::sqlite
