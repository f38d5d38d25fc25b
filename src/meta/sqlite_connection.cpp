// The sqlite3 wrapper of sqlite_connection.hpp, and the one mapping from SQLite result codes
// to core::Error.
#include "meta/sqlite_connection.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <utility>

namespace berth::meta::sqlite {

core::Error sqlite_error(int rc, sqlite3* db, std::string_view purpose) {
  // sqlite3_errmsg describes the latest failure on the connection, which is this one because
  // a connection is used by one thread at a time and the caller maps the error right away.
  // Without a connection only the generic text of the code is known.
  std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string context = "sqlite: " + std::string(purpose) + ": " + detail;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      // Another connection or process (berth gc, a backup) held the lock for longer than
      // busy_timeout: the database is fine, the request may be retried.
      return core::Error{core::ErrorCode::kUnavailable,
                         "database busy: " + context,
                         {},
                         std::nullopt,
                         core::ErrorReason::kDatabaseBusy};
    case SQLITE_FULL:
      return core::Error{core::ErrorCode::kUnavailable,
                         "disk full: " + context,
                         {},
                         std::nullopt,
                         core::ErrorReason::kDiskFull};
    case SQLITE_CONSTRAINT:
      // The quota triggers of migration 6: the caller's push is refused, the database is fine.
      if (detail.starts_with("quota exceeded: ")) {
        return core::Error{
            core::ErrorCode::kDenied, detail, {}, std::nullopt, core::ErrorReason::kQuotaExceeded};
      }
      return core::Error{core::ErrorCode::kInternal, context, {}};
    default:
      return core::Error{core::ErrorCode::kInternal, context, {}};
  }
}

// ---- Statement

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      in_use_(std::exchange(other.in_use_, nullptr)),
      purpose_(other.purpose_),
      bind_rc_(other.bind_rc_) {}

Statement::~Statement() {
  if (stmt_ == nullptr) {
    return;
  }
  // reset() repeats the last step's error code; it was reported then, so it is ignored here.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  *in_use_ = false;
}

void Statement::note_bind(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
  }
}

void Statement::bind_int64(int index, std::int64_t value) {
  note_bind(sqlite3_bind_int64(stmt_, index, value));
}

void Statement::bind_text(int index, std::string_view value) {
  note_bind(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

void Statement::bind_null(int index) { note_bind(sqlite3_bind_null(stmt_, index)); }

Result<bool> Statement::step() {
  if (bind_rc_ != SQLITE_OK) {
    return std::unexpected(core::Error{
        core::ErrorCode::kInternal,
        "sqlite: " + std::string(purpose_) + ": cannot bind parameter: " + sqlite3_errstr(bind_rc_),
        {}});
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  return std::unexpected(sqlite_error(rc, sqlite3_db_handle(stmt_), purpose_));
}

Result<void> Statement::run() {
  while (true) {
    auto row = step();
    if (!row) {
      return std::unexpected(row.error());
    }
    if (!*row) {
      return {};
    }
  }
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::text(int column) const {
  const auto* data = sqlite3_column_text(stmt_, column);
  if (data == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(data),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

// ---- Connection

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path,
                                                     std::chrono::milliseconds busy_timeout) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
      nullptr);
  // SQLite hands out a handle even when opening fails; the Connection owns it either way.
  std::unique_ptr<Connection> connection(new Connection(db));
  if (rc != SQLITE_OK) {
    return std::unexpected(sqlite_error(rc, db, "open " + path));
  }
  auto ms = std::min<std::chrono::milliseconds::rep>(busy_timeout.count(),
                                                     std::numeric_limits<int>::max());
  rc = sqlite3_busy_timeout(db, static_cast<int>(std::max<std::chrono::milliseconds::rep>(ms, 0)));
  if (rc != SQLITE_OK) {
    return std::unexpected(sqlite_error(rc, db, "set busy timeout"));
  }
  return connection;
}

Connection::~Connection() {
  for (auto& [sql, cached] : cache_) {
    sqlite3_finalize(cached.stmt);
  }
  // Every statement is finalized, so close cannot fail with SQLITE_BUSY.
  sqlite3_close(db_);
}

Result<void> Connection::exec(const std::string& sql, std::string_view purpose) {
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return std::unexpected(sqlite_error(rc, db_, purpose));
  }
  return {};
}

Result<Statement> Connection::prepare(std::string_view sql, std::string_view purpose) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      return std::unexpected(sqlite_error(rc, db_, purpose));
    }
    if (stmt == nullptr) {
      throw std::logic_error("empty SQL for " + std::string(purpose));
    }
    it = cache_.emplace(std::string(sql), Cached{stmt}).first;
  }
  if (*it->second.in_use) {
    // Two live uses of one sqlite3_stmt would silently reset each other.
    throw std::logic_error("statement for " + std::string(purpose) + " is already in use");
  }
  *it->second.in_use = true;
  return Statement(it->second.stmt, it->second.in_use.get(), purpose);
}

std::int64_t Connection::changes() const { return sqlite3_changes64(db_); }

bool Connection::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

// ---- Transaction

Transaction::~Transaction() {
  if (!open_ || !connection_.in_transaction()) {
    return;
  }
  // Nothing useful can be done if ROLLBACK itself fails: SQLite rolls back any transaction
  // left open when the next BEGIN fails or the connection closes, and the caller already
  // has the error that brought us here.
  if (auto rollback = connection_.query("ROLLBACK", "roll back transaction")) {
    (void)rollback->run();
  }
}

Result<void> Transaction::begin() {
  auto begin = connection_.query("BEGIN IMMEDIATE", "begin write transaction");
  if (!begin) {
    return std::unexpected(begin.error());
  }
  if (auto ran = begin->run(); !ran) {
    return ran;
  }
  open_ = true;
  return {};
}

Result<void> Transaction::commit() {
  auto commit = connection_.query("COMMIT", "commit transaction");
  if (!commit) {
    return std::unexpected(commit.error());
  }
  if (auto ran = commit->run(); !ran) {
    return ran;
  }
  open_ = false;
  return {};
}

}  // namespace berth::meta::sqlite
