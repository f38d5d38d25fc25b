// The AccountStore on SQLite: the store of sql_account_store.hpp over sqlite::Database.
#include "meta/sqlite_account_store.hpp"

#include <utility>

#include "meta/sql_account_store.hpp"

namespace berth::meta::sqlite {

std::shared_ptr<AccountStore> make_account_store(std::shared_ptr<Database> database) {
  return std::make_shared<sql::account::BasicAccountStore<Db>>(std::move(database));
}

}  // namespace berth::meta::sqlite
