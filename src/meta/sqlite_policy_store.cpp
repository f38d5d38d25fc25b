// The PolicyStore on SQLite: the store of sql_policy_store.hpp over sqlite::Database.
#include "meta/sqlite_policy_store.hpp"

#include <utility>

#include "meta/sql_policy_store.hpp"

namespace berth::meta::sqlite {

std::shared_ptr<PolicyStore> make_policy_store(std::shared_ptr<Database> database) {
  return std::make_shared<sql::policy::BasicPolicyStore<Db>>(std::move(database));
}

}  // namespace berth::meta::sqlite
