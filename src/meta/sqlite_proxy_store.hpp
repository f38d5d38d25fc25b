// The ProxyStore on SQLite, made over the database the MetadataStore uses (see
// sqlite_database.hpp). Internal to meta/: callers outside use open_sqlite_stores().
#pragma once

#include <memory>

#include "meta/proxy_store.hpp"
#include "meta/sqlite_database.hpp"

namespace berth::meta::sqlite {

[[nodiscard]] std::shared_ptr<ProxyStore> make_proxy_store(std::shared_ptr<Database> database);

}  // namespace berth::meta::sqlite
