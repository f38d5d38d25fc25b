// The MetadataStore and the AccountStore on SQLite: one database file in WAL mode, versioned
// migrations applied at open, one writer connection and a few reader connections, shared by
// both stores.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "meta/account_store.hpp"
#include "meta/check_store.hpp"
#include "meta/gc_store.hpp"
#include "meta/metadata_store.hpp"
#include "meta/policy_store.hpp"
#include "meta/proxy_store.hpp"
#include "meta/stores.hpp"

namespace berth::meta {

struct SqliteOptions {
  // A file path, or ":memory:" for a private in-memory database (tests).
  std::string path;
  // Reader connections besides the writer (ignored for ":memory:", which has one).
  std::size_t readers = 4;
  // How long a statement waits for a lock held by another process (berth gc, backup).
  std::chrono::milliseconds busy_timeout{std::chrono::seconds(10)};
};

// Opens (creating if needed) and migrates the database. kInternal with SQLite's message if it
// cannot, or if the database was written by a newer Berth (a schema version this build does
// not know).
[[nodiscard]] Result<std::unique_ptr<MetadataStore>> open_sqlite_metadata_store(
    const SqliteOptions& options);

// Every store over one database, sharing its connections: what the server opens.
using SqliteStores = Stores;

// As open_sqlite_metadata_store, with the same errors.
[[nodiscard]] Result<SqliteStores> open_sqlite_stores(const SqliteOptions& options);

}  // namespace berth::meta
