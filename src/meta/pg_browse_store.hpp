// The BrowseStore on PostgreSQL, made over the pool the MetadataStore uses (pg_database.hpp).
// Internal to meta/: callers outside use open_pg_stores().
#pragma once

#include <memory>

#include "meta/browse_store.hpp"
#include "meta/pg_database.hpp"

namespace berth::meta::pg {

[[nodiscard]] std::shared_ptr<BrowseStore> make_browse_store(std::shared_ptr<Database> database);

}  // namespace berth::meta::pg
