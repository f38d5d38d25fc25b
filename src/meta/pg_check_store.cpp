// The CheckStore on PostgreSQL: the store of sql_check_store.hpp over pg::Database.
#include "meta/pg_check_store.hpp"

#include <utility>

#include "meta/sql_check_store.hpp"

namespace berth::meta::pg {

std::shared_ptr<CheckStore> make_check_store(std::shared_ptr<Database> database) {
  return std::make_shared<sql::check::BasicCheckStore<Db>>(std::move(database));
}

}  // namespace berth::meta::pg
