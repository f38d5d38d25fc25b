// Versioned schema migrations of the SQLite metadata database.
//
// The version lives in SQLite's `PRAGMA user_version` (in the database header, so it can be
// read before knowing anything about the tables, and it changes atomically with the
// migration's transaction). Each applied migration also leaves a row in `schema_migrations`
// saying when it ran, for operators. Migrations only ever append: a released migration is
// never edited, a change is a new migration.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/error.hpp"
#include "meta/sqlite_connection.hpp"

namespace berth::meta::sqlite {

struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;
};

// Every migration, in order; versions are 1, 2, 3, ...
[[nodiscard]] std::span<const Migration> migrations();

// The version this build creates and understands.
[[nodiscard]] int latest_schema_version();

// The database's current schema version (0 for a new, empty database).
[[nodiscard]] Result<int> schema_version(Connection& connection);

// Brings the database up to latest_schema_version() in one write transaction, so a failure
// or crash leaves it at the version it had. Concurrent openers (another berth process) are
// serialized by the write lock and the second one finds nothing to do. A database at a
// version above latest_schema_version() was written by a newer Berth and is refused with
// kInternal, without touching it.
[[nodiscard]] Result<void> migrate(Connection& connection, std::int64_t now_unix_ms);

}  // namespace berth::meta::sqlite
