// The BrowseStore on SQLite, made over the database the MetadataStore uses (see
// sqlite_database.hpp). Internal to meta/: callers outside use open_sqlite_stores().
#pragma once

#include <memory>

#include "meta/browse_store.hpp"
#include "meta/sqlite_database.hpp"

namespace berth::meta::sqlite {

[[nodiscard]] std::shared_ptr<BrowseStore> make_browse_store(std::shared_ptr<Database> database);

}  // namespace berth::meta::sqlite
