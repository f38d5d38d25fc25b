// The metadata stores on PostgreSQL (metadata.driver: postgres), for several berth processes
// (replicas, berth gc) sharing one database. See pg_database.hpp for the pool and how
// transactions keep SQLite's guarantees across processes, pg_migrations.hpp for the schema.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "meta/metadata_store.hpp"
#include "meta/stores.hpp"

namespace berth::meta {

struct PostgresOptions {
  // A libpq connection URL (postgresql://user:password@host:port/database?...) or key=value
  // string. It may carry a password: never log it.
  std::string url;
  // The bound of the connection pool.
  std::size_t max_connections = 8;
};

// Connects and migrates the database. kUnavailable if the server cannot be reached; kInternal
// with PostgreSQL's message if the schema cannot be created, or if the database was written by
// a newer Berth (a schema version this build does not know).
[[nodiscard]] Result<std::unique_ptr<MetadataStore>> open_pg_metadata_store(
    const PostgresOptions& options);

// Every store over one pool, as open_sqlite_stores does for SQLite; the same errors.
[[nodiscard]] Result<Stores> open_pg_stores(const PostgresOptions& options);

}  // namespace berth::meta
