// The PolicyStore on PostgreSQL: the store of sql_policy_store.hpp over pg::Database.
#include "meta/pg_policy_store.hpp"

#include <utility>

#include "meta/sql_policy_store.hpp"

namespace berth::meta::pg {

std::shared_ptr<PolicyStore> make_policy_store(std::shared_ptr<Database> database) {
  return std::make_shared<sql::policy::BasicPolicyStore<Db>>(std::move(database));
}

}  // namespace berth::meta::pg
