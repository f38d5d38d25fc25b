// The steps of the MetadataStore over either database (sql_metadata_store.hpp):
// its SQL, how it reads rows, and the building blocks of its write
// transactions. Internal to meta/.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "meta/metadata_store.hpp"
#include "meta/sql_lookups.hpp"
#include "meta/sql_rows.hpp"
#include "meta/sql_text.hpp"

namespace berth::meta::sql::metadata {

using core::ErrorCode;

// ---- SQL (sql_text.hpp)

inline constexpr Text kPing = "SELECT 1";

inline constexpr Text kRepositoryExists = "SELECT 1 FROM repositories WHERE name = ?1";

inline constexpr Text kRepositoryId = "SELECT id FROM repositories WHERE name = ?1";

inline constexpr Text kInsertRepository{
    "INSERT INTO repositories (name, created_at) VALUES (?1, ?2) RETURNING id",
    "INSERT INTO repositories (name, created_at) VALUES (?1, ?2) "
    "ON CONFLICT (name) DO NOTHING RETURNING id"};

// The catalog shows repositories that hold an image: a repository with only
// blobs or an abandoned upload in it is not one (as in Distribution, which
// lists repositories with manifests).
inline constexpr Text kListRepositories = R"sql(
SELECT name FROM repositories r
WHERE name > ?1 AND EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id)
ORDER BY name LIMIT ?2)sql";

inline constexpr Text kLinkedBlob = R"sql(
SELECT b.size FROM repositories r
  JOIN repository_blobs rb ON rb.repository_id = r.id
  JOIN blobs b ON b.digest = rb.digest
WHERE r.name = ?1 AND rb.digest = ?2)sql";

inline constexpr Text kLinkedBlobById = R"sql(
SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
WHERE rb.repository_id = ?1 AND rb.digest = ?2)sql";

inline constexpr Text kKnownBlob = R"sql(
SELECT b.size FROM blobs b
WHERE b.digest = ?1 AND EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest))sql";

inline constexpr Text kInsertBlob =
    "INSERT INTO blobs (digest, size, created_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (digest) DO NOTHING";

inline constexpr Text kBlobSize = "SELECT size FROM blobs WHERE digest = ?1";

// Linking again refreshes created_at: garbage collection's grace counts from
// the latest push of the digest (gc_store.hpp), so a push that re-uploads old
// content keeps it.
inline constexpr Text kInsertLink = R"sql(
INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?1, ?2, ?3)
ON CONFLICT (repository_id, digest) DO UPDATE SET created_at = excluded.created_at
  WHERE excluded.created_at > repository_blobs.created_at)sql";

inline constexpr Text kTombstoned = "SELECT 1 FROM blob_tombstones WHERE digest = ?1";

inline constexpr Text kDeleteLink = R"sql(
DELETE FROM repository_blobs
WHERE repository_id = (SELECT id FROM repositories WHERE name = ?1) AND digest = ?2)sql";

inline constexpr Text kDeleteLinkById =
    "DELETE FROM repository_blobs WHERE repository_id = ?1 AND digest = ?2";

// The manifests of a repository that name a blob: a tagged one first (with its
// first tag), and how many there are. (PostgreSQL orders by an output column
// only by its bare name, hence the subquery.)
inline constexpr Text kBlobUsers = R"sql(
SELECT digest, tag, users FROM (
  SELECT m.digest,
         (SELECT t.name FROM tags t WHERE t.manifest_id = m.id ORDER BY t.name LIMIT 1) AS tag,
         count(*) OVER () AS users
  FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
  WHERE mb.digest = ?2 AND m.repository_id = ?1) u
ORDER BY tag IS NULL, digest LIMIT 1)sql";

inline constexpr Text kManifestExistsById =
    "SELECT 1 FROM manifests WHERE repository_id = ?1 AND digest = ?2";

inline constexpr Text kTagTargetById = R"sql(
SELECT m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id
WHERE t.repository_id = ?1 AND t.name = ?2)sql";

inline constexpr Text kInsertManifest = R"sql(
INSERT INTO manifests (repository_id, digest, media_type, size, artifact_type, subject_digest,
                       annotations, created_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
ON CONFLICT (repository_id, digest) DO NOTHING)sql";

inline constexpr Text kManifestId =
    "SELECT id FROM manifests WHERE repository_id = ?1 AND digest = ?2";

inline constexpr Text kInsertManifestBlob =
    "INSERT INTO manifest_blobs (manifest_id, digest) VALUES (?1, ?2) ON "
    "CONFLICT DO NOTHING";

inline constexpr Text kInsertManifestChild =
    "INSERT INTO manifest_children (manifest_id, child_digest) VALUES (?1, ?2) "
    "ON CONFLICT DO NOTHING";

// What the browse API shows per manifest without reading its bytes (migration 10): its
// total size (its own bytes, the blobs it names, and its children's totals) and its platforms
// ("linux/amd64,linux/arm64/v8"; NULL: unknown). Children are put before their index, so
// their totals are there.
inline constexpr Text kSetManifestFigures = R"sql(
UPDATE manifests SET
  total_size = size
    + coalesce((SELECT sum(b.size) FROM manifest_blobs mb JOIN blobs b ON b.digest = mb.digest
                WHERE mb.manifest_id = ?1), 0)
    + coalesce((SELECT sum(coalesce(c.total_size, c.size)) FROM manifest_children mc
                JOIN manifests c ON c.repository_id = ?2 AND c.digest = mc.child_digest
                WHERE mc.manifest_id = ?1), 0),
  platforms = coalesce(?3, platforms)
WHERE id = ?1)sql";

// updated_at records when the tag last moved, so re-pointing it at the same
// manifest keeps it.
inline constexpr Text kUpsertTag = R"sql(
INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (repository_id, name) DO UPDATE
  SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at
  WHERE tags.manifest_id <> excluded.manifest_id)sql";

// The columns read_manifest() expects, in order. A macro because only adjacent
// string literals concatenate at compile time, and the statements below must
// stay literals.
// clang-format off
#define BERTH_MANIFEST_COLUMNS                                                                     \
  "m.digest, m.media_type, m.size, m.artifact_type, m.subject_digest, m.annotations, m.created_at"
// clang-format on

inline constexpr Text kGetManifest = "SELECT " BERTH_MANIFEST_COLUMNS R"sql(
FROM repositories r JOIN manifests m ON m.repository_id = r.id
WHERE r.name = ?1 AND m.digest = ?2)sql";

inline constexpr Text kResolveTag = "SELECT " BERTH_MANIFEST_COLUMNS R"sql(
FROM repositories r
  JOIN tags t ON t.repository_id = r.id
  JOIN manifests m ON m.id = t.manifest_id
WHERE r.name = ?1 AND t.name = ?2)sql";

// A NULL filter means none; an empty filter matches manifests without an
// artifact type. PostgreSQL needs the filter's type where it is only compared
// with NULL.
#define BERTH_TEXT_SQLITE ""
#define BERTH_TEXT_PG "::text"
// clang-format off
#define BERTH_REFERRERS(d)                      \
  "SELECT "                                     \
  BERTH_MANIFEST_COLUMNS                        \
  " FROM repositories r"                        \
  " JOIN manifests m ON m.repository_id = r.id" \
  " WHERE r.name = ?1"                          \
  " AND m.subject_digest = ?2"                  \
  " AND (?3"                                    \
  BERTH_SQL_IN(BERTH_TEXT, d)                   \
  " IS NULL"                                    \
  " OR coalesce(m.artifact_type, '') = ?3"      \
  BERTH_SQL_IN(BERTH_TEXT, d)                   \
  ")"                                           \
  " ORDER BY m.digest"
// clang-format on

inline constexpr Text kReferrers{BERTH_SQL_BOTH(BERTH_REFERRERS)};

#undef BERTH_REFERRERS
#undef BERTH_TEXT_SQLITE
#undef BERTH_TEXT_PG
#undef BERTH_MANIFEST_COLUMNS

// Cascades to the manifest's tags, manifest_blobs and manifest_children rows.
inline constexpr Text kDeleteManifest = "DELETE FROM manifests WHERE id = ?1";

inline constexpr Text kDeleteTag = R"sql(
DELETE FROM tags
WHERE repository_id = (SELECT id FROM repositories WHERE name = ?1) AND name = ?2)sql";

inline constexpr Text kListTags = R"sql(
SELECT name FROM tags
WHERE repository_id = (SELECT id FROM repositories WHERE name = ?1) AND name > ?2
ORDER BY name LIMIT ?3)sql";

inline constexpr Text kInsertUpload = R"sql(
INSERT INTO uploads (id, repository_id, started_at, updated_at, size, hash_state)
VALUES (?1, ?2, ?3, ?4, ?5, ?6))sql";

inline constexpr Text kGetUpload = R"sql(
SELECT u.id, r.name, u.started_at, u.updated_at, u.size, u.hash_state
FROM uploads u JOIN repositories r ON r.id = u.repository_id
WHERE u.id = ?1)sql";

inline constexpr Text kUpdateUpload =
    "UPDATE uploads SET size = ?2, hash_state = ?3, updated_at = ?4 WHERE id = "
    "?1";

inline constexpr Text kTouchUpload = "UPDATE uploads SET updated_at = ?2 WHERE id = ?1";

inline constexpr Text kDeleteStaleUpload = "DELETE FROM uploads WHERE id = ?1 AND updated_at < ?2";

inline constexpr Text kUploadRepository = "SELECT repository_id FROM uploads WHERE id = ?1";

inline constexpr Text kDeleteUpload = "DELETE FROM uploads WHERE id = ?1";

inline constexpr Text kStaleUploads = R"sql(
SELECT u.id, r.name, u.started_at, u.updated_at, u.size, u.hash_state
FROM uploads u JOIN repositories r ON r.id = u.repository_id
WHERE u.updated_at < ?1
ORDER BY u.updated_at, u.id)sql";

// ---- helpers

inline std::optional<std::string_view> null_if_empty(const std::string& text) {
  if (text.empty()) {
    return std::nullopt;
  }
  return text;
}

// One row of the manifest columns (see BERTH_MANIFEST_COLUMNS).
template <class Db>
Result<ManifestRecord> read_manifest(const typename Db::Statement& row) {
  auto digest = column_digest<Db>(row, 0);
  if (!digest) {
    return forward(digest);
  }
  ManifestRecord record{.digest = std::move(*digest),
                        .media_type = row.text(1),
                        .size = static_cast<std::uint64_t>(row.int64(2)),
                        .artifact_type = row.text(3),
                        .subject = std::nullopt,
                        .annotations_json = row.text(5),
                        .created = core::from_unix_ms(row.int64(6))};
  if (!row.is_null(4)) {
    auto subject = column_digest<Db>(row, 4);
    if (!subject) {
      return forward(subject);
    }
    record.subject = std::move(*subject);
  }
  return record;
}

template <class Db>
Result<std::optional<ManifestRecord>> first_manifest(typename Db::Statement& statement) {
  return first_row<ManifestRecord>(statement, read_manifest<Db>);
}

template <class Db>
Result<std::vector<ManifestRecord>> all_manifests(typename Db::Statement& statement) {
  return all_rows<ManifestRecord>(statement, read_manifest<Db>);
}

template <class Statement>
Result<std::vector<std::string>> all_text(Statement& statement) {
  return all_rows<std::string>(
      statement, [](const Statement& row) -> Result<std::string> { return row.text(0); });
}

template <class Statement>
Result<std::optional<std::uint64_t>> first_size(Statement& statement) {
  auto value = first_int64(statement);
  if (!value) {
    return forward(value);
  }
  if (!*value) {
    return std::optional<std::uint64_t>();
  }
  return std::optional<std::uint64_t>(static_cast<std::uint64_t>(**value));
}

template <class Db>
Result<UploadRecord> read_upload(const typename Db::Statement& row) {
  auto id = core::UploadId::parse(row.text(0));
  if (!id) {
    return std::unexpected(corrupt<Db>("upload id", row.text(0)));
  }
  auto repository = core::RepositoryName::parse(row.text(1));
  if (!repository) {
    return std::unexpected(corrupt<Db>("repository name", row.text(1)));
  }
  return UploadRecord{.id = std::move(*id),
                      .repository = std::move(*repository),
                      .started = core::from_unix_ms(row.int64(2)),
                      .updated = core::from_unix_ms(row.int64(3)),
                      .size = static_cast<std::uint64_t>(row.int64(4)),
                      .hash_state = row.text(5)};
}

// ---- building blocks of write transactions (called inside the Database's
// write())

template <class Db>
Result<std::optional<std::int64_t>> repository_id(typename Db::Connection& connection,
                                                  const core::RepositoryName& repo) {
  auto statement = connection.query(Db::sql(kRepositoryId), "look up repository", repo.str());
  if (!statement) {
    return forward(statement);
  }
  return first_int64(*statement);
}

template <class Db>
Result<std::int64_t> ensure_repository(typename Db::Connection& connection,
                                       const core::RepositoryName& repo, std::int64_t now_ms) {
  auto existing = repository_id<Db>(connection, repo);
  if (!existing) {
    return forward(existing);
  }
  if (*existing) {
    return **existing;
  }
  auto insert =
      connection.query(Db::sql(kInsertRepository), "create repository", repo.str(), now_ms);
  if (!insert) {
    return forward(insert);
  }
  auto id = first_int64(*insert);
  if (!id) {
    return forward(id);
  }
  if (!*id) {
    return core::fail(ErrorCode::kInternal,
                      std::string(Db::kName) + ": create repository: no id returned");
  }
  return **id;
}

// Records that the blob's bytes are stored. A digest names exactly one byte
// sequence, so a different size for a known digest means a bug or a corrupt
// database, not a client error.
template <class Db>
Result<void> ensure_blob(typename Db::Connection& connection, const BlobRef& blob,
                         std::int64_t now_ms) {
  if (auto inserted = run(connection, Db::sql(kInsertBlob), "record blob", blob.digest.str(),
                          blob.size, now_ms);
      !inserted) {
    return inserted;
  }
  auto statement = connection.query(Db::sql(kBlobSize), "read blob size", blob.digest.str());
  if (!statement) {
    return forward(statement);
  }
  auto size = first_size(*statement);
  if (!size) {
    return forward(size);
  }
  if (*size != blob.size) {
    return core::fail(ErrorCode::kInternal,
                      std::string(Db::kName) + ": blob " + blob.digest.str() +
                          " is recorded with size " +
                          (*size ? std::to_string(**size) : std::string("none")) + ", not " +
                          std::to_string(blob.size));
  }
  return {};
}

template <class Db>
Result<void> link(typename Db::Connection& connection, std::int64_t repository, const BlobRef& blob,
                  std::int64_t now_ms) {
  // Garbage collection is deleting the bytes (the tombstone protocol of
  // gc_store.hpp): the caller waits for it to finish and publishes them again.
  // Checked in the linking transaction, so the collector's transaction comes
  // wholly before or after this one.
  auto tombstone =
      connection.query(Db::sql(kTombstoned), "check blob tombstone", blob.digest.str());
  if (!tombstone) {
    return forward(tombstone);
  }
  auto collecting = tombstone->step();
  if (!collecting) {
    return forward(collecting);
  }
  if (*collecting) {
    return core::fail(ErrorCode::kUnavailable, core::ErrorReason::kBlobBeingCollected,
                      std::string(kBlobBeingCollected));
  }
  if (auto recorded = ensure_blob<Db>(connection, blob, now_ms); !recorded) {
    return recorded;
  }
  return run(connection, Db::sql(kInsertLink), "link blob", repository, blob.digest.str(), now_ms);
}

// ---- put_manifest's two halves

// The fixed tags of `put` that name another manifest of the repository now.
template <class Db>
Result<std::vector<FixedTagConflict>> moved_fixed_tags(typename Db::Connection& connection,
                                                       std::int64_t repository,
                                                       const ManifestPut& put) {
  std::vector<FixedTagConflict> moved;
  for (const core::Tag& tag : put.fixed_tags) {
    auto statement =
        connection.query(Db::sql(kTagTargetById), "check fixed tag", repository, tag.str());
    if (!statement) {
      return forward(statement);
    }
    auto current = first_row<core::Digest>(
        *statement, [](const auto& row) { return column_digest<Db>(row, 0); });
    if (!current) {
      return forward(current);
    }
    if (*current && **current != put.manifest.digest) {
      moved.push_back(FixedTagConflict{tag, std::move(**current)});
    }
  }
  return moved;
}

// Which references of `put` are absent from the repository (nullopt: it does
// not exist yet, so every reference is). Each digest is reported once.
template <class Db>
Result<ManifestPutOutcome> check_references(typename Db::Connection& connection,
                                            std::optional<std::int64_t> repository,
                                            const ManifestPut& put) {
  ManifestPutOutcome outcome;
  std::set<std::string> seen;
  for (const BlobRef& blob : put.blobs) {
    if (!seen.insert(blob.digest.str()).second) {
      continue;
    }
    std::optional<std::uint64_t> linked;
    if (repository) {
      auto statement = connection.query(Db::sql(kLinkedBlobById), "check manifest blob",
                                        *repository, blob.digest.str());
      if (!statement) {
        return forward(statement);
      }
      auto size = first_size(*statement);
      if (!size) {
        return forward(size);
      }
      linked = *size;
    }
    if (!linked) {
      outcome.missing_blobs.push_back(blob.digest);
    } else if (*linked != blob.size) {
      outcome.wrong_size_blobs.push_back(blob);
    }
  }
  seen.clear();
  for (const core::Digest& child : put.children) {
    if (!seen.insert(child.str()).second) {
      continue;
    }
    bool present = false;
    if (repository) {
      auto statement = connection.query(Db::sql(kManifestExistsById), "check child manifest",
                                        *repository, child.str());
      if (!statement) {
        return forward(statement);
      }
      auto row = statement->step();
      if (!row) {
        return forward(row);
      }
      present = *row;
    }
    if (!present) {
      outcome.missing_children.push_back(child);
    }
  }
  if (repository) {
    auto moved = moved_fixed_tags<Db>(connection, *repository, put);
    if (!moved) {
      return forward(moved);
    }
    outcome.moved_fixed_tags = std::move(*moved);
  }
  return outcome;
}

// The writes of an accepted put_manifest, after check_references found
// everything.
template <class Db>
Result<void> store_manifest(typename Db::Connection& connection, const ManifestPut& put) {
  const ManifestRecord& manifest = put.manifest;
  auto now_ms = core::to_unix_ms(manifest.created);
  auto repository = ensure_repository<Db>(connection, put.repository, now_ms);
  if (!repository) {
    return forward(repository);
  }
  // The manifest's own bytes are a blob of the repository (GET
  // /v2/<name>/blobs/<digest> of a manifest digest works, and garbage
  // collection sees them as referenced).
  if (auto linked =
          link<Db>(connection, *repository, BlobRef{manifest.digest, manifest.size}, now_ms);
      !linked) {
    return linked;
  }
  // Same digest again: same bytes, so the first record (and its created time)
  // stands.
  std::optional<std::string_view> subject;
  if (manifest.subject) {
    subject = manifest.subject->str();
  }
  if (auto inserted = run(connection, Db::sql(kInsertManifest), "store manifest", *repository,
                          manifest.digest.str(), manifest.media_type, manifest.size,
                          null_if_empty(manifest.artifact_type), subject,
                          null_if_empty(manifest.annotations_json), now_ms);
      !inserted) {
    return inserted;
  }
  auto find =
      connection.query(Db::sql(kManifestId), "find manifest", *repository, manifest.digest.str());
  if (!find) {
    return forward(find);
  }
  auto id = first_int64(*find);
  if (!id) {
    return forward(id);
  }
  if (!*id) {
    return core::fail(ErrorCode::kInternal,
                      std::string(Db::kName) + ": store manifest: row vanished");
  }
  for (const BlobRef& blob : put.blobs) {
    if (auto recorded = run(connection, Db::sql(kInsertManifestBlob), "record manifest blob", **id,
                            blob.digest.str());
        !recorded) {
      return recorded;
    }
  }
  for (const core::Digest& child : put.children) {
    if (auto recorded = run(connection, Db::sql(kInsertManifestChild), "record manifest child",
                            **id, child.str());
        !recorded) {
      return recorded;
    }
  }
  std::optional<std::string> platforms;
  if (put.platforms) {
    platforms.emplace();
    for (const auto& platform : *put.platforms) {
      *platforms += (platforms->empty() ? "" : ",") + platform;
    }
  }
  if (auto figured = run(connection, Db::sql(kSetManifestFigures), "record manifest figures", **id,
                         *repository, platforms);
      !figured) {
    return figured;
  }
  for (const core::Tag& tag : put.tags) {
    if (auto tagged = run(connection, Db::sql(kUpsertTag), "tag manifest", *repository, tag.str(),
                          **id, now_ms);
        !tagged) {
      return tagged;
    }
  }
  return {};
}

}  // namespace berth::meta::sql::metadata
