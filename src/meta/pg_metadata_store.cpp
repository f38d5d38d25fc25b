// Opening the PostgreSQL stores (metadata.driver: postgres): the stores of
// sql_metadata_store.hpp over pg::Database, for several berth processes (replicas, berth gc)
// sharing one database.
#include "meta/pg_account_store.hpp"
#include "meta/pg_browse_store.hpp"
#include "meta/pg_check_store.hpp"
#include "meta/pg_database.hpp"
#include "meta/pg_gc_store.hpp"
#include "meta/pg_policy_store.hpp"
#include "meta/pg_proxy_store.hpp"
#include "meta/pg_stores.hpp"
#include "meta/sql_metadata_store.hpp"

namespace berth::meta {

Result<std::unique_ptr<MetadataStore>> open_pg_metadata_store(const PostgresOptions& options) {
  return sql::metadata::open_metadata_store<pg::Db>(options);
}

Result<Stores> open_pg_stores(const PostgresOptions& options) {
  return sql::metadata::open_stores<pg::Db>(options);
}

}  // namespace berth::meta
