// The BrowseStore on SQLite: the store of sql_browse_store.hpp over sqlite::Database.
#include "meta/sqlite_browse_store.hpp"

#include <utility>

#include "meta/sql_browse_store.hpp"

namespace berth::meta::sqlite {

std::shared_ptr<BrowseStore> make_browse_store(std::shared_ptr<Database> database) {
  return std::make_shared<sql::browse::BasicBrowseStore<Db>>(std::move(database));
}

}  // namespace berth::meta::sqlite
