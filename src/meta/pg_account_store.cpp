// The AccountStore on PostgreSQL: the store of sql_account_store.hpp over pg::Database.
#include "meta/pg_account_store.hpp"

#include <utility>

#include "meta/sql_account_store.hpp"

namespace berth::meta::pg {

std::shared_ptr<AccountStore> make_account_store(std::shared_ptr<Database> database) {
  return std::make_shared<sql::account::BasicAccountStore<Db>>(std::move(database));
}

}  // namespace berth::meta::pg
