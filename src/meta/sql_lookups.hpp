// Lookups several stores over either database make (sql_text.hpp). Internal to meta/.
#pragma once

#include <cstdint>
#include <optional>

#include "core/digest.hpp"
#include "core/names.hpp"
#include "meta/sql_rows.hpp"
#include "meta/sql_text.hpp"

namespace berth::meta::sql {

inline constexpr Text kManifestIds = R"sql(
SELECT m.id, r.id FROM repositories r JOIN manifests m ON m.repository_id = r.id
WHERE r.name = ?1 AND m.digest = ?2)sql";

// The row ids of a manifest and of its repository.
struct ManifestIds {
  std::int64_t manifest;
  std::int64_t repository;
};

// The ids of the manifest `digest` of `repo`, if it exists.
template <class Db>
Result<std::optional<ManifestIds>> manifest_ids(typename Db::Connection& connection,
                                                const core::RepositoryName& repo,
                                                const core::Digest& digest) {
  auto find = connection.query(Db::sql(kManifestIds), "find manifest", repo.str(), digest.str());
  if (!find) {
    return forward(find);
  }
  return first_row<ManifestIds>(*find, [](const auto& row) -> Result<ManifestIds> {
    return ManifestIds{row.int64(0), row.int64(1)};
  });
}

}  // namespace berth::meta::sql
