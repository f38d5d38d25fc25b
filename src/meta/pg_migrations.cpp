// The schema of the PostgreSQL metadata database, as a list of migrations, and the code that
// applies them at open (pg_migrations.hpp).
//
// Conventions, as in the SQLite schema (migrations.cpp, which explains each table):
//  - Times are unix milliseconds (core::to_unix_ms), BIGINT; flags are INTEGER 0/1, so the
//    stores bind and read the same values on both databases.
//  - Names and digests are TEXT COLLATE "C": byte-wise order, the order the contract promises
//    for every list, whatever the database's default collation.
//  - Foreign keys guard garbage collection as in SQLite: a blob row cannot be deleted while any
//    link, manifest or manifest reference still names it.
//  - "user" is a reserved word in PostgreSQL and is quoted where it names a column.
#include "meta/pg_migrations.hpp"

#include <array>
#include <string>

#include "meta/sql_account_store.hpp"
#include "meta/sql_audit_store.hpp"
#include "meta/sql_browse_store.hpp"
#include "meta/sql_login_throttle_store.hpp"
#include "meta/sql_outbox_store.hpp"
#include "meta/sql_session_store.hpp"

namespace berth::meta::pg {
namespace {

// Version 1, the registry and accounts: SQLite's migrations 1, 2, 3, 5 and 7 in their final
// shape.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE repositories (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name TEXT COLLATE "C" NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  project TEXT COLLATE "C" GENERATED ALWAYS AS (
    CASE WHEN strpos(name, '/') > 0 THEN substr(name, 1, strpos(name, '/') - 1) ELSE name END
  ) STORED
);
CREATE INDEX repositories_by_project ON repositories (project, name);

CREATE TABLE blobs (
  digest TEXT COLLATE "C" PRIMARY KEY,
  size BIGINT NOT NULL CHECK (size >= 0),
  created_at BIGINT NOT NULL
);

CREATE TABLE repository_blobs (
  repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  digest TEXT COLLATE "C" NOT NULL REFERENCES blobs (digest),
  created_at BIGINT NOT NULL,
  PRIMARY KEY (repository_id, digest)
);
CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest);

CREATE TABLE manifests (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  digest TEXT COLLATE "C" NOT NULL REFERENCES blobs (digest),
  media_type TEXT NOT NULL,
  size BIGINT NOT NULL CHECK (size >= 0),
  artifact_type TEXT,
  subject_digest TEXT COLLATE "C",
  annotations TEXT,
  created_at BIGINT NOT NULL,
  last_pulled_at BIGINT,
  pull_count BIGINT NOT NULL DEFAULT 0,
  UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_by_subject ON manifests (repository_id, subject_digest, digest)
  WHERE subject_digest IS NOT NULL;
CREATE INDEX manifests_by_digest ON manifests (digest);

CREATE TABLE manifest_blobs (
  manifest_id BIGINT NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  digest TEXT COLLATE "C" NOT NULL REFERENCES blobs (digest),
  PRIMARY KEY (manifest_id, digest)
);
CREATE INDEX manifest_blobs_by_digest ON manifest_blobs (digest);

CREATE TABLE manifest_children (
  manifest_id BIGINT NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  child_digest TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (manifest_id, child_digest)
);
CREATE INDEX manifest_children_by_child ON manifest_children (child_digest);

CREATE TABLE tags (
  repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  name TEXT COLLATE "C" NOT NULL,
  manifest_id BIGINT NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  updated_at BIGINT NOT NULL,
  last_pulled_at BIGINT,
  pull_count BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (repository_id, name)
);
CREATE INDEX tags_by_manifest ON tags (manifest_id);

CREATE TABLE uploads (
  id TEXT COLLATE "C" PRIMARY KEY,
  repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  started_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  size BIGINT NOT NULL CHECK (size >= 0),
  -- The running hash of those bytes (core::Hasher::save), written with the size, so that any
  -- replica continues the upload without reading it back (SQLite's migration 8).
  hash_state TEXT NOT NULL DEFAULT ''
);
CREATE INDEX uploads_by_repository ON uploads (repository_id);
CREATE INDEX uploads_by_updated ON uploads (updated_at);

CREATE TABLE blob_tombstones (
  digest TEXT COLLATE "C" PRIMARY KEY,
  created_at BIGINT NOT NULL
);

CREATE TABLE leases (
  name TEXT COLLATE "C" PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);

CREATE TABLE proxy_tags (
  repository TEXT COLLATE "C" NOT NULL,
  tag TEXT COLLATE "C" NOT NULL,
  digest TEXT COLLATE "C" NOT NULL,
  checked_at BIGINT NOT NULL,
  PRIMARY KEY (repository, tag)
);

CREATE TABLE proxy_partial_manifests (
  repository TEXT COLLATE "C" NOT NULL,
  digest TEXT COLLATE "C" NOT NULL,
  cached_at BIGINT NOT NULL,
  PRIMARY KEY (repository, digest)
);

-- Accounts. users.id is an identity: never handed out again, even after a delete.
CREATE TABLE users (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name TEXT COLLATE "C" NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  admin INTEGER NOT NULL CHECK (admin IN (0, 1)),
  created_at BIGINT NOT NULL
);

CREATE TABLE projects (
  name TEXT COLLATE "C" PRIMARY KEY,
  public INTEGER NOT NULL CHECK (public IN (0, 1)),
  created_at BIGINT NOT NULL
);

CREATE TABLE members (
  project TEXT COLLATE "C" NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
  "user" TEXT COLLATE "C" NOT NULL,
  role INTEGER NOT NULL CHECK (role BETWEEN 1 AND 4),
  PRIMARY KEY (project, "user")
);
CREATE INDEX members_by_user ON members ("user", project);

CREATE TABLE robots (
  name TEXT COLLATE "C" PRIMARY KEY,
  description TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  last_used_at BIGINT,
  revoked INTEGER NOT NULL CHECK (revoked IN (0, 1))
);

CREATE TABLE robot_scopes (
  robot TEXT COLLATE "C" NOT NULL REFERENCES robots (name) ON DELETE CASCADE,
  project TEXT COLLATE "C" NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
  role INTEGER NOT NULL CHECK (role BETWEEN 1 AND 4),
  PRIMARY KEY (robot, project)
);
CREATE INDEX robot_scopes_by_project ON robot_scopes (project);

CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  subject TEXT COLLATE "C" NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked INTEGER NOT NULL CHECK (revoked IN (0, 1)),
  account TEXT
);
CREATE INDEX refresh_tokens_by_subject ON refresh_tokens (subject);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

CREATE TABLE login_unlocks (
  "user" TEXT COLLATE "C" PRIMARY KEY,
  unlocked_at BIGINT NOT NULL
);
)sql";

// Version 2, the lifecycle: SQLite's migrations 4 and 6. Usage is kept by triggers, as there.
// Two differences of PostgreSQL shape the triggers:
//  - AFTER ROW triggers run at the end of their statement and see all of its rows, where
//    SQLite's run row by row. Counting down is therefore done BEFORE each row's delete (such a
//    trigger sees the rows its statement processed before), so that deleting a repository's
//    links in one statement counts the repository once. Counting up stays AFTER INSERT, which
//    an INSERT ... ON CONFLICT DO UPDATE that updates does not fire; the stores insert links
//    one row per statement.
//  - The quota refusal is an exception with SQLSTATE BQ001, which pg_connection.cpp maps to
//    DENIED (kQuotaExceeded) with the message as written here.
// Writers take turns on the write lock (pg_database.hpp), so a push's trigger reads the usage
// every earlier push left: the quota holds across replicas.
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE project_blobs (
  project TEXT COLLATE "C" NOT NULL,
  digest TEXT COLLATE "C" NOT NULL,
  refs BIGINT NOT NULL CHECK (refs >= 0),
  PRIMARY KEY (project, digest)
);

CREATE TABLE project_usage (
  project TEXT COLLATE "C" PRIMARY KEY,
  bytes BIGINT NOT NULL CHECK (bytes >= 0),
  repositories BIGINT NOT NULL CHECK (repositories >= 0)
);

CREATE TABLE project_settings (
  project TEXT COLLATE "C" PRIMARY KEY REFERENCES projects (name) ON DELETE CASCADE,
  retention TEXT,
  quota_bytes BIGINT CHECK (quota_bytes >= 0),
  quota_repositories BIGINT CHECK (quota_repositories >= 0),
  retention_last_run BIGINT
);

CREATE TABLE project_immutable_tags (
  project TEXT COLLATE "C" NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
  pattern TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (project, pattern)
);

CREATE FUNCTION repository_blobs_within_quota() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p TEXT;
  quota_bytes BIGINT;
  quota_repositories BIGINT;
BEGIN
  SELECT r.project, s.quota_bytes, s.quota_repositories
    INTO p, quota_bytes, quota_repositories
    FROM repositories r JOIN project_settings s ON s.project = r.project
    WHERE r.id = NEW.repository_id;
  IF NOT FOUND THEN
    RETURN NEW;
  END IF;
  IF quota_bytes IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM project_blobs pb WHERE pb.project = p AND pb.digest = NEW.digest)
     AND coalesce((SELECT u.bytes FROM project_usage u WHERE u.project = p), 0)
         + (SELECT b.size FROM blobs b WHERE b.digest = NEW.digest) > quota_bytes THEN
    RAISE EXCEPTION USING ERRCODE = 'BQ001', MESSAGE = 'quota exceeded: the project''s byte quota would be exceeded (by pushes at the same time); delete images or ask an owner to raise the quota';
  END IF;
  IF quota_repositories IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.repository_id = NEW.repository_id)
     AND coalesce((SELECT u.repositories FROM project_usage u WHERE u.project = p), 0) + 1
         > quota_repositories THEN
    RAISE EXCEPTION USING ERRCODE = 'BQ001', MESSAGE = 'quota exceeded: the project''s repository quota would be exceeded (by pushes at the same time); delete a repository or ask an owner to raise the quota';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER repository_blobs_within_quota BEFORE INSERT ON repository_blobs
  FOR EACH ROW EXECUTE FUNCTION repository_blobs_within_quota();

CREATE FUNCTION repository_blobs_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p TEXT;
BEGIN
  SELECT project INTO p FROM repositories WHERE id = NEW.repository_id;
  INSERT INTO project_usage (project, bytes, repositories) VALUES (p, 0, 0)
    ON CONFLICT (project) DO NOTHING;
  IF NOT EXISTS (SELECT 1 FROM repository_blobs
                 WHERE repository_id = NEW.repository_id AND digest <> NEW.digest) THEN
    UPDATE project_usage SET repositories = repositories + 1 WHERE project = p;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM project_blobs WHERE project = p AND digest = NEW.digest) THEN
    UPDATE project_usage
      SET bytes = bytes + (SELECT size FROM blobs WHERE digest = NEW.digest)
      WHERE project = p;
  END IF;
  INSERT INTO project_blobs (project, digest, refs) VALUES (p, NEW.digest, 1)
    ON CONFLICT (project, digest) DO UPDATE SET refs = project_blobs.refs + 1;
  RETURN NULL;
END $$;
CREATE TRIGGER repository_blobs_count AFTER INSERT ON repository_blobs
  FOR EACH ROW EXECUTE FUNCTION repository_blobs_count();

CREATE FUNCTION repository_blobs_uncount() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p TEXT;
BEGIN
  SELECT project INTO p FROM repositories WHERE id = OLD.repository_id;
  IF p IS NULL THEN
    RETURN OLD;
  END IF;
  UPDATE project_blobs SET refs = refs - 1 WHERE project = p AND digest = OLD.digest;
  IF EXISTS (SELECT 1 FROM project_blobs WHERE project = p AND digest = OLD.digest AND refs = 0)
  THEN
    UPDATE project_usage
      SET bytes = bytes - (SELECT size FROM blobs WHERE digest = OLD.digest)
      WHERE project = p;
    DELETE FROM project_blobs WHERE project = p AND digest = OLD.digest AND refs = 0;
  END IF;
  -- The row itself is still there: "no other link" means the repository holds nothing after.
  IF NOT EXISTS (SELECT 1 FROM repository_blobs
                 WHERE repository_id = OLD.repository_id AND digest <> OLD.digest) THEN
    UPDATE project_usage SET repositories = repositories - 1 WHERE project = p;
  END IF;
  RETURN OLD;
END $$;
CREATE TRIGGER repository_blobs_uncount BEFORE DELETE ON repository_blobs
  FOR EACH ROW EXECUTE FUNCTION repository_blobs_uncount();

CREATE FUNCTION repository_blobs_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'repository_blobs rows are never changed in place (usage counts them)';
END $$;
CREATE TRIGGER repository_blobs_fixed BEFORE UPDATE OF repository_id, digest ON repository_blobs
  FOR EACH ROW EXECUTE FUNCTION repository_blobs_fixed();

-- The cascade from repositories would delete links after their repository is gone, when
-- the link's project can no longer be looked up: so the links go first, here.
CREATE FUNCTION repositories_unlink() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM repository_blobs WHERE repository_id = OLD.id;
  RETURN OLD;
END $$;
CREATE TRIGGER repositories_unlink BEFORE DELETE ON repositories
  FOR EACH ROW EXECUTE FUNCTION repositories_unlink();
)sql";

constexpr std::string_view kSchemaV3 = sql::logins::kSchema;

// Version 4: SQLite's migration 10 (migrations.cpp explains it).
constexpr std::string_view kSchemaV4 = R"sql(
ALTER TABLE manifests ADD COLUMN total_size BIGINT;
ALTER TABLE manifests ADD COLUMN platforms TEXT;
)sql" BERTH_BACKFILL_MANIFEST_TOTALS R"sql(
CREATE INDEX tags_by_pushed ON tags (repository_id, updated_at);

CREATE TABLE gc_runs (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  started_at BIGINT NOT NULL,
  finished_at BIGINT NOT NULL,
  dry_run INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
  started_by TEXT NOT NULL,
  report TEXT NOT NULL
);
)sql";
constexpr std::string_view kSchemaV5 = sql::sessions::kSchema;
// Version 6: the event outbox and webhooks (sql_outbox_store.hpp), as SQLite's 12.
constexpr std::string_view kSchemaV6 = sql::outbox::kPgSchema;
// Version 7: the audit log (meta/audit_store.hpp).
constexpr std::string_view kSchemaV7 = sql::audit::kPgSchema;
// Version 8: the account version, as SQLite's 14 (account_store.hpp).
constexpr std::string_view kSchemaV8 = sql::account::kVersionSchema;

constexpr std::array kMigrations = {
    PgMigration{1, "registry schema: repositories, blobs, manifests, tags, uploads", kSchemaV1},
    PgMigration{2, "lifecycle: project settings, usage and quotas kept by triggers", kSchemaV2},
    PgMigration{3, "accounts: login throttling shared by replicas", kSchemaV3},
    PgMigration{4, "browsing: manifest sizes and platforms, tags by push time, gc runs", kSchemaV4},
    PgMigration{5, "accounts: web UI sessions", kSchemaV5},
    PgMigration{6, "events: outbox, webhooks, deliveries", kSchemaV6},
    PgMigration{7, "audit log", kSchemaV7},
    PgMigration{8, "accounts: the account version", kSchemaV8},
};

// The key of the advisory lock that serializes migrations (any constant; "berth" in ASCII).
constexpr std::string_view kMigrationLock = "SELECT pg_advisory_xact_lock(426287956072)";

constexpr std::string_view kCreateVersionTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at BIGINT NOT NULL
))sql";

Result<void> apply(Connection& connection, int current, std::int64_t now_unix_ms) {
  for (const PgMigration& migration : kMigrations) {
    if (migration.version <= current) {
      continue;
    }
    if (auto applied = connection.exec(std::string(migration.sql), "apply schema migration");
        !applied) {
      auto error = applied.error();
      error.message += " (migration " + std::to_string(migration.version) + ")";
      return std::unexpected(error);
    }
    BERTH_TRY(connection.query(
        "INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)",
        "record schema migration", migration.version, migration.description, now_unix_ms));
  }
  return {};
}

}  // namespace

std::span<const PgMigration> pg_migrations() { return kMigrations; }

int latest_pg_schema_version() { return kMigrations.back().version; }

Result<int> pg_schema_version(Connection& connection) {
  auto table = connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL",
                                "look for schema version table");
  if (!table) {
    return std::unexpected(table.error());
  }
  if (auto row = table->step(); !row || !*row || table->int64(0) == 0) {
    return row ? Result<int>(0) : std::unexpected(row.error());
  }
  auto version = connection.query("SELECT coalesce(max(version), 0) FROM schema_migrations",
                                  "read schema version");
  if (!version) {
    return std::unexpected(version.error());
  }
  auto row = version->step();
  if (!row) {
    return std::unexpected(row.error());
  }
  return *row ? static_cast<int>(version->int64(0)) : 0;
}

Result<void> pg_migrate(Connection& connection, std::int64_t now_unix_ms) {
  BERTH_TRY(connection.exec("BEGIN", "begin schema migration"));
  auto migrated = [&]() -> Result<void> {
    BERTH_TRY(connection.query(kMigrationLock, "lock schema migration"));
    // Read under the lock: another replica may have migrated while we waited.
    auto current = pg_schema_version(connection);
    if (!current) {
      return std::unexpected(current.error());
    }
    if (*current > latest_pg_schema_version()) {
      return core::fail(core::ErrorCode::kInternal,
                        "metadata database has schema version " + std::to_string(*current) +
                            ", but this Berth knows only up to version " +
                            std::to_string(latest_pg_schema_version()) +
                            "; it was written by a newer Berth: upgrade Berth");
    }
    if (*current == latest_pg_schema_version()) {
      return {};
    }
    BERTH_TRY(connection.query(kCreateVersionTable, "create schema version table"));
    return apply(connection, *current, now_unix_ms);
  }();
  if (!migrated) {
    if (connection.healthy()) {
      (void)connection.exec("ROLLBACK", "roll back schema migration");
    }
    return migrated;
  }
  return connection.exec("COMMIT", "commit schema migration");
}

}  // namespace berth::meta::pg
