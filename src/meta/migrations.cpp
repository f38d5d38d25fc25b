// The schema of the SQLite metadata database, as a list of migrations, and the code that
// applies them at open.
//
// Conventions of the schema:
//  - Times are unix milliseconds (core::to_unix_ms), INTEGER.
//  - Digests are their "algorithm:hex" text; names are compared with the default BINARY
//    collation, which is the byte-wise order the contract promises for every list.
//  - Tables are STRICT, so a value of the wrong type is an error instead of a silent
//    conversion.
//  - Foreign keys are enforced (the store turns them on for every connection). They are the
//    last line of defence for garbage collection: a blob row cannot be deleted while any
//    repository link, manifest or manifest reference still names it.
#include "meta/migrations.hpp"

#include <array>
#include <string>

#include "meta/sql_account_store.hpp"
#include "meta/sql_audit_store.hpp"
#include "meta/sql_browse_store.hpp"
#include "meta/sql_login_throttle_store.hpp"
#include "meta/sql_outbox_store.hpp"
#include "meta/sql_session_store.hpp"

namespace berth::meta::sqlite {
namespace {

// Version 1: what the registry needs now, laid out for what comes later (garbage collection
// walks references by digest, retention looks at tag and manifest times, quotas sum blob
// sizes per repository).
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE schema_migrations (
  version INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at INTEGER NOT NULL
) STRICT;

-- The UNIQUE index on name is the catalog's index (name order).
CREATE TABLE repositories (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
) STRICT;

-- One row per blob whose bytes are in blob storage (layers, configs, and manifests' own
-- bytes). A blob no repository links any more stays here until garbage collection removes
-- the bytes and the row; created_at is what its grace period is measured from.
CREATE TABLE blobs (
  digest TEXT PRIMARY KEY,
  size INTEGER NOT NULL CHECK (size >= 0),
  created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Which blobs a repository may serve: pushed, mounted, or a manifest of it.
CREATE TABLE repository_blobs (
  repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  digest TEXT NOT NULL REFERENCES blobs (digest),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (repository_id, digest)
) STRICT, WITHOUT ROWID;
-- "Does any repository link this blob?" (known_blob, garbage collection).
CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest);

-- A manifest's bytes are a blob (the digest references blobs, so they cannot be collected
-- while the manifest exists). artifact_type, subject_digest and annotations are NULL when
-- the manifest has none.
CREATE TABLE manifests (
  id INTEGER PRIMARY KEY,
  repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  digest TEXT NOT NULL REFERENCES blobs (digest),
  media_type TEXT NOT NULL,
  size INTEGER NOT NULL CHECK (size >= 0),
  artifact_type TEXT,
  subject_digest TEXT,
  annotations TEXT,
  created_at INTEGER NOT NULL,
  UNIQUE (repository_id, digest)
) STRICT;
-- Referrers of a subject in a repository, already in digest order. Partial: most manifests
-- have no subject.
CREATE INDEX manifests_by_subject ON manifests (repository_id, subject_digest, digest)
  WHERE subject_digest IS NOT NULL;
-- "Which repositories hold manifest X?" (garbage collection of manifest bytes).
CREATE INDEX manifests_by_digest ON manifests (digest);

-- Blobs a manifest names (config, layers).
CREATE TABLE manifest_blobs (
  manifest_id INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  digest TEXT NOT NULL REFERENCES blobs (digest),
  PRIMARY KEY (manifest_id, digest)
) STRICT, WITHOUT ROWID;
-- "Which manifests reference blob X?" (garbage collection).
CREATE INDEX manifest_blobs_by_digest ON manifest_blobs (digest);

-- Child manifests of an index, by digest: a child may later be deleted on its own (the spec
-- allows it), so this is not a foreign key.
CREATE TABLE manifest_children (
  manifest_id INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  child_digest TEXT NOT NULL,
  PRIMARY KEY (manifest_id, child_digest)
) STRICT, WITHOUT ROWID;
-- "Which indexes reference manifest X?" (garbage collection).
CREATE INDEX manifest_children_by_child ON manifest_children (child_digest);

-- The primary key is also the tags/list order. Deleting a manifest deletes its tags.
-- updated_at is when the tag last moved (retention policies look at it).
CREATE TABLE tags (
  repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  manifest_id INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (repository_id, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX tags_by_manifest ON tags (manifest_id);

-- Resumable upload sessions; the bytes are in blob storage under the same id.
CREATE TABLE uploads (
  id TEXT PRIMARY KEY,
  repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  started_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  size INTEGER NOT NULL CHECK (size >= 0)
) STRICT, WITHOUT ROWID;
CREATE INDEX uploads_by_repository ON uploads (repository_id);
-- Stale upload cleanup.
CREATE INDEX uploads_by_updated ON uploads (updated_at);
)sql";

// Version 2: accounts (meta/account_store.hpp). Names are the keys: they are what every
// request presents, and renaming is not offered. Roles are meta::Role's numbers, 1 (reader)
// to 4 (owner), so "at least writer" is a comparison. Refresh tokens name their subject
// without a foreign key because robots ("robot$name") hold them too; the store deletes a
// user's tokens itself.
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE users (
  name TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  admin INTEGER NOT NULL CHECK (admin IN (0, 1)),
  created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE projects (
  name TEXT PRIMARY KEY,
  public INTEGER NOT NULL CHECK (public IN (0, 1)),
  created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- The primary key serves a project's member list (by user name).
CREATE TABLE members (
  project TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
  -- Not a reference to users: members may come from the htpasswd file.
  user TEXT NOT NULL,
  role INTEGER NOT NULL CHECK (role BETWEEN 1 AND 4),
  PRIMARY KEY (project, user)
) STRICT, WITHOUT ROWID;
-- A user's memberships in project order (catalog filtering, deleting a user).
CREATE INDEX members_by_user ON members (user, project);

CREATE TABLE robots (
  name TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  last_used_at INTEGER,
  revoked INTEGER NOT NULL CHECK (revoked IN (0, 1))
) STRICT, WITHOUT ROWID;

CREATE TABLE robot_scopes (
  robot TEXT NOT NULL REFERENCES robots (name) ON DELETE CASCADE,
  project TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
  role INTEGER NOT NULL CHECK (role BETWEEN 1 AND 4),
  PRIMARY KEY (robot, project)
) STRICT, WITHOUT ROWID;
-- The cascade from projects.
CREATE INDEX robot_scopes_by_project ON robot_scopes (project);

CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  subject TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked INTEGER NOT NULL CHECK (revoked IN (0, 1))
) STRICT, WITHOUT ROWID;
-- Revoking or deleting everything a user holds (password change, user deletion).
CREATE INDEX refresh_tokens_by_subject ON refresh_tokens (subject);
-- Purging expired tokens without a full scan.
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);
)sql";

// Version 3: online garbage collection (meta/gc_store.hpp). A tombstone says "the bytes of
// this digest are being deleted": it is written in the transaction that deletes the blob row
// and cleared once the bytes are gone, and while it exists nothing may link the digest (the
// pusher retries and publishes the bytes again). A lease keeps to one collector at a time
// across processes (berth gc beside berth serve); expires_at lets a crashed holder's lease
// lapse. The reachability queries need no new index: tags_by_manifest,
// manifest_children_by_child, manifests_by_subject, manifests_by_digest and the *_by_digest
// indexes of version 1 serve every lookup (sqlite_gc_store_test.cpp checks the query plans).
constexpr std::string_view kSchemaV3 = R"sql(
CREATE TABLE blob_tombstones (
  digest TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
)sql";

// Version 4: the lifecycle's per-project figures (meta/policy_store.hpp).
//  - repositories.project: the first path component, a generated column (so no writer can
//    get it wrong, and existing rows have it at once), indexed for per-project reads.
//  - project_blobs: for each project and digest, how many of the project's repositories link
//    it; project_usage: the bytes of those digests and the repositories holding any blob.
//    Both are maintained only by the triggers below, so usage stays exact whatever path
//    links or unlinks: pushes, mounts, manifest puts and deletes, garbage collection, and the
//    cascades of deleting a repository or a project. A cascade deletes children after its
//    parent row is gone, when a link's repository (and so its project) can no longer be
//    looked up; so deleting a repository first deletes its links itself, in a BEFORE
//    trigger, while the row is still there. Links never change in place (a trigger refuses).
//  - settings of a project (retention policy JSON, quotas, immutable tag patterns) go with
//    the project; retention_last_run is the scheduler's, not the owner's.
//  - pull statistics on manifests and tags, written in batches.
constexpr std::string_view kSchemaV4 = R"sql(
ALTER TABLE repositories ADD COLUMN project TEXT GENERATED ALWAYS AS (
  CASE WHEN instr(name, '/') > 0 THEN substr(name, 1, instr(name, '/') - 1) ELSE name END
) VIRTUAL;
CREATE INDEX repositories_by_project ON repositories (project, name);

CREATE TABLE project_blobs (
  project TEXT NOT NULL,
  digest TEXT NOT NULL,
  refs INTEGER NOT NULL CHECK (refs >= 0),
  PRIMARY KEY (project, digest)
) STRICT, WITHOUT ROWID;

-- The CHECKs turn a counting bug into a failed transaction instead of a wrong figure.
CREATE TABLE project_usage (
  project TEXT PRIMARY KEY,
  bytes INTEGER NOT NULL CHECK (bytes >= 0),
  repositories INTEGER NOT NULL CHECK (repositories >= 0)
) STRICT, WITHOUT ROWID;

INSERT INTO project_blobs (project, digest, refs)
  SELECT r.project, rb.digest, count(*)
  FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
  GROUP BY r.project, rb.digest;
INSERT INTO project_usage (project, bytes, repositories)
  SELECT p.project,
         (SELECT coalesce(sum(b.size), 0) FROM project_blobs pb JOIN blobs b ON b.digest = pb.digest
          WHERE pb.project = p.project),
         (SELECT count(*) FROM repositories r WHERE r.project = p.project
            AND EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.repository_id = r.id))
  FROM (SELECT DISTINCT project FROM project_blobs) p;

CREATE TRIGGER repository_blobs_count AFTER INSERT ON repository_blobs
BEGIN
  INSERT INTO project_usage (project, bytes, repositories)
    SELECT project, 0, 0 FROM repositories WHERE id = NEW.repository_id
    ON CONFLICT (project) DO NOTHING;
  UPDATE project_usage SET repositories = repositories + 1
    WHERE project = (SELECT project FROM repositories WHERE id = NEW.repository_id)
      AND NOT EXISTS (SELECT 1 FROM repository_blobs
                      WHERE repository_id = NEW.repository_id AND digest != NEW.digest);
  UPDATE project_usage SET bytes = bytes + (SELECT size FROM blobs WHERE digest = NEW.digest)
    WHERE project = (SELECT project FROM repositories WHERE id = NEW.repository_id)
      AND NOT EXISTS (SELECT 1 FROM project_blobs
                      WHERE project = (SELECT project FROM repositories
                                       WHERE id = NEW.repository_id)
                        AND digest = NEW.digest);
  INSERT INTO project_blobs (project, digest, refs)
    SELECT project, NEW.digest, 1 FROM repositories WHERE id = NEW.repository_id
    ON CONFLICT (project, digest) DO UPDATE SET refs = refs + 1;
END;

CREATE TRIGGER repository_blobs_uncount AFTER DELETE ON repository_blobs
BEGIN
  UPDATE project_blobs SET refs = refs - 1
    WHERE project = (SELECT project FROM repositories WHERE id = OLD.repository_id)
      AND digest = OLD.digest;
  UPDATE project_usage SET bytes = bytes - (SELECT size FROM blobs WHERE digest = OLD.digest)
    WHERE project = (SELECT project FROM repositories WHERE id = OLD.repository_id)
      AND EXISTS (SELECT 1 FROM project_blobs
                  WHERE project = (SELECT project FROM repositories
                                   WHERE id = OLD.repository_id)
                    AND digest = OLD.digest AND refs = 0);
  DELETE FROM project_blobs
    WHERE project = (SELECT project FROM repositories WHERE id = OLD.repository_id)
      AND digest = OLD.digest AND refs = 0;
  UPDATE project_usage SET repositories = repositories - 1
    WHERE project = (SELECT project FROM repositories WHERE id = OLD.repository_id)
      AND NOT EXISTS (SELECT 1 FROM repository_blobs WHERE repository_id = OLD.repository_id);
END;

CREATE TRIGGER repository_blobs_fixed BEFORE UPDATE OF repository_id, digest ON repository_blobs
BEGIN
  SELECT RAISE(ABORT, 'repository_blobs rows are never changed in place (usage counts them)');
END;

CREATE TRIGGER repositories_unlink BEFORE DELETE ON repositories
BEGIN
  DELETE FROM repository_blobs WHERE repository_id = OLD.id;
END;

CREATE TABLE project_settings (
  project TEXT PRIMARY KEY REFERENCES projects (name) ON DELETE CASCADE,
  retention TEXT,
  quota_bytes INTEGER CHECK (quota_bytes >= 0),
  quota_repositories INTEGER CHECK (quota_repositories >= 0),
  retention_last_run INTEGER
) STRICT, WITHOUT ROWID;

CREATE TABLE project_immutable_tags (
  project TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
  pattern TEXT NOT NULL,
  PRIMARY KEY (project, pattern)
) STRICT, WITHOUT ROWID;

ALTER TABLE manifests ADD COLUMN last_pulled_at INTEGER;
ALTER TABLE manifests ADD COLUMN pull_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tags ADD COLUMN last_pulled_at INTEGER;
ALTER TABLE tags ADD COLUMN pull_count INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 5: what pull-through caches remember across restarts (meta/proxy_store.hpp).
constexpr std::string_view kSchemaV5 = R"sql(
CREATE TABLE proxy_tags (
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  digest TEXT NOT NULL,
  checked_at INTEGER NOT NULL,
  PRIMARY KEY (repository, tag)
) STRICT, WITHOUT ROWID;

CREATE TABLE proxy_partial_manifests (
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  cached_at INTEGER NOT NULL,
  PRIMARY KEY (repository, digest)
) STRICT, WITHOUT ROWID;
)sql";

// Version 6: quotas enforced inside the transaction that links a blob. The lifecycle layer
// checks a push against the quota first (with a message saying by how much); two pushes
// checked at the same instant could both pass that check. These triggers refuse the link that
// would take a project past its quota, whoever inserts it, in the same transaction as the
// usage triggers of migration 4 count it. A digest the project already holds costs nothing; a
// repository already holding a blob is already counted. The message's prefix is what
// sqlite_connection.cpp maps to DENIED.
constexpr std::string_view kSchemaV6 = R"sql(
CREATE TRIGGER repository_blobs_within_quota BEFORE INSERT ON repository_blobs
BEGIN
  SELECT RAISE(ABORT, 'quota exceeded: the project''s byte quota would be exceeded (by pushes at the same time); delete images or ask an owner to raise the quota')
  FROM repositories r JOIN project_settings s ON s.project = r.project
  WHERE r.id = NEW.repository_id AND s.quota_bytes IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM project_blobs pb
                    WHERE pb.project = r.project AND pb.digest = NEW.digest)
    AND coalesce((SELECT u.bytes FROM project_usage u WHERE u.project = r.project), 0)
        + (SELECT b.size FROM blobs b WHERE b.digest = NEW.digest) > s.quota_bytes;
  SELECT RAISE(ABORT, 'quota exceeded: the project''s repository quota would be exceeded (by pushes at the same time); delete a repository or ask an owner to raise the quota')
  FROM repositories r JOIN project_settings s ON s.project = r.project
  WHERE r.id = NEW.repository_id AND s.quota_repositories IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.repository_id = NEW.repository_id)
    AND coalesce((SELECT u.repositories FROM project_usage u WHERE u.project = r.project), 0)
        + 1 > s.quota_repositories;
END;
)sql";

// Version 7: accounts get ids, sessions name them, and administrators can lift lockouts.
//  - users.id: tokens and refresh tokens were bound to a user's name, so a user deleted and
//    created again under the same name inherited the old account's sessions. An id is given
//    once (AUTOINCREMENT never hands out an id again, even the highest one after a delete).
//    SQLite cannot add a primary key in place: the table is copied.
//  - refresh_tokens.account: the account a token was issued to (auth::Identity::account:
//    "u<id>" for database users). Tokens of database users are bound here; those of htpasswd
//    users and robots name credentials that only the server can fingerprint, and stay NULL:
//    they are refused once, and their holders sign in again.
//  - login_unlocks: `berth user unlock` runs beside the server; what it records here, every
//    server process reads when it would refuse that user a login.
constexpr std::string_view kSchemaV7 = R"sql(
CREATE TABLE users_with_ids (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  admin INTEGER NOT NULL CHECK (admin IN (0, 1)),
  created_at INTEGER NOT NULL
) STRICT;
INSERT INTO users_with_ids (name, password_hash, admin, created_at)
  SELECT name, password_hash, admin, created_at FROM users ORDER BY created_at, name;
DROP TABLE users;
ALTER TABLE users_with_ids RENAME TO users;

ALTER TABLE refresh_tokens ADD COLUMN account TEXT;
UPDATE refresh_tokens
  SET account = 'u' || (SELECT u.id FROM users u WHERE u.name = refresh_tokens.subject)
  WHERE subject IN (SELECT name FROM users);

CREATE TABLE login_unlocks (
  user TEXT PRIMARY KEY,
  unlocked_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
)sql";

// Version 8: an upload's running hash state (core::Hasher::save) beside its size, written in
// the same statement, so that any replica continues an upload without reading it back. Empty
// for uploads recorded before: those are hashed again from storage once.
constexpr std::string_view kSchemaV8 = R"sql(
ALTER TABLE uploads ADD COLUMN hash_state TEXT NOT NULL DEFAULT '';
)sql";

constexpr std::string_view kSchemaV9 = sql::logins::kSchema;

// Version 10: what the browse API (api/browse_*.cpp) reads, kept so that a page of a
// repository's tags is one indexed query, whatever the repository's size.
//  - manifests.total_size: the manifest's bytes, the blobs it names and, for an index, its
//    children's totals; manifests.platforms: "linux/amd64,linux/arm64/v8" (an index's entries,
//    an image's config), NULL when unknown. Both written by put_manifest. Existing rows get
//    their totals here (children first: no index has an index child in practice, and one that
//    does counts that child's own figures); their platforms stay unknown (the bytes are in
//    blob storage, which a migration does not read).
//  - tags_by_pushed: a page of tags by push time.
//  - gc_runs: the last collections, whoever started them (GET /api/v1/gc on every replica).
constexpr std::string_view kSchemaV10 = R"sql(
ALTER TABLE manifests ADD COLUMN total_size INTEGER;
ALTER TABLE manifests ADD COLUMN platforms TEXT;
)sql" BERTH_BACKFILL_MANIFEST_TOTALS R"sql(
CREATE INDEX tags_by_pushed ON tags (repository_id, updated_at);

CREATE TABLE gc_runs (
  id INTEGER PRIMARY KEY,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  dry_run INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
  started_by TEXT NOT NULL,
  report TEXT NOT NULL
) STRICT;
)sql";
constexpr std::string_view kSchemaV11 = sql::sessions::kSchema;
// Version 12: the event outbox and webhooks (sql_outbox_store.hpp).
constexpr std::string_view kSchemaV12 = sql::outbox::kSqliteSchema;
// Version 13: the audit log (meta/audit_store.hpp).
constexpr std::string_view kSchemaV13 = sql::audit::kSqliteSchema;
// Version 14: the account version the auth layer's caches are valid for (account_store.hpp).
constexpr std::string_view kSchemaV14 = sql::account::kVersionSchema;

constexpr std::array kMigrations = {
    Migration{1, "registry schema: repositories, blobs, manifests, tags, uploads", kSchemaV1},
    Migration{2, "accounts: users, projects, members, robots, refresh tokens", kSchemaV2},
    Migration{3, "garbage collection: blob tombstones, leases", kSchemaV3},
    Migration{4, "lifecycle: project settings, usage kept by triggers, pull statistics", kSchemaV4},
    Migration{5, "proxy: cached tags, partially cached manifests", kSchemaV5},
    Migration{6, "lifecycle: quotas enforced in the linking transaction", kSchemaV6},
    Migration{7, "accounts: user ids, sessions bound to them, login unlocks", kSchemaV7},
    Migration{8, "uploads: saved hash state", kSchemaV8},
    Migration{9, "accounts: login throttling shared by processes", kSchemaV9},
    Migration{10, "browsing: manifest sizes and platforms, tags by push time, gc runs", kSchemaV10},
    Migration{11, "accounts: web UI sessions", kSchemaV11},
    Migration{12, "events: outbox, webhooks, deliveries", kSchemaV12},
    Migration{13, "audit log", kSchemaV13},
    Migration{14, "accounts: the account version", kSchemaV14},
};

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

int latest_schema_version() { return kMigrations.back().version; }

Result<int> schema_version(Connection& connection) {
  auto version = connection.query("PRAGMA user_version", "read schema version");
  if (!version) {
    return std::unexpected(version.error());
  }
  auto row = version->step();
  if (!row) {
    return std::unexpected(row.error());
  }
  return *row ? static_cast<int>(version->int64(0)) : 0;
}

Result<void> migrate(Connection& connection, std::int64_t now_unix_ms) {
  Transaction transaction(connection);
  if (auto begun = transaction.begin(); !begun) {
    return begun;
  }
  // Read inside the write transaction: another process may have migrated since we looked.
  auto current = schema_version(connection);
  if (!current) {
    return std::unexpected(current.error());
  }
  if (*current > latest_schema_version()) {
    return core::fail(core::ErrorCode::kInternal,
                      "metadata database has schema version " + std::to_string(*current) +
                          ", but this Berth knows only up to version " +
                          std::to_string(latest_schema_version()) +
                          "; it was written by a newer Berth: upgrade Berth or restore a backup");
  }
  if (*current == latest_schema_version()) {
    return {};  // the transaction rolls back; nothing was written
  }
  for (const Migration& migration : kMigrations) {
    if (migration.version <= *current) {
      continue;
    }
    if (auto applied = connection.exec(std::string(migration.sql), "apply schema migration");
        !applied) {
      auto error = applied.error();
      error.message += " (migration " + std::to_string(migration.version) + ")";
      return std::unexpected(error);
    }
    auto record = connection.query(
        "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
        "record schema migration", migration.version, migration.description, now_unix_ms);
    if (!record) {
      return std::unexpected(record.error());
    }
    if (auto ran = record->run(); !ran) {
      return ran;
    }
  }
  // PRAGMA takes no parameters; the number is ours, not input.
  if (auto set = connection.exec("PRAGMA user_version = " + std::to_string(latest_schema_version()),
                                 "set schema version");
      !set) {
    return set;
  }
  return transaction.commit();
}

}  // namespace berth::meta::sqlite
