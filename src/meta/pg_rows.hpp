// The row readers of sql_rows.hpp for the PostgreSQL stores not yet written over both databases
// (sql_text.hpp): "postgres: corrupt metadata" errors. Internal to meta/; goes away with the
// last of them.
#pragma once

#include <string>
#include <string_view>

#include "meta/pg_database.hpp"
#include "meta/sql_rows.hpp"

namespace berth::meta::pg {

using sql::sql_limit;

inline core::Error corrupt(std::string_view what, const std::string& value) {
  return sql::corrupt<Db>(what, value);
}
inline Result<core::Digest> digest_of(const std::string& text) { return sql::digest_of<Db>(text); }
inline Result<core::RepositoryName> repository_of(const std::string& text) {
  return sql::repository_of<Db>(text);
}
inline Result<core::Digest> column_digest(const Rows& row, int column) {
  return sql::column_digest<Db>(row, column);
}
inline Result<core::RepositoryName> column_repository(const Rows& row, int column) {
  return sql::column_repository<Db>(row, column);
}

}  // namespace berth::meta::pg
