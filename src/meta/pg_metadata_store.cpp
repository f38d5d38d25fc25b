// The MetadataStore on PostgreSQL (metadata.driver: postgres), and the factories that open the
// PostgreSQL stores. The same transactions as the SQLite store (sqlite_metadata_store.cpp), on
// the pool of pg_database.hpp: every read is one SELECT, every write one transaction holding
// the cluster-wide write lock.
//
// What keeps the invariants across replicas, where SQLite had one writer per database: the
// write lock, which makes writers from every process take turns, each seeing all earlier
// commits (pg_database.hpp). put_manifest's check-then-write, tag moves, links against GC
// tombstones and the quota triggers (pg_migrations.cpp) rely on it as the SQLite store relies
// on BEGIN IMMEDIATE. The UNIQUE constraints (repository names, tags, links) stay as the last
// line of defence.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <type_traits>
#include <utility>
#include <vector>

#include "meta/pg_account_store.hpp"
#include "meta/pg_check_store.hpp"
#include "meta/pg_connection.hpp"
#include "meta/pg_database.hpp"
#include "meta/pg_gc_store.hpp"
#include "meta/pg_policy_store.hpp"
#include "meta/pg_proxy_store.hpp"
#include "meta/pg_rows.hpp"
#include "meta/pg_stores.hpp"

namespace berth::meta {
namespace {

using core::ErrorCode;
using pg::column_digest;
using pg::Connection;
using pg::corrupt;
using pg::Database;
using pg::first_int64;
using pg::forward;
using pg::run;
using pg::run_changed;
using pg::sql_limit;
using Statement = pg::Rows;

// ---- SQL. Every statement here is prepared once per connection and cached.

constexpr std::string_view kPing = "SELECT 1";

constexpr std::string_view kRepositoryExists = "SELECT 1 FROM repositories WHERE name = $1";

constexpr std::string_view kRepositoryId = "SELECT id FROM repositories WHERE name = $1";

constexpr std::string_view kInsertRepository =
    "INSERT INTO repositories (name, created_at) VALUES ($1, $2) "
    "ON CONFLICT (name) DO NOTHING RETURNING id";

// The catalog shows repositories that hold an image: a repository with only blobs or an
// abandoned upload in it is not one (as in Distribution, which lists repositories with
// manifests).
constexpr std::string_view kListRepositories = R"sql(
SELECT name FROM repositories r
WHERE name > $1 AND EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id)
ORDER BY name LIMIT $2)sql";

constexpr std::string_view kLinkedBlob = R"sql(
SELECT b.size FROM repositories r
  JOIN repository_blobs rb ON rb.repository_id = r.id
  JOIN blobs b ON b.digest = rb.digest
WHERE r.name = $1 AND rb.digest = $2)sql";

constexpr std::string_view kLinkedBlobById = R"sql(
SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
WHERE rb.repository_id = $1 AND rb.digest = $2)sql";

constexpr std::string_view kKnownBlob = R"sql(
SELECT b.size FROM blobs b
WHERE b.digest = $1 AND EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest))sql";

constexpr std::string_view kInsertBlob =
    "INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) "
    "ON CONFLICT (digest) DO NOTHING";

constexpr std::string_view kBlobSize = "SELECT size FROM blobs WHERE digest = $1";

// Linking again refreshes created_at: garbage collection's grace counts from the latest push
// of the digest (gc_store.hpp), so a push that re-uploads old content keeps it.
constexpr std::string_view kInsertLink = R"sql(
INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, $3)
ON CONFLICT (repository_id, digest) DO UPDATE SET created_at = excluded.created_at
  WHERE excluded.created_at > repository_blobs.created_at)sql";

constexpr std::string_view kTombstoned = "SELECT 1 FROM blob_tombstones WHERE digest = $1";

constexpr std::string_view kDeleteLink = R"sql(
DELETE FROM repository_blobs
WHERE repository_id = (SELECT id FROM repositories WHERE name = $1) AND digest = $2)sql";

constexpr std::string_view kDeleteLinkById =
    "DELETE FROM repository_blobs WHERE repository_id = $1 AND digest = $2";

// The manifests of a repository that name a blob: a tagged one first (with its first tag),
// and how many there are.
// (PostgreSQL orders by an output column only by its bare name, hence the subquery.)
constexpr std::string_view kBlobUsers = R"sql(
SELECT digest, tag, users FROM (
  SELECT m.digest,
         (SELECT t.name FROM tags t WHERE t.manifest_id = m.id ORDER BY t.name LIMIT 1) AS tag,
         count(*) OVER () AS users
  FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
  WHERE mb.digest = $2 AND m.repository_id = $1) u
ORDER BY tag IS NULL, digest LIMIT 1)sql";

constexpr std::string_view kManifestExistsById =
    "SELECT 1 FROM manifests WHERE repository_id = $1 AND digest = $2";

constexpr std::string_view kInsertManifest = R"sql(
INSERT INTO manifests (repository_id, digest, media_type, size, artifact_type, subject_digest,
                       annotations, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (repository_id, digest) DO NOTHING)sql";

constexpr std::string_view kManifestId =
    "SELECT id FROM manifests WHERE repository_id = $1 AND digest = $2";

constexpr std::string_view kInsertManifestBlob =
    "INSERT INTO manifest_blobs (manifest_id, digest) VALUES ($1, $2) ON CONFLICT DO NOTHING";

constexpr std::string_view kInsertManifestChild =
    "INSERT INTO manifest_children (manifest_id, child_digest) VALUES ($1, $2) "
    "ON CONFLICT DO NOTHING";

// updated_at records when the tag last moved, so re-pointing it at the same manifest keeps it.
constexpr std::string_view kUpsertTag = R"sql(
INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (repository_id, name) DO UPDATE
  SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at
  WHERE tags.manifest_id <> excluded.manifest_id)sql";

// The columns read_manifest() expects, in order. A macro because only adjacent string literals
// concatenate at compile time, and the statements below must stay literals.
#define BERTH_MANIFEST_COLUMNS                                                         \
  "m.digest, m.media_type, m.size, m.artifact_type, m.subject_digest, m.annotations, " \
  "m.created_at"

constexpr std::string_view kGetManifest = "SELECT " BERTH_MANIFEST_COLUMNS R"sql(
FROM repositories r JOIN manifests m ON m.repository_id = r.id
WHERE r.name = $1 AND m.digest = $2)sql";

constexpr std::string_view kResolveTag = "SELECT " BERTH_MANIFEST_COLUMNS R"sql(
FROM repositories r
  JOIN tags t ON t.repository_id = r.id
  JOIN manifests m ON m.id = t.manifest_id
WHERE r.name = $1 AND t.name = $2)sql";

// A NULL filter means none; an empty filter matches manifests without an artifact type.
constexpr std::string_view kReferrers = "SELECT " BERTH_MANIFEST_COLUMNS R"sql(
FROM repositories r JOIN manifests m ON m.repository_id = r.id
WHERE r.name = $1 AND m.subject_digest = $2
  AND ($3::text IS NULL OR coalesce(m.artifact_type, '') = $3::text)
ORDER BY m.digest)sql";

#undef BERTH_MANIFEST_COLUMNS

constexpr std::string_view kFindManifest = R"sql(
SELECT m.id, r.id FROM repositories r JOIN manifests m ON m.repository_id = r.id
WHERE r.name = $1 AND m.digest = $2)sql";

// Cascades to the manifest's tags, manifest_blobs and manifest_children rows.
constexpr std::string_view kDeleteManifest = "DELETE FROM manifests WHERE id = $1";

constexpr std::string_view kDeleteTag = R"sql(
DELETE FROM tags
WHERE repository_id = (SELECT id FROM repositories WHERE name = $1) AND name = $2)sql";

constexpr std::string_view kListTags = R"sql(
SELECT name FROM tags
WHERE repository_id = (SELECT id FROM repositories WHERE name = $1) AND name > $2
ORDER BY name LIMIT $3)sql";

constexpr std::string_view kInsertUpload = R"sql(
INSERT INTO uploads (id, repository_id, started_at, updated_at, size, hash_state)
VALUES ($1, $2, $3, $4, $5, $6))sql";

constexpr std::string_view kGetUpload = R"sql(
SELECT u.id, r.name, u.started_at, u.updated_at, u.size, u.hash_state
FROM uploads u JOIN repositories r ON r.id = u.repository_id
WHERE u.id = $1)sql";

constexpr std::string_view kUpdateUpload =
    "UPDATE uploads SET size = $2, hash_state = $3, updated_at = $4 WHERE id = $1";

constexpr std::string_view kUploadRepository = "SELECT repository_id FROM uploads WHERE id = $1";

constexpr std::string_view kDeleteUpload = "DELETE FROM uploads WHERE id = $1";

constexpr std::string_view kStaleUploads = R"sql(
SELECT u.id, r.name, u.started_at, u.updated_at, u.size, u.hash_state
FROM uploads u JOIN repositories r ON r.id = u.repository_id
WHERE u.updated_at < $1
ORDER BY u.updated_at, u.id)sql";

// ---- helpers

std::optional<std::string_view> null_if_empty(const std::string& text) {
  if (text.empty()) {
    return std::nullopt;
  }
  return text;
}

// One row of the manifest columns (see BERTH_MANIFEST_COLUMNS).
Result<ManifestRecord> read_manifest(const Statement& row) {
  auto digest = column_digest(row, 0);
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
    auto subject = column_digest(row, 4);
    if (!subject) {
      return forward(subject);
    }
    record.subject = std::move(*subject);
  }
  return record;
}

Result<std::optional<ManifestRecord>> first_manifest(Statement& statement) {
  return first_row<ManifestRecord>(statement, read_manifest);
}

Result<std::vector<ManifestRecord>> all_manifests(Statement& statement) {
  return all_rows<ManifestRecord>(statement, read_manifest);
}

Result<std::vector<std::string>> all_text(Statement& statement) {
  return all_rows<std::string>(
      statement, [](const Statement& row) -> Result<std::string> { return row.text(0); });
}

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

Result<UploadRecord> read_upload(const Statement& row) {
  auto id = core::UploadId::parse(row.text(0));
  if (!id) {
    return std::unexpected(corrupt("upload id", row.text(0)));
  }
  auto repository = core::RepositoryName::parse(row.text(1));
  if (!repository) {
    return std::unexpected(corrupt("repository name", row.text(1)));
  }
  return UploadRecord{.id = std::move(*id),
                      .repository = std::move(*repository),
                      .started = core::from_unix_ms(row.int64(2)),
                      .updated = core::from_unix_ms(row.int64(3)),
                      .size = static_cast<std::uint64_t>(row.int64(4)),
                      .hash_state = row.text(5)};
}

// ---- building blocks of write transactions (called on the writer, inside BEGIN IMMEDIATE)

Result<std::optional<std::int64_t>> repository_id(Connection& connection,
                                                  const core::RepositoryName& repo) {
  auto statement = connection.query(kRepositoryId, "look up repository", repo.str());
  if (!statement) {
    return forward(statement);
  }
  return first_int64(*statement);
}

Result<std::int64_t> ensure_repository(Connection& connection, const core::RepositoryName& repo,
                                       std::int64_t now_ms) {
  auto existing = repository_id(connection, repo);
  if (!existing) {
    return forward(existing);
  }
  if (*existing) {
    return **existing;
  }
  auto insert = connection.query(kInsertRepository, "create repository", repo.str(), now_ms);
  if (!insert) {
    return forward(insert);
  }
  auto id = first_int64(*insert);
  if (!id) {
    return forward(id);
  }
  if (!*id) {
    return core::fail(ErrorCode::kInternal, "postgres: create repository: no id returned");
  }
  return **id;
}

// Records that the blob's bytes are stored. A digest names exactly one byte sequence, so a
// different size for a known digest means a bug or a corrupt database, not a client error.
Result<void> ensure_blob(Connection& connection, const BlobRef& blob, std::int64_t now_ms) {
  if (auto inserted =
          run(connection, kInsertBlob, "record blob", blob.digest.str(), blob.size, now_ms);
      !inserted) {
    return inserted;
  }
  auto statement = connection.query(kBlobSize, "read blob size", blob.digest.str());
  if (!statement) {
    return forward(statement);
  }
  auto size = first_size(*statement);
  if (!size) {
    return forward(size);
  }
  if (*size != blob.size) {
    return core::fail(ErrorCode::kInternal,
                      "postgres: blob " + blob.digest.str() + " is recorded with size " +
                          (*size ? std::to_string(**size) : std::string("none")) + ", not " +
                          std::to_string(blob.size));
  }
  return {};
}

Result<void> link(Connection& connection, std::int64_t repository, const BlobRef& blob,
                  std::int64_t now_ms) {
  // Garbage collection is deleting the bytes (the tombstone protocol of gc_store.hpp): the
  // caller waits for it to finish and publishes them again. Checked in the linking
  // transaction, so the collector's transaction comes wholly before or after this one.
  auto tombstone = connection.query(kTombstoned, "check blob tombstone", blob.digest.str());
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
  if (auto recorded = ensure_blob(connection, blob, now_ms); !recorded) {
    return recorded;
  }
  return run(connection, kInsertLink, "link blob", repository, blob.digest.str(), now_ms);
}

// ---- the store

class PgMetadataStore final : public MetadataStore {
 public:
  explicit PgMetadataStore(std::shared_ptr<Database> database) : database_(std::move(database)) {}

  // ---- repositories

  Result<void> ping() override {
    return read([&](Connection& connection) -> Result<void> {
      auto statement = connection.query(kPing, "ping");
      if (!statement) {
        return forward(statement);
      }
      auto row = statement->step();
      if (!row) {
        return forward(row);
      }
      return {};
    });
  }

  Result<bool> repository_exists(const core::RepositoryName& repo) override {
    return read([&](Connection& connection) -> Result<bool> {
      auto statement = connection.query(kRepositoryExists, "look up repository", repo.str());
      if (!statement) {
        return forward(statement);
      }
      return statement->step();
    });
  }

  Result<std::vector<std::string>> list_repositories(const std::string& after,
                                                     std::size_t limit) override {
    return read([&](Connection& connection) -> Result<std::vector<std::string>> {
      auto statement =
          connection.query(kListRepositories, "list repositories", after, sql_limit(limit));
      if (!statement) {
        return forward(statement);
      }
      return all_text(*statement);
    });
  }

  // ---- blobs

  Result<std::optional<std::uint64_t>> linked_blob(const core::RepositoryName& repo,
                                                   const core::Digest& digest) override {
    return read([&](Connection& connection) -> Result<std::optional<std::uint64_t>> {
      auto statement = connection.query(kLinkedBlob, "look up blob link", repo.str(), digest.str());
      if (!statement) {
        return forward(statement);
      }
      return first_size(*statement);
    });
  }

  Result<std::optional<std::uint64_t>> known_blob(const core::Digest& digest) override {
    return read([&](Connection& connection) -> Result<std::optional<std::uint64_t>> {
      auto statement = connection.query(kKnownBlob, "look up blob", digest.str());
      if (!statement) {
        return forward(statement);
      }
      return first_size(*statement);
    });
  }

  Result<void> link_blob(const core::RepositoryName& repo, const BlobRef& blob,
                         core::TimePoint now) override {
    return write([&](Connection& connection) -> Result<void> {
      auto now_ms = core::to_unix_ms(now);
      auto repository = ensure_repository(connection, repo, now_ms);
      if (!repository) {
        return forward(repository);
      }
      return link(connection, *repository, blob, now_ms);
    });
  }

  Result<std::optional<std::uint64_t>> mount_blob(const core::RepositoryName& repo,
                                                  const core::Digest& digest,
                                                  const core::RepositoryName& from,
                                                  core::TimePoint now) override {
    return write([&](Connection& connection) -> Result<std::optional<std::uint64_t>> {
      auto source = connection.query(kLinkedBlob, "look up blob link", from.str(), digest.str());
      if (!source) {
        return forward(source);
      }
      auto size = first_size(*source);
      if (!size || !*size) {
        return size;
      }
      auto now_ms = core::to_unix_ms(now);
      auto repository = ensure_repository(connection, repo, now_ms);
      if (!repository) {
        return forward(repository);
      }
      if (auto linked = link(connection, *repository, BlobRef{digest, **size}, now_ms); !linked) {
        return forward(linked);
      }
      return size;
    });
  }

  Result<bool> unlink_blob(const core::RepositoryName& repo, const core::Digest& digest) override {
    return write([&](Connection& connection) {
      return run_changed(connection, kDeleteLink, "unlink blob", repo.str(), digest.str());
    });
  }

  Result<BlobUnlink> unlink_unused_blob(const core::RepositoryName& repo,
                                        const core::Digest& digest) override {
    return write([&](Connection& connection) -> Result<BlobUnlink> {
      BlobUnlink result;
      auto id = repository_id(connection, repo);
      if (!id || !*id) {
        return id ? Result<BlobUnlink>(result) : forward(id);
      }
      auto manifest = connection.query(kManifestExistsById, "look up manifest", **id, digest.str());
      if (!manifest) {
        return forward(manifest);
      }
      auto is_manifest = first_int64(*manifest);
      if (!is_manifest) {
        return forward(is_manifest);
      }
      if (*is_manifest) {
        result.outcome = BlobUnlink::Outcome::kManifest;
        return result;
      }
      auto users = connection.query(kBlobUsers, "look up blob users", **id, digest.str());
      if (!users) {
        return forward(users);
      }
      auto used = pg::first_row<BlobUnlink>(*users, [](const Statement& row) -> Result<BlobUnlink> {
        auto user = column_digest(row, 0);
        if (!user) {
          return forward(user);
        }
        return BlobUnlink{.outcome = BlobUnlink::Outcome::kInUse,
                          .users = static_cast<std::uint64_t>(row.int64(2)),
                          .user = std::move(*user),
                          .user_tag = row.is_null(1) ? std::nullopt : std::optional(row.text(1))};
      });
      if (!used || *used) {
        return used ? Result<BlobUnlink>(std::move(**used)) : forward(used);
      }
      auto removed = run_changed(connection, kDeleteLinkById, "unlink blob", **id, digest.str());
      if (!removed) {
        return forward(removed);
      }
      result.outcome = *removed ? BlobUnlink::Outcome::kUnlinked : BlobUnlink::Outcome::kNotLinked;
      return result;
    });
  }

  // ---- manifests and tags

  Result<ManifestPutOutcome> put_manifest(const ManifestPut& put) override {
    return write([&](Connection& connection) -> Result<ManifestPutOutcome> {
      // Check first, write after: a refusal must leave no trace, not even the repository.
      auto existing = repository_id(connection, put.repository);
      if (!existing) {
        return forward(existing);
      }
      auto outcome = check_references(connection, *existing, put);
      if (!outcome) {
        return forward(outcome);
      }
      if (!outcome->stored()) {
        return outcome;
      }
      if (auto stored = store_manifest(connection, put); !stored) {
        return forward(stored);
      }
      return outcome;
    });
  }

  Result<std::optional<ManifestRecord>> get_manifest(const core::RepositoryName& repo,
                                                     const core::Digest& digest) override {
    return read([&](Connection& connection) -> Result<std::optional<ManifestRecord>> {
      auto statement = connection.query(kGetManifest, "get manifest", repo.str(), digest.str());
      if (!statement) {
        return forward(statement);
      }
      return first_manifest(*statement);
    });
  }

  Result<std::optional<ManifestRecord>> resolve_tag(const core::RepositoryName& repo,
                                                    const core::Tag& tag) override {
    return read([&](Connection& connection) -> Result<std::optional<ManifestRecord>> {
      auto statement = connection.query(kResolveTag, "resolve tag", repo.str(), tag.str());
      if (!statement) {
        return forward(statement);
      }
      return first_manifest(*statement);
    });
  }

  Result<bool> delete_manifest(const core::RepositoryName& repo,
                               const core::Digest& digest) override {
    return write([&](Connection& connection) -> Result<bool> {
      auto find = connection.query(kFindManifest, "find manifest", repo.str(), digest.str());
      if (!find) {
        return forward(find);
      }
      auto row = find->step();
      if (!row) {
        return forward(row);
      }
      if (!*row) {
        return false;
      }
      std::int64_t manifest = find->int64(0);
      std::int64_t repository = find->int64(1);
      if (auto deleted = run(connection, kDeleteManifest, "delete manifest", manifest); !deleted) {
        return forward(deleted);
      }
      if (auto unlinked =
              run(connection, kDeleteLinkById, "unlink manifest blob", repository, digest.str());
          !unlinked) {
        return forward(unlinked);
      }
      return true;
    });
  }

  Result<bool> delete_tag(const core::RepositoryName& repo, const core::Tag& tag) override {
    return write([&](Connection& connection) {
      return run_changed(connection, kDeleteTag, "delete tag", repo.str(), tag.str());
    });
  }

  Result<std::vector<std::string>> list_tags(const core::RepositoryName& repo,
                                             const std::string& after, std::size_t limit) override {
    return read([&](Connection& connection) -> Result<std::vector<std::string>> {
      auto statement =
          connection.query(kListTags, "list tags", repo.str(), after, sql_limit(limit));
      if (!statement) {
        return forward(statement);
      }
      return all_text(*statement);
    });
  }

  Result<std::vector<ManifestRecord>> referrers(
      const core::RepositoryName& repo, const core::Digest& subject,
      const std::optional<std::string>& artifact_type) override {
    return read([&](Connection& connection) -> Result<std::vector<ManifestRecord>> {
      auto statement =
          connection.query(kReferrers, "list referrers", repo.str(), subject.str(), artifact_type);
      if (!statement) {
        return forward(statement);
      }
      return all_manifests(*statement);
    });
  }

  // ---- upload sessions

  Result<void> create_upload(const UploadRecord& upload) override {
    return write([&](Connection& connection) -> Result<void> {
      auto repository =
          ensure_repository(connection, upload.repository, core::to_unix_ms(upload.started));
      if (!repository) {
        return forward(repository);
      }
      return run(connection, kInsertUpload, "create upload", upload.id.str(), *repository,
                 core::to_unix_ms(upload.started), core::to_unix_ms(upload.updated), upload.size,
                 upload.hash_state);
    });
  }

  Result<std::optional<UploadRecord>> get_upload(const core::UploadId& id) override {
    return read([&](Connection& connection) -> Result<std::optional<UploadRecord>> {
      auto statement = connection.query(kGetUpload, "get upload", id.str());
      if (!statement) {
        return forward(statement);
      }
      return first_row<UploadRecord>(*statement, read_upload);
    });
  }

  Result<void> update_upload(const core::UploadId& id, std::uint64_t size,
                             const std::string& hash_state, core::TimePoint now) override {
    return write([&](Connection& connection) -> Result<void> {
      auto changed = run_changed(connection, kUpdateUpload, "update upload", id.str(), size,
                                 hash_state, core::to_unix_ms(now));
      if (!changed) {
        return forward(changed);
      }
      if (!*changed) {
        return unknown_upload(id);
      }
      return {};
    });
  }

  Result<void> complete_upload(const core::UploadId& id, const BlobRef& blob,
                               core::TimePoint now) override {
    return write([&](Connection& connection) -> Result<void> {
      auto find = connection.query(kUploadRepository, "find upload", id.str());
      if (!find) {
        return forward(find);
      }
      auto repository = first_int64(*find);
      if (!repository) {
        return forward(repository);
      }
      if (!*repository) {
        return unknown_upload(id);
      }
      if (auto linked = link(connection, **repository, blob, core::to_unix_ms(now)); !linked) {
        return linked;
      }
      return run(connection, kDeleteUpload, "delete upload", id.str());
    });
  }

  Result<void> delete_upload(const core::UploadId& id) override {
    return write([&](Connection& connection) {
      return run(connection, kDeleteUpload, "delete upload", id.str());
    });
  }

  Result<std::vector<UploadRecord>> stale_uploads(core::TimePoint cutoff) override {
    return read([&](Connection& connection) -> Result<std::vector<UploadRecord>> {
      auto statement =
          connection.query(kStaleUploads, "list stale uploads", core::to_unix_ms(cutoff));
      if (!statement) {
        return forward(statement);
      }
      return all_rows<UploadRecord>(*statement, read_upload);
    });
  }

 private:
  static std::unexpected<core::Error> unknown_upload(const core::UploadId& id) {
    return core::fail(ErrorCode::kBlobUploadUnknown, "upload " + id.str() + " is unknown");
  }

  // Which references of `put` are absent from the repository (nullopt: it does not exist
  // yet, so every reference is). Each digest is reported once.
  static Result<ManifestPutOutcome> check_references(Connection& connection,
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
        auto statement = connection.query(kLinkedBlobById, "check manifest blob", *repository,
                                          blob.digest.str());
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
        auto statement =
            connection.query(kManifestExistsById, "check child manifest", *repository, child.str());
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
    return outcome;
  }

  // The writes of an accepted put_manifest, after check_references found everything.
  static Result<void> store_manifest(Connection& connection, const ManifestPut& put) {
    const ManifestRecord& manifest = put.manifest;
    auto now_ms = core::to_unix_ms(manifest.created);
    auto repository = ensure_repository(connection, put.repository, now_ms);
    if (!repository) {
      return forward(repository);
    }
    // The manifest's own bytes are a blob of the repository (GET /v2/<name>/blobs/<digest>
    // of a manifest digest works, and garbage collection sees them as referenced).
    if (auto linked =
            link(connection, *repository, BlobRef{manifest.digest, manifest.size}, now_ms);
        !linked) {
      return linked;
    }
    // Same digest again: same bytes, so the first record (and its created time) stands.
    std::optional<std::string_view> subject;
    if (manifest.subject) {
      subject = manifest.subject->str();
    }
    if (auto inserted =
            run(connection, kInsertManifest, "store manifest", *repository, manifest.digest.str(),
                manifest.media_type, manifest.size, null_if_empty(manifest.artifact_type), subject,
                null_if_empty(manifest.annotations_json), now_ms);
        !inserted) {
      return inserted;
    }
    auto find = connection.query(kManifestId, "find manifest", *repository, manifest.digest.str());
    if (!find) {
      return forward(find);
    }
    auto id = first_int64(*find);
    if (!id) {
      return forward(id);
    }
    if (!*id) {
      return core::fail(ErrorCode::kInternal, "postgres: store manifest: row vanished");
    }
    for (const BlobRef& blob : put.blobs) {
      if (auto recorded =
              run(connection, kInsertManifestBlob, "record manifest blob", **id, blob.digest.str());
          !recorded) {
        return recorded;
      }
    }
    for (const core::Digest& child : put.children) {
      if (auto recorded =
              run(connection, kInsertManifestChild, "record manifest child", **id, child.str());
          !recorded) {
        return recorded;
      }
    }
    for (const core::Tag& tag : put.tags) {
      if (auto tagged =
              run(connection, kUpsertTag, "tag manifest", *repository, tag.str(), **id, now_ms);
          !tagged) {
        return tagged;
      }
    }
    return {};
  }

  template <class F>
  std::invoke_result_t<F&, Connection&> read(F&& f) {
    return database_->read(std::forward<F>(f));
  }

  template <class F>
  std::invoke_result_t<F&, Connection&> write(F&& f) {
    return database_->write(std::forward<F>(f));
  }

  std::shared_ptr<Database> database_;
};

}  // namespace

Result<std::unique_ptr<MetadataStore>> open_pg_metadata_store(const PostgresOptions& options) {
  auto database = Database::open(options);
  if (!database) {
    return forward(database);
  }
  return std::make_unique<PgMetadataStore>(std::move(*database));
}

Result<Stores> open_pg_stores(const PostgresOptions& options) {
  auto database = Database::open(options);
  if (!database) {
    return forward(database);
  }
  return Stores{.metadata = std::make_shared<PgMetadataStore>(*database),
                .accounts = pg::make_account_store(*database),
                .check = pg::make_check_store(*database),
                .policies = pg::make_policy_store(*database),
                .gc = pg::make_gc_store(*database),
                .proxy = pg::make_proxy_store(*database)};
}

}  // namespace berth::meta
