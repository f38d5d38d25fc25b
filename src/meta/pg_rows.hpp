// What the PostgreSQL stores read out of rows, in one place: values that should have been
// valid when written (digests, names) are checked again, and a bad one is kInternal "corrupt
// metadata" rather than a crash. Internal to meta/.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/names.hpp"
#include "meta/pg_connection.hpp"

namespace berth::meta::pg {

inline core::Error corrupt(std::string_view what, const std::string& value) {
  return core::Error{core::ErrorCode::kInternal,
                     "postgres: corrupt metadata: " + std::string(what) + " '" + value + "'",
                     {}};
}

// BIGINT is signed; LIMIT takes any size_t the caller may pass.
inline std::int64_t sql_limit(std::size_t limit) {
  return static_cast<std::int64_t>(
      std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max()));
}

inline Result<core::Digest> digest_of(const std::string& text) {
  auto digest = core::Digest::parse(text);
  if (!digest) {
    return std::unexpected(corrupt("digest", text));
  }
  return std::move(*digest);
}

inline Result<core::RepositoryName> repository_of(const std::string& text) {
  auto name = core::RepositoryName::parse(text);
  if (!name) {
    return std::unexpected(corrupt("repository name", text));
  }
  return std::move(*name);
}

inline Result<core::Digest> column_digest(const Rows& row, int column) {
  return digest_of(row.text(column));
}

inline Result<core::RepositoryName> column_repository(const Rows& row, int column) {
  return repository_of(row.text(column));
}

}  // namespace berth::meta::pg
