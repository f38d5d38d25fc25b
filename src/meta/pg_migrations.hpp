// Versioned schema migrations of the PostgreSQL metadata database.
//
// Versions 1 and 2 are the SQLite schema as of its migration 7 (migrations.cpp), translated: BIGINT
// times and sizes, identity keys, PL/pgSQL triggers for the usage counts and the quotas, text
// in the "C" collation so that every list is in byte-wise order whatever the database's locale.
// Migrations only ever append, as in SQLite.
//
// The version is max(version) of the schema_migrations table. migrate() runs in one
// transaction that first takes a transaction-scoped advisory lock, so several replicas
// starting at once migrate once: the others wait for the lock, then find nothing to do. A
// database at a version above latest_pg_schema_version() was written by a newer Berth and is
// refused with kInternal, without touching it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/error.hpp"
#include "meta/pg_connection.hpp"

namespace berth::meta::pg {

struct PgMigration {
  int version;
  std::string_view description;
  std::string_view sql;
};

// Every migration, in order; versions are 1, 2, 3, ...
[[nodiscard]] std::span<const PgMigration> pg_migrations();

// The version this build creates and understands.
[[nodiscard]] int latest_pg_schema_version();

// The database's current schema version (0 for a database without Berth's tables).
[[nodiscard]] Result<int> pg_schema_version(Connection& connection);

// Brings the database (the first schema of the connection's search_path) up to
// latest_pg_schema_version(); see the top of this file.
[[nodiscard]] Result<void> pg_migrate(Connection& connection, std::int64_t now_unix_ms);

}  // namespace berth::meta::pg
