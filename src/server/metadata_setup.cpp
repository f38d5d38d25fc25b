// Opening the configured metadata database (metadata_setup.hpp).
#include "server/metadata_setup.hpp"

#include "core/url_credentials.hpp"
#include "meta/pg_stores.hpp"
#include "meta/sqlite_metadata_store.hpp"

namespace berth::server {

std::string metadata_description(const config::Config& config) {
  if (config.metadata.driver != "postgres") {
    return "sqlite database " + config.sqlite_path().string();
  }
  const std::string& url = config.metadata.postgres.url;
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    // Query parameters may carry a password too (?password=...): they are left out.
    const std::string shown = core::without_url_credentials(url);
    return "postgres database " + shown.substr(0, shown.find('?'));
  }
  return "postgres database (key=value connection string)";
}

core::Result<meta::Stores> open_metadata(const config::Config& config) {
  if (config.metadata.driver == "postgres") {
    return meta::open_pg_stores(
        meta::PostgresOptions{.url = config.metadata.postgres.url,
                              .max_connections = config.metadata.postgres.max_connections});
  }
  return meta::open_sqlite_stores(meta::SqliteOptions{config.sqlite_path().string()});
}

}  // namespace berth::server
