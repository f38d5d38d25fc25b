// The PolicyStore on PostgreSQL, made over the pool the MetadataStore uses (pg_database.hpp).
// Internal to meta/: callers outside use open_pg_stores().
#pragma once

#include <memory>

#include "meta/pg_database.hpp"
#include "meta/policy_store.hpp"

namespace berth::meta::pg {

[[nodiscard]] std::shared_ptr<PolicyStore> make_policy_store(std::shared_ptr<Database> database);

}  // namespace berth::meta::pg
