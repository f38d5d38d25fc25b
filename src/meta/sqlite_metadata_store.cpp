// Opening the SQLite stores (the embedded default: data/berth.db): the stores of
// sql_metadata_store.hpp over sqlite::Database.
#include "meta/sqlite_metadata_store.hpp"

#include "meta/sql_metadata_store.hpp"
#include "meta/sqlite_account_store.hpp"
#include "meta/sqlite_browse_store.hpp"
#include "meta/sqlite_check_store.hpp"
#include "meta/sqlite_database.hpp"
#include "meta/sqlite_gc_store.hpp"
#include "meta/sqlite_policy_store.hpp"
#include "meta/sqlite_proxy_store.hpp"

namespace berth::meta {

Result<std::unique_ptr<MetadataStore>> open_sqlite_metadata_store(const SqliteOptions& options) {
  return sql::metadata::open_metadata_store<sqlite::Db>(options);
}

Result<SqliteStores> open_sqlite_stores(const SqliteOptions& options) {
  return sql::metadata::open_stores<sqlite::Db>(options);
}

}  // namespace berth::meta
