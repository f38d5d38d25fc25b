// The CheckStore on PostgreSQL: the statements of sqlite_check_store.cpp (which explains
// them) in PostgreSQL's dialect, on the pool of pg_database.hpp, whose write lock gives
// its check-then-write transactions the single writer they rely on, across replicas.
#include "meta/pg_check_store.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "meta/pg_rows.hpp"

namespace berth::meta::pg {
namespace {

using core::ErrorCode;
using Statement = Rows;

// ---- SQL. Every statement here is prepared once per connection and cached.

#define BERTH_BLOB_COLUMNS                                                                       \
  "b.digest, b.size, b.created_at, (SELECT count(*) FROM repository_blobs rb WHERE rb.digest = " \
  "b.digest)"

constexpr std::string_view kListBlobs =
    "SELECT " BERTH_BLOB_COLUMNS " FROM blobs b WHERE b.digest > $1 ORDER BY b.digest LIMIT $2";

constexpr std::string_view kFindBlob =
    "SELECT " BERTH_BLOB_COLUMNS " FROM blobs b WHERE b.digest = $1";

#undef BERTH_BLOB_COLUMNS

#define BERTH_MANIFEST_COLUMNS                                                               \
  "m.id, r.name, m.digest, m.media_type, m.size, "                                           \
  "(SELECT string_agg(t.name, ',') FROM tags t WHERE t.manifest_id = m.id), "                \
  "(SELECT string_agg(mb.digest, ',') FROM manifest_blobs mb WHERE mb.manifest_id = m.id), " \
  "(SELECT string_agg(mc.child_digest, ',') FROM manifest_children mc "                      \
  "WHERE mc.manifest_id = m.id)"

constexpr std::string_view kListManifests = "SELECT " BERTH_MANIFEST_COLUMNS R"sql(
FROM manifests m JOIN repositories r ON r.id = m.repository_id
WHERE m.id > $1 ORDER BY m.id LIMIT $2)sql";

constexpr std::string_view kFindManifest = "SELECT " BERTH_MANIFEST_COLUMNS R"sql(
FROM repositories r JOIN manifests m ON m.repository_id = r.id
WHERE r.name = $1 AND m.digest = $2)sql";

#undef BERTH_MANIFEST_COLUMNS

// The manifests that are the digest or name it, then the indexes of the same repository that
// have one of those as a child, and so on. UNION (not UNION ALL) stops at rows already found,
// so even a cycle of children (which put_manifest cannot make, but a damaged database might
// hold) ends.
constexpr std::string_view kManifestsNeeding = R"sql(
WITH RECURSIVE needing (id, repository_id, digest) AS (
  SELECT id, repository_id, digest FROM manifests
  WHERE digest = $1 OR id IN (SELECT manifest_id FROM manifest_blobs WHERE digest = $1)
  UNION
  SELECT p.id, p.repository_id, p.digest FROM needing n
    JOIN manifest_children mc ON mc.child_digest = n.digest
    JOIN manifests p ON p.id = mc.manifest_id AND p.repository_id = n.repository_id
)
SELECT r.name, n.digest, (SELECT string_agg(t.name, ',') FROM tags t WHERE t.manifest_id = n.id)
FROM needing n JOIN repositories r ON r.id = n.repository_id
ORDER BY r.name, n.digest)sql";

constexpr std::string_view kCounts = R"sql(
SELECT (SELECT count(*) FROM repositories), (SELECT count(*) FROM manifests),
       (SELECT count(*) FROM tags), (SELECT count(*) FROM blobs),
       (SELECT coalesce(sum(size), 0) FROM blobs))sql";

constexpr std::string_view kManifestIds = R"sql(
SELECT m.id, r.id FROM repositories r JOIN manifests m ON m.repository_id = r.id
WHERE r.name = $1 AND m.digest = $2)sql";

constexpr std::string_view kRelationBlobs =
    "SELECT digest FROM manifest_blobs WHERE manifest_id = $1";

constexpr std::string_view kRelationChildren =
    "SELECT child_digest FROM manifest_children WHERE manifest_id = $1";

constexpr std::string_view kDeleteRelationBlob =
    "DELETE FROM manifest_blobs WHERE manifest_id = $1 AND digest = $2";

constexpr std::string_view kDeleteRelationChild =
    "DELETE FROM manifest_children WHERE manifest_id = $1 AND child_digest = $2";

constexpr std::string_view kInsertRelationBlob =
    "INSERT INTO manifest_blobs (manifest_id, digest) VALUES ($1, $2) ON CONFLICT DO NOTHING";

constexpr std::string_view kInsertRelationChild =
    "INSERT INTO manifest_children (manifest_id, child_digest) VALUES ($1, $2) "
    "ON CONFLICT DO NOTHING";

constexpr std::string_view kBlobRowExists = "SELECT 1 FROM blobs WHERE digest = $1";

constexpr std::string_view kInsertLink =
    "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, $3) "
    "ON CONFLICT (repository_id, digest) DO NOTHING";

constexpr std::string_view kLinkingRepositories = R"sql(
SELECT r.name FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
WHERE rb.digest = $1 ORDER BY r.name)sql";

constexpr std::string_view kUnlinkEverywhere = "DELETE FROM repository_blobs WHERE digest = $1";

constexpr std::string_view kDeleteUnreferencedBlob = R"sql(
DELETE FROM blobs WHERE digest = $1
  AND NOT EXISTS (SELECT 1 FROM repository_blobs WHERE digest = $1)
  AND NOT EXISTS (SELECT 1 FROM manifests WHERE digest = $1)
  AND NOT EXISTS (SELECT 1 FROM manifest_blobs WHERE digest = $1))sql";

// ---- helpers

Result<core::Digest> parse_digest(const std::string& text) {
  auto digest = core::Digest::parse(text);
  if (!digest) {
    return std::unexpected(corrupt("digest", text));
  }
  return std::move(*digest);
}

Result<core::RepositoryName> parse_repository(const std::string& text) {
  auto name = core::RepositoryName::parse(text);
  if (!name) {
    return std::unexpected(corrupt("repository name", text));
  }
  return std::move(*name);
}

// The parts of a string_agg(..., ',') column, sorted; empty for NULL.
std::vector<std::string> split_sorted(const std::string& joined) {
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

Result<std::vector<core::Digest>> digest_list(const std::string& joined) {
  std::vector<core::Digest> digests;
  for (const std::string& text : split_sorted(joined)) {
    auto digest = parse_digest(text);
    if (!digest) {
      return forward(digest);
    }
    digests.push_back(std::move(*digest));
  }
  return digests;
}

Result<StoredBlob> read_blob(const Statement& row) {
  auto digest = parse_digest(row.text(0));
  if (!digest) {
    return forward(digest);
  }
  return StoredBlob{.digest = std::move(*digest),
                    .size = static_cast<std::uint64_t>(row.int64(1)),
                    .created = core::from_unix_ms(row.int64(2)),
                    .links = static_cast<std::uint64_t>(row.int64(3))};
}

Result<StoredManifest> read_manifest(const Statement& row) {
  auto repository = parse_repository(row.text(1));
  if (!repository) {
    return forward(repository);
  }
  auto digest = parse_digest(row.text(2));
  if (!digest) {
    return forward(digest);
  }
  auto blobs = digest_list(row.text(6));
  if (!blobs) {
    return forward(blobs);
  }
  auto children = digest_list(row.text(7));
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

Result<std::set<std::string>> text_set(Connection& connection, std::string_view sql,
                                       std::string_view purpose, std::int64_t id) {
  auto statement = connection.query(sql, purpose, id);
  if (!statement) {
    return forward(statement);
  }
  std::set<std::string> values;
  auto listed = for_each_row(*statement, [&](const Statement& row) -> Result<void> {
    values.insert(row.text(0));
    return {};
  });
  if (!listed) {
    return forward(listed);
  }
  return values;
}

Result<bool> exists(Connection& connection, std::string_view sql, std::string_view purpose,
                    const std::string& key) {
  auto statement = connection.query(sql, purpose, key);
  if (!statement) {
    return forward(statement);
  }
  return statement->step();
}

// The ids of a manifest and its repository, if the manifest exists.
Result<std::optional<std::pair<std::int64_t, std::int64_t>>> manifest_ids(
    Connection& connection, const core::RepositoryName& repo, const core::Digest& digest) {
  auto find = connection.query(kManifestIds, "find manifest", repo.str(), digest.str());
  if (!find) {
    return forward(find);
  }
  auto row = find->step();
  if (!row) {
    return forward(row);
  }
  if (!*row) {
    return std::nullopt;
  }
  return std::pair(find->int64(0), find->int64(1));
}

class PgCheckStore final : public CheckStore {
 public:
  explicit PgCheckStore(std::shared_ptr<Database> database) : database_(std::move(database)) {}

  Result<std::vector<StoredBlob>> list_blobs(const std::string& after, std::size_t limit) override {
    return database_->read([&](Connection& connection) -> Result<std::vector<StoredBlob>> {
      auto statement = connection.query(kListBlobs, "list blobs", after, sql_limit(limit));
      if (!statement) {
        return forward(statement);
      }
      return all_rows<StoredBlob>(*statement, read_blob);
    });
  }

  Result<std::optional<StoredBlob>> find_blob(const core::Digest& digest) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<StoredBlob>> {
      auto statement = connection.query(kFindBlob, "find blob", digest.str());
      if (!statement) {
        return forward(statement);
      }
      return first_row<StoredBlob>(*statement, read_blob);
    });
  }

  Result<std::vector<StoredManifest>> list_manifests(std::int64_t cursor,
                                                     std::size_t limit) override {
    return database_->read([&](Connection& connection) -> Result<std::vector<StoredManifest>> {
      auto statement = connection.query(kListManifests, "list manifests", cursor, sql_limit(limit));
      if (!statement) {
        return forward(statement);
      }
      return all_rows<StoredManifest>(*statement, read_manifest);
    });
  }

  Result<std::optional<StoredManifest>> find_manifest(const core::RepositoryName& repo,
                                                      const core::Digest& digest) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<StoredManifest>> {
      auto statement = connection.query(kFindManifest, "find manifest", repo.str(), digest.str());
      if (!statement) {
        return forward(statement);
      }
      return first_row<StoredManifest>(*statement, read_manifest);
    });
  }

  Result<std::vector<ManifestUse>> manifests_needing(const core::Digest& digest) override {
    return database_->read([&](Connection& connection) -> Result<std::vector<ManifestUse>> {
      auto statement =
          connection.query(kManifestsNeeding, "find manifests needing a blob", digest.str());
      if (!statement) {
        return forward(statement);
      }
      return all_rows<ManifestUse>(*statement, [](const Statement& row) -> Result<ManifestUse> {
        auto repository = parse_repository(row.text(0));
        if (!repository) {
          return forward(repository);
        }
        auto manifest = parse_digest(row.text(1));
        if (!manifest) {
          return forward(manifest);
        }
        return ManifestUse{std::move(*repository), std::move(*manifest), split_sorted(row.text(2))};
      });
    });
  }

  Result<StoreCounts> counts() override {
    return database_->read([&](Connection& connection) -> Result<StoreCounts> {
      auto statement = connection.query(kCounts, "count rows");
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
      auto ids = manifest_ids(connection, repo, digest);
      if (!ids) {
        return forward(ids);
      }
      if (!*ids) {
        return outcome;
      }
      outcome.found = true;
      const auto [manifest, repository] = **ids;

      std::set<std::string> want_blobs;
      for (const auto& blob : blobs) {
        want_blobs.insert(blob.str());
      }
      std::set<std::string> want_children;
      for (const auto& child : children) {
        want_children.insert(child.str());
      }
      std::set<std::string> no_link;
      for (const auto& blob : unlinkable) {
        no_link.insert(blob.str());
      }

      auto have_blobs = text_set(connection, kRelationBlobs, "read manifest blobs", manifest);
      if (!have_blobs) {
        return forward(have_blobs);
      }
      for (const auto& blob : *have_blobs) {
        if (!want_blobs.contains(blob)) {
          auto deleted =
              run_changed(connection, kDeleteRelationBlob, "delete manifest blob", manifest, blob);
          if (!deleted) {
            return forward(deleted);
          }
          outcome.changes += *deleted ? 1 : 0;
        }
      }
      for (const auto& blob : want_blobs) {
        auto known = exists(connection, kBlobRowExists, "look up blob", blob);
        if (!known) {
          return forward(known);
        }
        if (!*known) {
          auto parsed = parse_digest(blob);
          if (!parsed) {
            return forward(parsed);
          }
          outcome.unknown_blobs.push_back(std::move(*parsed));
          continue;
        }
        auto inserted =
            run_changed(connection, kInsertRelationBlob, "record manifest blob", manifest, blob);
        if (!inserted) {
          return forward(inserted);
        }
        outcome.changes += *inserted ? 1 : 0;
        if (!no_link.contains(blob)) {
          auto linked = run_changed(connection, kInsertLink, "link blob", repository, blob,
                                    core::to_unix_ms(now));
          if (!linked) {
            return forward(linked);
          }
          outcome.changes += *linked ? 1 : 0;
        }
      }

      auto have_children =
          text_set(connection, kRelationChildren, "read manifest children", manifest);
      if (!have_children) {
        return forward(have_children);
      }
      for (const auto& child : *have_children) {
        if (!want_children.contains(child)) {
          auto deleted = run_changed(connection, kDeleteRelationChild, "delete manifest child",
                                     manifest, child);
          if (!deleted) {
            return forward(deleted);
          }
          outcome.changes += *deleted ? 1 : 0;
        }
      }
      for (const auto& child : want_children) {
        auto inserted =
            run_changed(connection, kInsertRelationChild, "record manifest child", manifest, child);
        if (!inserted) {
          return forward(inserted);
        }
        outcome.changes += *inserted ? 1 : 0;
      }

      // The manifest's own bytes are a blob of its repository (put_manifest links them too).
      if (!no_link.contains(digest.str())) {
        auto linked = run_changed(connection, kInsertLink, "link manifest blob", repository,
                                  digest.str(), core::to_unix_ms(now));
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
            auto statement = connection.query(kLinkingRepositories,
                                              "list repositories linking a blob", digest.str());
            if (!statement) {
              return forward(statement);
            }
            auto names = all_rows<core::RepositoryName>(
                *statement, [](const Statement& row) { return parse_repository(row.text(0)); });
            if (!names) {
              return forward(names);
            }
            repositories = std::move(*names);
          }
          if (auto deleted =
                  run(connection, kUnlinkEverywhere, "unlink blob everywhere", digest.str());
              !deleted) {
            return forward(deleted);
          }
          return repositories;
        });
  }

  Result<bool> delete_unreferenced_blob_row(const core::Digest& digest) override {
    return database_->write([&](Connection& connection) {
      return run_changed(connection, kDeleteUnreferencedBlob, "delete unreferenced blob row",
                         digest.str());
    });
  }

 private:
  std::shared_ptr<Database> database_;
};

}  // namespace

std::shared_ptr<CheckStore> make_check_store(std::shared_ptr<Database> database) {
  return std::make_shared<PgCheckStore>(std::move(database));
}

}  // namespace berth::meta::pg
