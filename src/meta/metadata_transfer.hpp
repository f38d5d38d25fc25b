// Moving the metadata between the two databases, for `berth backup` and `berth restore` of the
// scale-out shape: a backup's metadata is always one SQLite file (lifecycle/backup.hpp), whatever
// database the registry runs on, so a backup of either shape restores into either.
//
// What moves is every row of every table that holds something of its own, table by table in an
// order that satisfies the foreign keys, column by column as the two schemas name them (they are
// the same tables: pg_migrations.cpp mirrors migrations.cpp). Not copied:
//  - project_blobs and project_usage: derived; the usage triggers of the target rebuild them as
//    the repository links go in (project_settings go in after the links, so that the quota
//    triggers do not judge links that were accepted long ago);
//  - uploads and leases: their bytes and holders are not part of a backup (as in
//    sqlite_backup.hpp);
//  - schema_migrations: each database keeps its own history.
// Ids keep their values (tokens name accounts by id), and the counter that makes a user id
// never given twice moves with them (SQLite's sqlite_sequence, PostgreSQL's identity sequence).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "meta/sqlite_backup.hpp"

namespace berth::meta {

// One column of a copied table, as both schemas have it.
struct TransferColumn {
  std::string_view name;
  // INTEGER/BIGINT, else TEXT.
  bool integer = false;
};

struct TransferTable {
  std::string_view name;
  std::span<const TransferColumn> columns;
  // The id column that the database numbers itself (identity, AUTOINCREMENT); empty if none.
  std::string_view id;
};

// The copied tables, in insertion order.
[[nodiscard]] std::span<const TransferTable> transfer_tables();
// The tables deliberately left out (see the top).
[[nodiscard]] std::span<const std::string_view> untransferred_tables();

// Writes a consistent snapshot of the PostgreSQL database at `url` as a new Berth SQLite
// database at `to` (which must not exist; removed again on failure). The rows are read in one
// REPEATABLE READ transaction, so they are one snapshot while writers go on. kUnavailable when
// PostgreSQL cannot be reached.
[[nodiscard]] Result<DatabaseCopy> export_postgres_to_sqlite(const std::string& url,
                                                             const std::string& to);

struct ImportSummary {
  std::uint64_t rows = 0;
};

// Migrates the PostgreSQL database at `url` if needed and copies every row of the Berth SQLite
// database at `from` (at the latest SQLite schema) into it, in one transaction that holds the
// writers' lock: all of it is there afterwards, or (on failure or kill) none of it. kConflict
// when the database already holds metadata (a restore never mixes two registries).
[[nodiscard]] Result<ImportSummary> import_sqlite_into_postgres(const std::string& from,
                                                                const std::string& url);

// Whether the PostgreSQL database at `url` holds no metadata (or no Berth schema at all).
[[nodiscard]] Result<bool> postgres_is_empty(const std::string& url);

}  // namespace berth::meta
