// The GcStore on SQLite, made over the database the MetadataStore uses (see
// sqlite_database.hpp). Internal to meta/: callers outside use open_sqlite_stores().
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "meta/gc_store.hpp"
#include "meta/sqlite_database.hpp"

namespace berth::meta::sqlite {

[[nodiscard]] std::shared_ptr<GcStore> make_gc_store(std::shared_ptr<Database> database);

// The SQL of every GcStore statement, so that the SQLite tests can check their query plans.
struct GcStatement {
  std::string_view name;
  std::string_view sql;
  // The tables (or aliases, or CTEs) it may scan, space-separated; "*" for any. A listing
  // scans what it lists; everything it looks up per row, and everything a per-item statement
  // looks up, must be an index search.
  std::string_view scans;
};
[[nodiscard]] std::span<const GcStatement> gc_statements();

}  // namespace berth::meta::sqlite
