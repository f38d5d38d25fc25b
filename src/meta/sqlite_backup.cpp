// copy_sqlite_database (sqlite_backup.hpp): the online backup API, then the clean-up that makes
// the copy self-contained, then SQLite's own integrity check.
#include "meta/sqlite_backup.hpp"

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "meta/migrations.hpp"
#include "meta/sqlite_connection.hpp"
#include "meta/sqlite_database.hpp"

namespace berth::meta {
namespace {

namespace fs = std::filesystem;
using core::ErrorCode;
using sqlite::Connection;
using sqlite::forward;

// How long a statement of the copy waits for a lock, and how long the backup step keeps
// retrying while the source is locked. A WAL reader is never blocked by writers; what can lock
// the source for a while is a checkpoint that truncates the WAL, or a process opening it.
constexpr std::chrono::seconds kBusyTimeout{30};
constexpr std::chrono::milliseconds kBusyRetry{50};

Result<std::string> single_text(Connection& connection, std::string_view sql,
                                std::string_view purpose) {
  auto statement = connection.query(sql, purpose);
  if (!statement) {
    return forward(statement);
  }
  auto row = statement->step();
  if (!row) {
    return forward(row);
  }
  return *row ? statement->text(0) : std::string();
}

Result<bool> has_table(Connection& connection, std::string_view name) {
  auto statement = connection.query(
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", "look up table", name);
  if (!statement) {
    return forward(statement);
  }
  return statement->step();
}

Result<void> backup_pages(Connection& source, Connection& destination) {
  sqlite3_backup* backup =
      sqlite3_backup_init(destination.handle(), "main", source.handle(), "main");
  if (backup == nullptr) {
    return std::unexpected(sqlite::sqlite_error(sqlite3_errcode(destination.handle()),
                                                destination.handle(), "start database backup"));
  }
  const auto deadline = std::chrono::steady_clock::now() + kBusyTimeout;
  int rc = SQLITE_OK;
  while (true) {
    // -1: every page in one step, so the whole copy is read in one read transaction and is
    // one snapshot of the source.
    rc = sqlite3_backup_step(backup, -1);
    if (rc == SQLITE_DONE) {
      break;
    }
    if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(kBusyRetry);
      continue;
    }
    break;
  }
  // finish() reports the step's error, if any, on the destination.
  int finished = sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    return std::unexpected(sqlite::sqlite_error(rc, nullptr, "copy database pages"));
  }
  if (finished != SQLITE_OK) {
    return std::unexpected(
        sqlite::sqlite_error(finished, destination.handle(), "finish database backup"));
  }
  return {};
}

}  // namespace

Result<void> leave_wal_mode(const std::string& path) {
  auto connection = Connection::open(path, kBusyTimeout);
  if (!connection) {
    return forward(connection);
  }
  auto mode = single_text(**connection, "PRAGMA journal_mode = DELETE", "leave WAL mode");
  if (!mode) {
    return forward(mode);
  }
  if (*mode != "delete") {
    return core::fail(ErrorCode::kInternal,
                      "sqlite: cannot switch " + path + " to journal mode delete");
  }
  return {};
}

int latest_sqlite_schema_version() { return sqlite::latest_schema_version(); }

Result<DatabaseCopy> copy_sqlite_database(const std::string& from, const std::string& to) {
  std::error_code ec;
  if (!fs::is_regular_file(from, ec)) {
    return core::fail(ErrorCode::kInternal, "no database file at " + from);
  }
  if (fs::exists(to, ec)) {
    return core::fail(ErrorCode::kInternal, "will not overwrite " + to);
  }
  auto source = Connection::open(from, kBusyTimeout);
  if (!source) {
    return forward(source);
  }
  RemoveUnlessKept cleanup(to);
  auto destination = Connection::open(to, kBusyTimeout);
  if (!destination) {
    return forward(destination);
  }
  if (auto copied = backup_pages(**source, **destination); !copied) {
    return forward(copied);
  }
  source->reset();

  auto mode = single_text(**destination, "PRAGMA journal_mode = DELETE", "leave WAL mode");
  if (!mode) {
    return forward(mode);
  }
  if (*mode != "delete") {
    return core::fail(ErrorCode::kInternal,
                      "sqlite: cannot switch the copy " + to + " to journal mode delete");
  }
  // A schema without these tables (older than their migrations) has nothing to clear.
  auto has_uploads = has_table(**destination, "uploads");
  if (!has_uploads) {
    return forward(has_uploads);
  }
  auto has_leases = has_table(**destination, "leases");
  if (!has_leases) {
    return forward(has_leases);
  }
  if (*has_uploads) {
    if (auto cleared = (*destination)->exec("DELETE FROM uploads", "drop upload sessions");
        !cleared) {
      return forward(cleared);
    }
  }
  if (*has_leases) {
    if (auto cleared = (*destination)->exec("DELETE FROM leases", "drop leases"); !cleared) {
      return forward(cleared);
    }
  }

  auto integrity = single_text(**destination, "PRAGMA integrity_check", "check database copy");
  if (!integrity) {
    return forward(integrity);
  }
  if (*integrity != "ok") {
    return core::fail(ErrorCode::kInternal,
                      "sqlite: the copy of " + from + " fails its integrity check: " + *integrity);
  }
  auto version = sqlite::schema_version(**destination);
  if (!version) {
    return forward(version);
  }
  destination->reset();
  cleanup.keep();
  return DatabaseCopy{*version};
}

}  // namespace berth::meta
