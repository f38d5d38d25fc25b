// The CheckStore over either database (sql_text.hpp), on the tables of schema
// migration 1.
//
// Every read is one SELECT, so a page of manifests comes with its tags and
// relation rows from one snapshot: they are gathered with correlated
// group_concat (string_agg) subqueries rather than a query per manifest. Tags
// and digests contain no ',' (their grammars forbid it), so ',' separates them
// safely. Every repair is one write transaction that looks again at the rows it
// changes before it changes them (PostgreSQL's write lock, pg_database.hpp,
// gives it the single writer SQLite's BEGIN IMMEDIATE does). Internal to meta/:
// made by sqlite::make_check_store and pg::make_check_store.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "meta/check_store.hpp"
#include "meta/sql_lookups.hpp"
#include "meta/sql_rows.hpp"
#include "meta/sql_text.hpp"

namespace berth::meta::sql::check {

// ---- SQL

// clang-format off
#define BERTH_BLOB_COLUMNS                           \
  "b.digest, b.size, b.created_at, (SELECT count(*)" \
  " FROM repository_blobs rb"                        \
  " WHERE rb.digest = b.digest)"
// clang-format on

inline constexpr Text kListBlobs =
    "SELECT " BERTH_BLOB_COLUMNS " FROM blobs b WHERE b.digest > ?1 ORDER BY b.digest LIMIT ?2";

inline constexpr Text kFindBlob = "SELECT " BERTH_BLOB_COLUMNS " FROM blobs b WHERE b.digest = ?1";

#undef BERTH_BLOB_COLUMNS

// The tags and relation rows of a manifest m, each joined with ','.
// clang-format off
#define BERTH_MANIFEST_COLUMNS(d)                          \
  "m.id, r.name, m.digest, m.media_type, m.size, (SELECT " \
  BERTH_SQL_IN(BERTH_SQL_CONCAT, d)                        \
  "(t.name, ',')"                                          \
  " FROM tags t"                                           \
  " WHERE t.manifest_id = m.id), (SELECT "                 \
  BERTH_SQL_IN(BERTH_SQL_CONCAT, d)                        \
  "(mb.digest, ',')"                                       \
  " FROM manifest_blobs mb"                                \
  " WHERE mb.manifest_id = m.id), (SELECT "                \
  BERTH_SQL_IN(BERTH_SQL_CONCAT, d)                        \
  "(mc.child_digest, ',')"                                 \
  " FROM manifest_children mc"                             \
  " WHERE mc.manifest_id = m.id)"
// clang-format on

// clang-format off
#define BERTH_LIST_MANIFESTS(d)                    \
  "SELECT "                                        \
  BERTH_MANIFEST_COLUMNS(d)                        \
  " FROM manifests m"                              \
  " JOIN repositories r ON r.id = m.repository_id" \
  " WHERE m.id > ?1"                               \
  " ORDER BY m.id"                                 \
  " LIMIT ?2"
// clang-format on

inline constexpr Text kListManifests{BERTH_SQL_BOTH(BERTH_LIST_MANIFESTS)};

// clang-format off
#define BERTH_FIND_MANIFEST(d)                  \
  "SELECT "                                     \
  BERTH_MANIFEST_COLUMNS(d)                     \
  " FROM repositories r"                        \
  " JOIN manifests m ON m.repository_id = r.id" \
  " WHERE r.name = ?1"                          \
  " AND m.digest = ?2"
// clang-format on

inline constexpr Text kFindManifest{BERTH_SQL_BOTH(BERTH_FIND_MANIFEST)};

#undef BERTH_FIND_MANIFEST
#undef BERTH_LIST_MANIFESTS
#undef BERTH_MANIFEST_COLUMNS

// The manifests that are the digest or name it, then the indexes of the same
// repository that have one of those as a child, and so on. UNION (not UNION
// ALL) stops at rows already found, so even a cycle of children (which
// put_manifest cannot make, but a damaged database might hold) ends.
// clang-format off
#define BERTH_MANIFESTS_NEEDING(d)                           \
  "WITH RECURSIVE needing (id, repository_id, digest) AS ("  \
  " SELECT id, repository_id, digest"                        \
  " FROM manifests"                                          \
  " WHERE digest = ?1"                                       \
  " OR id IN (SELECT manifest_id"                            \
  " FROM manifest_blobs"                                     \
  " WHERE digest = ?1)"                                      \
  " UNION"                                                   \
  " SELECT p.id, p.repository_id, p.digest"                  \
  " FROM needing n"                                          \
  " JOIN manifest_children mc ON mc.child_digest = n.digest" \
  " JOIN manifests p ON p.id = mc.manifest_id"               \
  " AND p.repository_id = n.repository_id)"                  \
  " SELECT r.name, n.digest, (SELECT "                       \
  BERTH_SQL_IN(BERTH_SQL_CONCAT, d)                          \
  "(t.name, ',')"                                            \
  " FROM tags t"                                             \
  " WHERE t.manifest_id = n.id)"                             \
  " FROM needing n"                                          \
  " JOIN repositories r ON r.id = n.repository_id"           \
  " ORDER BY r.name, n.digest"
// clang-format on

inline constexpr Text kManifestsNeeding{BERTH_SQL_BOTH(BERTH_MANIFESTS_NEEDING)};

#undef BERTH_MANIFESTS_NEEDING

inline constexpr Text kCounts = R"sql(
SELECT (SELECT count(*) FROM repositories), (SELECT count(*) FROM manifests),
       (SELECT count(*) FROM tags), (SELECT count(*) FROM blobs),
       (SELECT coalesce(sum(size), 0) FROM blobs))sql";

inline constexpr Text kRelationBlobs = "SELECT digest FROM manifest_blobs WHERE manifest_id = ?1";

inline constexpr Text kRelationChildren =
    "SELECT child_digest FROM manifest_children WHERE manifest_id = ?1";

inline constexpr Text kDeleteRelationBlob =
    "DELETE FROM manifest_blobs WHERE manifest_id = ?1 AND digest = ?2";

inline constexpr Text kDeleteRelationChild =
    "DELETE FROM manifest_children WHERE manifest_id = ?1 AND child_digest = "
    "?2";

inline constexpr Text kInsertRelationBlob =
    "INSERT INTO manifest_blobs (manifest_id, digest) VALUES (?1, ?2) ON "
    "CONFLICT DO NOTHING";

inline constexpr Text kInsertRelationChild =
    "INSERT INTO manifest_children (manifest_id, child_digest) VALUES (?1, ?2) "
    "ON CONFLICT DO NOTHING";

inline constexpr Text kBlobRowExists = "SELECT 1 FROM blobs WHERE digest = ?1";

inline constexpr Text kInsertLink =
    "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES "
    "(?1, ?2, ?3) "
    "ON CONFLICT (repository_id, digest) DO NOTHING";

inline constexpr Text kLinkingRepositories = R"sql(
SELECT r.name FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
WHERE rb.digest = ?1 ORDER BY r.name)sql";

inline constexpr Text kUnlinkEverywhere = "DELETE FROM repository_blobs WHERE digest = ?1";

inline constexpr Text kDeleteUnreferencedBlob = R"sql(
DELETE FROM blobs WHERE digest = ?1
  AND NOT EXISTS (SELECT 1 FROM repository_blobs WHERE digest = ?1)
  AND NOT EXISTS (SELECT 1 FROM manifests WHERE digest = ?1)
  AND NOT EXISTS (SELECT 1 FROM manifest_blobs WHERE digest = ?1))sql";

// ---- reading rows

// The parts of a group_concat(..., ',') column, sorted; empty for NULL.
inline std::vector<std::string> split_sorted(const std::string& joined) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start < joined.size()) {
    std::size_t comma = joined.find(',', start);
    if (comma == std::string::npos) {
      comma = joined.size();
    }
    parts.push_back(joined.substr(start, comma - start));
    start = comma + 1;
  }
  std::sort(parts.begin(), parts.end());
  return parts;
}

template <class Db>
Result<std::vector<core::Digest>> digest_list(const std::string& joined) {
  std::vector<core::Digest> digests;
  for (const std::string& text : split_sorted(joined)) {
    auto digest = digest_of<Db>(text);
    if (!digest) {
      return forward(digest);
    }
    digests.push_back(std::move(*digest));
  }
  return digests;
}

template <class Db>
Result<StoredBlob> read_blob(const typename Db::Statement& row) {
  auto digest = digest_of<Db>(row.text(0));
  if (!digest) {
    return forward(digest);
  }
  return StoredBlob{.digest = std::move(*digest),
                    .size = static_cast<std::uint64_t>(row.int64(1)),
                    .created = core::from_unix_ms(row.int64(2)),
                    .links = static_cast<std::uint64_t>(row.int64(3))};
}

template <class Db>
Result<StoredManifest> read_manifest(const typename Db::Statement& row) {
  auto repository = repository_of<Db>(row.text(1));
  if (!repository) {
    return forward(repository);
  }
  auto digest = digest_of<Db>(row.text(2));
  if (!digest) {
    return forward(digest);
  }
  auto blobs = digest_list<Db>(row.text(6));
  if (!blobs) {
    return forward(blobs);
  }
  auto children = digest_list<Db>(row.text(7));
  if (!children) {
    return forward(children);
  }
  return StoredManifest{.cursor = row.int64(0),
                        .repository = std::move(*repository),
                        .digest = std::move(*digest),
                        .media_type = row.text(3),
                        .size = static_cast<std::uint64_t>(row.int64(4)),
                        .tags = split_sorted(row.text(5)),
                        .blobs = std::move(*blobs),
                        .children = std::move(*children)};
}

template <class Connection>
Result<std::set<std::string>> text_set(Connection& connection, std::string_view sql,
                                       std::string_view purpose, std::int64_t id) {
  auto statement = connection.query(sql, purpose, id);
  if (!statement) {
    return forward(statement);
  }
  std::set<std::string> values;
  auto listed = for_each_row(*statement, [&](const auto& row) -> Result<void> {
    values.insert(row.text(0));
    return {};
  });
  if (!listed) {
    return forward(listed);
  }
  return values;
}

inline std::set<std::string> digest_set(const std::vector<core::Digest>& digests) {
  std::set<std::string> texts;
  for (const auto& digest : digests) {
    texts.insert(digest.str());
  }
  return texts;
}

template <class Db>
class BasicCheckStore final : public CheckStore {
 public:
  using Connection = typename Db::Connection;
  using Statement = typename Db::Statement;

  explicit BasicCheckStore(std::shared_ptr<typename Db::Database> database)
      : database_(std::move(database)) {}

  Result<std::vector<StoredBlob>> list_blobs(const std::string& after, std::size_t limit) override {
    return database_->read([&](Connection& connection) -> Result<std::vector<StoredBlob>> {
      auto statement = connection.query(Db::sql(kListBlobs), "list blobs", after, sql_limit(limit));
      if (!statement) {
        return forward(statement);
      }
      return all_rows<StoredBlob>(*statement, read_blob<Db>);
    });
  }

  Result<std::optional<StoredBlob>> find_blob(const core::Digest& digest) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<StoredBlob>> {
      auto statement = connection.query(Db::sql(kFindBlob), "find blob", digest.str());
      if (!statement) {
        return forward(statement);
      }
      return first_row<StoredBlob>(*statement, read_blob<Db>);
    });
  }

  Result<std::vector<StoredManifest>> list_manifests(std::int64_t cursor,
                                                     std::size_t limit) override {
    return database_->read([&](Connection& connection) -> Result<std::vector<StoredManifest>> {
      auto statement =
          connection.query(Db::sql(kListManifests), "list manifests", cursor, sql_limit(limit));
      if (!statement) {
        return forward(statement);
      }
      return all_rows<StoredManifest>(*statement, read_manifest<Db>);
    });
  }

  Result<std::optional<StoredManifest>> find_manifest(const core::RepositoryName& repo,
                                                      const core::Digest& digest) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<StoredManifest>> {
      auto statement =
          connection.query(Db::sql(kFindManifest), "find manifest", repo.str(), digest.str());
      if (!statement) {
        return forward(statement);
      }
      return first_row<StoredManifest>(*statement, read_manifest<Db>);
    });
  }

  Result<std::vector<ManifestUse>> manifests_needing(const core::Digest& digest) override {
    return database_->read([&](Connection& connection) -> Result<std::vector<ManifestUse>> {
      auto statement = connection.query(Db::sql(kManifestsNeeding), "find manifests needing a blob",
                                        digest.str());
      if (!statement) {
        return forward(statement);
      }
      return all_rows<ManifestUse>(*statement, [](const Statement& row) -> Result<ManifestUse> {
        auto repository = repository_of<Db>(row.text(0));
        if (!repository) {
          return forward(repository);
        }
        auto manifest = digest_of<Db>(row.text(1));
        if (!manifest) {
          return forward(manifest);
        }
        return ManifestUse{std::move(*repository), std::move(*manifest), split_sorted(row.text(2))};
      });
    });
  }

  Result<StoreCounts> counts() override {
    return database_->read([&](Connection& connection) -> Result<StoreCounts> {
      auto statement = connection.query(Db::sql(kCounts), "count rows");
      if (!statement) {
        return forward(statement);
      }
      auto row = statement->step();
      if (!row) {
        return forward(row);
      }
      auto count = [&](int column) { return static_cast<std::uint64_t>(statement->int64(column)); };
      return StoreCounts{.repositories = count(0),
                         .manifests = count(1),
                         .tags = count(2),
                         .blobs = count(3),
                         .blob_bytes = count(4)};
    });
  }

  Result<RebuildOutcome> rebuild_relations(const core::RepositoryName& repo,
                                           const core::Digest& digest,
                                           const std::vector<core::Digest>& blobs,
                                           const std::vector<core::Digest>& children,
                                           const std::vector<core::Digest>& unlinkable,
                                           core::TimePoint now) override {
    return database_->write([&](Connection& connection) -> Result<RebuildOutcome> {
      RebuildOutcome outcome;
      auto ids = manifest_ids<Db>(connection, repo, digest);
      if (!ids) {
        return forward(ids);
      }
      if (!*ids) {
        return outcome;
      }
      outcome.found = true;
      const Relations relations{.manifest = (*ids)->manifest,
                                .repository = (*ids)->repository,
                                .no_link = digest_set(unlinkable),
                                .now = core::to_unix_ms(now)};
      BERTH_TRY(rebuild_blobs(connection, relations, digest_set(blobs), outcome));
      BERTH_TRY(rebuild_children(connection, relations, digest_set(children), outcome));

      // The manifest's own bytes are a blob of its repository (put_manifest
      // links them too).
      if (!relations.no_link.contains(digest.str())) {
        auto linked = run_changed(connection, Db::sql(kInsertLink), "link manifest blob",
                                  relations.repository, digest.str(), relations.now);
        if (!linked) {
          return forward(linked);
        }
        outcome.changes += *linked ? 1 : 0;
      }
      return outcome;
    });
  }

  Result<std::vector<core::RepositoryName>> unlink_everywhere(const core::Digest& digest) override {
    return database_->write(
        [&](Connection& connection) -> Result<std::vector<core::RepositoryName>> {
          std::vector<core::RepositoryName> repositories;
          {
            auto statement = connection.query(Db::sql(kLinkingRepositories),
                                              "list repositories linking a blob", digest.str());
            if (!statement) {
              return forward(statement);
            }
            auto names = all_rows<core::RepositoryName>(
                *statement, [](const Statement& row) { return column_repository<Db>(row, 0); });
            if (!names) {
              return forward(names);
            }
            repositories = std::move(*names);
          }
          if (auto deleted = run(connection, Db::sql(kUnlinkEverywhere), "unlink blob everywhere",
                                 digest.str());
              !deleted) {
            return forward(deleted);
          }
          return repositories;
        });
  }

  Result<bool> delete_unreferenced_blob_row(const core::Digest& digest) override {
    return database_->write([&](Connection& connection) {
      return run_changed(connection, Db::sql(kDeleteUnreferencedBlob),
                         "delete unreferenced blob row", digest.str());
    });
  }

 private:
  // The manifest whose relation rows rebuild_relations rewrites.
  struct Relations {
    std::int64_t manifest;
    std::int64_t repository;
    // Blobs not to link to the repository.
    std::set<std::string> no_link;
    std::int64_t now;
  };

  // Makes the manifest's blob rows `want`, linking each to the repository
  // unless it is in no_link; a wanted blob without a blob row is reported, not
  // recorded.
  static Result<void> rebuild_blobs(Connection& connection, const Relations& relations,
                                    const std::set<std::string>& want, RebuildOutcome& outcome) {
    auto have =
        text_set(connection, Db::sql(kRelationBlobs), "read manifest blobs", relations.manifest);
    if (!have) {
      return forward(have);
    }
    for (const auto& blob : *have) {
      if (!want.contains(blob)) {
        auto deleted = run_changed(connection, Db::sql(kDeleteRelationBlob), "delete manifest blob",
                                   relations.manifest, blob);
        if (!deleted) {
          return forward(deleted);
        }
        outcome.changes += *deleted ? 1 : 0;
      }
    }
    for (const auto& blob : want) {
      auto known = has_row(connection, Db::sql(kBlobRowExists), "look up blob", blob);
      if (!known) {
        return forward(known);
      }
      if (!*known) {
        auto parsed = digest_of<Db>(blob);
        if (!parsed) {
          return forward(parsed);
        }
        outcome.unknown_blobs.push_back(std::move(*parsed));
        continue;
      }
      auto inserted = run_changed(connection, Db::sql(kInsertRelationBlob), "record manifest blob",
                                  relations.manifest, blob);
      if (!inserted) {
        return forward(inserted);
      }
      outcome.changes += *inserted ? 1 : 0;
      if (!relations.no_link.contains(blob)) {
        auto linked = run_changed(connection, Db::sql(kInsertLink), "link blob",
                                  relations.repository, blob, relations.now);
        if (!linked) {
          return forward(linked);
        }
        outcome.changes += *linked ? 1 : 0;
      }
    }
    return {};
  }

  // Makes the manifest's child rows `want`.
  static Result<void> rebuild_children(Connection& connection, const Relations& relations,
                                       const std::set<std::string>& want, RebuildOutcome& outcome) {
    auto have = text_set(connection, Db::sql(kRelationChildren), "read manifest children",
                         relations.manifest);
    if (!have) {
      return forward(have);
    }
    for (const auto& child : *have) {
      if (!want.contains(child)) {
        auto deleted = run_changed(connection, Db::sql(kDeleteRelationChild),
                                   "delete manifest child", relations.manifest, child);
        if (!deleted) {
          return forward(deleted);
        }
        outcome.changes += *deleted ? 1 : 0;
      }
    }
    for (const auto& child : want) {
      auto inserted = run_changed(connection, Db::sql(kInsertRelationChild),
                                  "record manifest child", relations.manifest, child);
      if (!inserted) {
        return forward(inserted);
      }
      outcome.changes += *inserted ? 1 : 0;
    }
    return {};
  }

  std::shared_ptr<typename Db::Database> database_;
};

}  // namespace berth::meta::sql::check
