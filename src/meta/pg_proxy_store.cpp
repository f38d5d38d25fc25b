// The ProxyStore on PostgreSQL: the store of sql_proxy_store.hpp over pg::Database.
#include "meta/pg_proxy_store.hpp"

#include <utility>

#include "meta/sql_proxy_store.hpp"

namespace berth::meta::pg {

std::shared_ptr<ProxyStore> make_proxy_store(std::shared_ptr<Database> database) {
  return std::make_shared<sql::proxy::BasicProxyStore<Db>>(std::move(database));
}

}  // namespace berth::meta::pg
