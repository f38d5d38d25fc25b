// The GcStore on PostgreSQL: the store of sql_gc_store.hpp over pg::Database.
#include "meta/pg_gc_store.hpp"

#include <utility>

#include "meta/sql_gc_store.hpp"

namespace berth::meta::pg {

std::shared_ptr<GcStore> make_gc_store(std::shared_ptr<Database> database) {
  return std::make_shared<sql::gc::BasicGcStore<Db>>(std::move(database));
}

}  // namespace berth::meta::pg
