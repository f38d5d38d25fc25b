// The GcStore over either database (sql_text.hpp): the reachability rules of
// gc_store.hpp as recursive CTEs over the schema of migrations 1 and 3, and the
// tombstone and lease tables of migration 3.
//
// Listing and deleting ask the same question in two shapes. A listing walks the
// graph down from its roots (tags, young manifests) to everything live and
// returns what is left; it is one SELECT, so it sees a snapshot and takes no
// lock. A deletion asks about one candidate, walking up from it (its parent
// indexes, its subject) to a root, inside the write transaction that deletes
// it: the write lock (SQLite's single writer; on PostgreSQL the cluster-wide
// lock of pg_database.hpp, so across replicas too) is held from the check to
// the delete, so a push that makes the candidate live commits wholly before
// (and the check sees it) or after (and finds it gone, which put_manifest
// reports as a missing reference). The same holds for links against tombstones,
// and for the lease row. Each deletion is its own short transaction, so pushes
// never wait behind a whole collection.
//
// Every lookup inside those statements is an index search;
// sqlite_gc_store_test.cpp checks SQLite's plans (gc_statements()). Internal to
// meta/: made by sqlite::make_gc_store and pg::make_gc_store.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "meta/gc_store.hpp"
#include "meta/sql_lookups.hpp"
#include "meta/sql_rows.hpp"
#include "meta/sql_text.hpp"

namespace berth::meta::sql::gc {

// ---- SQL (sql_text.hpp). Times are unix ms; a link or manifest is young when
// its time is >= the cutoff.

// The words the dialects spell differently here. SQLite's recursive CTEs may
// refer to themselves in several branches; PostgreSQL's only once, so there the
// walks follow one union of edges (BERTH_GC_EDGES) instead. SQLite's CROSS JOIN
// fixes the join order (see BERTH_LINK_REFERENCED); PostgreSQL takes no ON with
// it and plans joins by its statistics. PostgreSQL needs the type of a bare
// parameter in a select list.
#define BERTH_GC_FALSE_SQLITE "0"
#define BERTH_GC_FALSE_PG "false"
#define BERTH_GC_CROSS_JOIN_SQLITE "CROSS JOIN"
#define BERTH_GC_CROSS_JOIN_PG "JOIN"
#define BERTH_GC_BIGINT_SQLITE ""
#define BERTH_GC_BIGINT_PG "::bigint"

// The edges along which liveness spreads within a repository, as (source,
// target): an index to its children, a subject to its referrers.
// clang-format off
#define BERTH_GC_EDGES                                     \
  "(SELECT p.id AS source, c.id AS target"                 \
  " FROM manifests p"                                      \
  " JOIN manifest_children mc ON mc.manifest_id = p.id"    \
  " JOIN manifests c ON c.repository_id = p.repository_id" \
  " AND c.digest = mc.child_digest"                        \
  " UNION ALL"                                             \
  " SELECT s.id, r.id"                                     \
  " FROM manifests s"                                      \
  " JOIN manifests r ON r.repository_id = s.repository_id" \
  " AND r.subject_digest = s.digest) e"
// clang-format on

// From the live manifests to their children and referrers.
// clang-format off
#define BERTH_GC_DOWN_SQLITE                               \
  " SELECT c.id"                                           \
  " FROM live"                                             \
  " JOIN manifests p ON p.id = live.id"                    \
  " JOIN manifest_children mc ON mc.manifest_id = p.id"    \
  " JOIN manifests c ON c.repository_id = p.repository_id" \
  " AND c.digest = mc.child_digest"                        \
  " UNION"                                                 \
  " SELECT r.id"                                           \
  " FROM live"                                             \
  " JOIN manifests s ON s.id = live.id"                    \
  " JOIN manifests r ON r.repository_id = s.repository_id" \
  " AND r.subject_digest = s.digest"
// clang-format on
#define BERTH_GC_DOWN_PG " SELECT e.target FROM live JOIN " BERTH_GC_EDGES " ON e.source = live.id"

// From the manifests `up` to the indexes naming them and the subjects they
// refer to.
// clang-format off
#define BERTH_GC_UP_SQLITE                                   \
  " SELECT p.id"                                             \
  " FROM up"                                                 \
  " JOIN manifests m ON m.id = up.id"                        \
  " JOIN manifest_children mc ON mc.child_digest = m.digest" \
  " JOIN manifests p ON p.id = mc.manifest_id"               \
  " AND p.repository_id = m.repository_id"                   \
  " UNION"                                                   \
  " SELECT s.id"                                             \
  " FROM up"                                                 \
  " JOIN manifests m ON m.id = up.id"                        \
  " JOIN manifests s ON s.repository_id = m.repository_id"   \
  " AND s.digest = m.subject_digest"
// clang-format on
#define BERTH_GC_UP_PG "  SELECT e.source FROM up JOIN " BERTH_GC_EDGES " ON e.target = up.id"

// A manifest `m` is young: pushed (or pushed again: its own-bytes link is
// refreshed by every put) at or after the cutoff ?1.
// clang-format off
#define BERTH_MANIFEST_YOUNG(cutoff)           \
  "(m.created_at >= "                          \
  cutoff                                       \
  " OR EXISTS (SELECT 1"                       \
  " FROM repository_blobs own"                 \
  " WHERE own.repository_id = m.repository_id" \
  " AND own.digest = m.digest"                 \
  " AND own.created_at >= "                    \
  cutoff                                       \
  "))"
// clang-format on

// The live manifests, walking down from the roots: tags, young manifests, then
// the children and referrers of whatever is live, within its repository. Where
// `all_live` holds, every manifest is a root.
// clang-format off
#define BERTH_LIVE_MANIFESTS(d, cutoff, all_live) \
  "live(id) AS ("                                 \
  " SELECT manifest_id"                           \
  " FROM tags"                                    \
  " UNION"                                        \
  " SELECT m.id"                                  \
  " FROM manifests m"                             \
  " WHERE "                                       \
  all_live                                        \
  " OR "                                          \
  BERTH_MANIFEST_YOUNG(cutoff)                    \
  " UNION"                                        \
  BERTH_SQL_IN(BERTH_GC_DOWN, d)                  \
  ")"
// clang-format on

// clang-format off
#define BERTH_UNREACHABLE_MANIFESTS(d)                           \
  "WITH RECURSIVE "                                              \
  BERTH_LIVE_MANIFESTS(d, "?1", BERTH_SQL_IN(BERTH_GC_FALSE, d)) \
  " SELECT r.name, m.digest, m.size"                             \
  " FROM manifests m"                                            \
  " JOIN repositories r ON r.id = m.repository_id"               \
  " WHERE m.id NOT IN (SELECT id"                                \
  " FROM live)"                                                  \
  " ORDER BY m.id"                                               \
  " LIMIT ?2"
// clang-format on

inline constexpr Text kUnreachableManifests{BERTH_SQL_BOTH(BERTH_UNREACHABLE_MANIFESTS)};

#undef BERTH_UNREACHABLE_MANIFESTS

// Whether manifest ?1 is live with the untagged cutoff ?2, walking up: it, the
// indexes that name it, the subjects it refers to, and theirs, within its
// repository; live if any of them is tagged or young.
// clang-format off
#define BERTH_MANIFEST_LIVE(d)        \
  "WITH RECURSIVE up(id) AS ("        \
  " SELECT ?1"                        \
  BERTH_SQL_IN(BERTH_GC_BIGINT, d)    \
  " UNION "                           \
  BERTH_SQL_IN(BERTH_GC_UP, d)        \
  " )"                                \
  " SELECT 1"                         \
  " FROM up"                          \
  " JOIN manifests m ON m.id = up.id" \
  " WHERE EXISTS (SELECT 1"           \
  " FROM tags t"                      \
  " WHERE t.manifest_id = m.id)"      \
  " OR "                              \
  BERTH_MANIFEST_YOUNG("?2")          \
  " LIMIT 1"
// clang-format on

inline constexpr Text kManifestLive{BERTH_SQL_BOTH(BERTH_MANIFEST_LIVE)};

#undef BERTH_MANIFEST_LIVE

// Cascades to the manifest's manifest_blobs and manifest_children rows (and
// tags, of which a manifest that is not live has none).
inline constexpr Text kDeleteManifest = "DELETE FROM manifests WHERE id = ?1";

// The own-bytes link of a deleted manifest goes with it, unless another
// manifest of the repository names those bytes as a blob (then the link is live
// by the link rule).
// clang-format off
#define BERTH_DELETE_OWN_LINK(d)          \
  "DELETE"                                \
  " FROM repository_blobs"                \
  " WHERE repository_id = ?1"             \
  " AND digest = ?2"                      \
  " AND NOT EXISTS (SELECT 1"             \
  " FROM manifest_blobs mb "              \
  BERTH_SQL_IN(BERTH_GC_CROSS_JOIN, d)    \
  " manifests m ON m.id = mb.manifest_id" \
  " WHERE mb.digest = ?2"                 \
  " AND m.repository_id = ?1)"
// clang-format on

inline constexpr Text kDeleteOwnLink{BERTH_SQL_BOTH(BERTH_DELETE_OWN_LINK)};

#undef BERTH_DELETE_OWN_LINK

// A link `rb` is referenced: a manifest of its repository is its digest or
// names it. The manifests naming a digest are found by the digest, then
// filtered by repository (CROSS JOIN fixes that order): a layer is named by a
// handful of manifests, while a repository may hold thousands, which is the
// order SQLite would guess without statistics.
// clang-format off
#define BERTH_LINK_REFERENCED(d, digest)      \
  "(EXISTS (SELECT 1"                         \
  " FROM manifests m"                         \
  " WHERE m.repository_id = rb.repository_id" \
  " AND m.digest = "                          \
  digest                                      \
  ")"                                         \
  " OR EXISTS (SELECT 1"                      \
  " FROM manifest_blobs mb "                  \
  BERTH_SQL_IN(BERTH_GC_CROSS_JOIN, d)        \
  " manifests m ON m.id = mb.manifest_id"     \
  " WHERE mb.digest = "                       \
  digest                                      \
  " AND m.repository_id = rb.repository_id))"
// clang-format on

// clang-format off
#define BERTH_UNREFERENCED_LINKS(d)                 \
  "SELECT r.name, rb.digest, b.size"                \
  " FROM repository_blobs rb"                       \
  " JOIN repositories r ON r.id = rb.repository_id" \
  " JOIN blobs b ON b.digest = rb.digest"           \
  " WHERE rb.created_at < ?1"                       \
  " AND NOT "                                       \
  BERTH_LINK_REFERENCED(d, "rb.digest")             \
  " LIMIT ?2"
// clang-format on

inline constexpr Text kUnreferencedLinks{BERTH_SQL_BOTH(BERTH_UNREFERENCED_LINKS)};

#undef BERTH_UNREFERENCED_LINKS

// clang-format off
#define BERTH_DELETE_UNREFERENCED_LINK(d) \
  "DELETE"                                \
  " FROM repository_blobs AS rb"          \
  " WHERE rb.repository_id = (SELECT id"  \
  " FROM repositories"                    \
  " WHERE name = ?1)"                     \
  " AND rb.digest = ?2"                   \
  " AND rb.created_at < ?3"               \
  " AND NOT "                             \
  BERTH_LINK_REFERENCED(d, "?2")
// clang-format on

inline constexpr Text kDeleteUnreferencedLink{BERTH_SQL_BOTH(BERTH_DELETE_UNREFERENCED_LINK)};

#undef BERTH_DELETE_UNREFERENCED_LINK

// Whether anything names the blob: a link, a manifest's reference, a manifest's
// own bytes. The last two are what the foreign keys on blobs would refuse to
// orphan.
// clang-format off
#define BERTH_BLOB_REFERENCED(digest) \
  "(EXISTS (SELECT 1"                 \
  " FROM repository_blobs"            \
  " WHERE digest = "                  \
  digest                              \
  ")"                                 \
  " OR EXISTS (SELECT 1"              \
  " FROM manifest_blobs"              \
  " WHERE digest = "                  \
  digest                              \
  ")"                                 \
  " OR EXISTS (SELECT 1"              \
  " FROM manifests"                   \
  " WHERE digest = "                  \
  digest                              \
  "))"
// clang-format on

inline constexpr Text kOrphanBlobs =
    "SELECT b.digest, b.size FROM blobs b WHERE NOT " BERTH_BLOB_REFERENCED("b.digest") " LIMIT ?1";

inline constexpr Text kBlobReferenced = "SELECT " BERTH_BLOB_REFERENCED("?1");

inline constexpr Text kDeleteBlob = "DELETE FROM blobs WHERE digest = ?1";

inline constexpr Text kInsertTombstone =
    "INSERT INTO blob_tombstones (digest, created_at) VALUES (?1, ?2) "
    "ON CONFLICT (digest) DO NOTHING";

inline constexpr Text kTombstones = "SELECT digest FROM blob_tombstones ORDER BY digest";

inline constexpr Text kClearTombstone = "DELETE FROM blob_tombstones WHERE digest = ?1";

inline constexpr Text kBlobKnown =
    "SELECT EXISTS (SELECT 1 FROM blobs WHERE digest = ?1) "
    "OR EXISTS (SELECT 1 FROM blob_tombstones WHERE digest = ?1)";

// Taken when free, expired, or already ours (a renewal).
inline constexpr Text kAcquireLease = R"sql(
INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?4)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
  WHERE leases.holder = excluded.holder OR leases.expires_at <= ?3)sql";

inline constexpr Text kReleaseLease = "DELETE FROM leases WHERE name = ?1 AND holder = ?2";

inline constexpr Text kInsertRun = R"sql(
INSERT INTO gc_runs (started_at, finished_at, dry_run, started_by, report)
VALUES (?1, ?2, ?3, ?4, ?5))sql";

inline constexpr Text kTrimRuns = R"sql(
DELETE FROM gc_runs WHERE id NOT IN (SELECT id FROM gc_runs ORDER BY id DESC LIMIT ?1))sql";

inline constexpr Text kRecentRuns = R"sql(
SELECT started_at, finished_at, dry_run, started_by, report FROM gc_runs ORDER BY id DESC)sql";
inline constexpr Text kLeaseHolder = "SELECT holder, expires_at FROM leases WHERE name = ?1";

// The dry run: the three deleting steps on one snapshot. ?1 is the untagged
// cutoff (NULL: every manifest is a root), ?2 the grace cutoff. `doomed` are
// the manifests the first step deletes, in id order as it does. `gone_links`
// are the links the second step deletes (not referenced by a surviving manifest
// and older than the grace), and the own-bytes links the first step deletes
// with their manifests (`with_manifest`, reported with the manifest, not as
// links): deleting manifest d takes its own link unless a manifest still there
// names those bytes, and of the doomed ones only those after d in id order are
// still there. `gone_blobs` are then the rows nothing surviving names.
// clang-format off
#define BERTH_PLAN(d)                                                                                     \
  "WITH RECURSIVE "                                                                                       \
  BERTH_LIVE_MANIFESTS(d, "?1", "?1" BERTH_SQL_IN(BERTH_GC_BIGINT, d) " IS NULL")                         \
  ", doomed(id, repository_id, digest, size) AS MATERIALIZED ("                                           \
  " SELECT id, repository_id, digest, size"                                                               \
  " FROM manifests"                                                                                       \
  " WHERE id NOT IN (SELECT id"                                                                           \
  " FROM live) ), unreferenced(repository_id, digest, size, created_at, with_manifest) AS MATERIALIZED (" \
  " SELECT rb.repository_id, rb.digest, b.size, rb.created_at, EXISTS (SELECT 1"                          \
  " FROM doomed d"                                                                                        \
  " WHERE d.repository_id = rb.repository_id"                                                             \
  " AND d.digest = rb.digest"                                                                             \
  " AND NOT EXISTS (SELECT 1"                                                                             \
  " FROM manifest_blobs mb       "                                                                        \
  BERTH_SQL_IN(BERTH_GC_CROSS_JOIN, d)                                                                    \
  " doomed later ON later.id = mb.manifest_id"                                                            \
  " WHERE mb.digest = rb.digest"                                                                          \
  " AND later.repository_id = rb.repository_id"                                                           \
  " AND later.id > d.id))"                                                                                \
  " FROM repository_blobs rb"                                                                             \
  " JOIN blobs b ON b.digest = rb.digest"                                                                 \
  " WHERE NOT EXISTS (SELECT 1"                                                                           \
  " FROM manifests m"                                                                                     \
  " WHERE m.repository_id = rb.repository_id"                                                             \
  " AND m.digest = rb.digest"                                                                             \
  " AND m.id NOT IN (SELECT id"                                                                           \
  " FROM doomed))"                                                                                        \
  " AND NOT EXISTS (SELECT 1"                                                                             \
  " FROM manifest_blobs mb     "                                                                          \
  BERTH_SQL_IN(BERTH_GC_CROSS_JOIN, d)                                                                    \
  " manifests m ON m.id = mb.manifest_id"                                                                 \
  " WHERE mb.digest = rb.digest"                                                                          \
  " AND m.repository_id = rb.repository_id"                                                               \
  " AND m.id NOT IN (SELECT id"                                                                           \
  " FROM doomed)) ), gone_links(repository_id, digest, size, with_manifest) AS MATERIALIZED ("            \
  " SELECT repository_id, digest, size, with_manifest"                                                    \
  " FROM unreferenced"                                                                                    \
  " WHERE with_manifest"                                                                                  \
  " OR created_at < ?2 ), gone_blobs(digest, size) AS ("                                                  \
  " SELECT b.digest, b.size"                                                                              \
  " FROM blobs b"                                                                                         \
  " WHERE NOT EXISTS (SELECT 1"                                                                           \
  " FROM repository_blobs rb"                                                                             \
  " WHERE rb.digest = b.digest"                                                                           \
  " AND NOT EXISTS (SELECT 1"                                                                             \
  " FROM gone_links g"                                                                                    \
  " WHERE g.repository_id = rb.repository_id"                                                             \
  " AND g.digest = rb.digest))"                                                                           \
  " AND NOT EXISTS (SELECT 1"                                                                             \
  " FROM manifest_blobs mb"                                                                               \
  " WHERE mb.digest = b.digest"                                                                           \
  " AND mb.manifest_id NOT IN (SELECT id"                                                                 \
  " FROM doomed))"                                                                                        \
  " AND NOT EXISTS (SELECT 1"                                                                             \
  " FROM manifests m"                                                                                     \
  " WHERE m.digest = b.digest"                                                                            \
  " AND m.id NOT IN (SELECT id"                                                                           \
  " FROM doomed)) )"                                                                                      \
  " SELECT 0, r.name, d.digest, d.size"                                                                   \
  " FROM doomed d"                                                                                        \
  " JOIN repositories r ON r.id = d.repository_id"                                                        \
  " UNION ALL"                                                                                            \
  " SELECT 1, r.name, g.digest, g.size"                                                                   \
  " FROM gone_links g"                                                                                    \
  " JOIN repositories r ON r.id = g.repository_id"                                                        \
  " WHERE NOT g.with_manifest"                                                                            \
  " UNION ALL"                                                                                            \
  " SELECT 2, '', digest, size"                                                                           \
  " FROM gone_blobs"                                                                                      \
  " ORDER BY 1, 2, 3"
// clang-format on

inline constexpr Text kPlan{BERTH_SQL_BOTH(BERTH_PLAN)};

#undef BERTH_PLAN

#undef BERTH_MANIFEST_YOUNG
#undef BERTH_LIVE_MANIFESTS
#undef BERTH_LINK_REFERENCED
#undef BERTH_BLOB_REFERENCED
#undef BERTH_GC_FALSE_SQLITE
#undef BERTH_GC_FALSE_PG
#undef BERTH_GC_CROSS_JOIN_SQLITE
#undef BERTH_GC_CROSS_JOIN_PG
#undef BERTH_GC_BIGINT_SQLITE
#undef BERTH_GC_BIGINT_PG
#undef BERTH_GC_EDGES
#undef BERTH_GC_DOWN_SQLITE
#undef BERTH_GC_DOWN_PG
#undef BERTH_GC_UP_SQLITE
#undef BERTH_GC_UP_PG

// ---- helpers

// Rows of (repository, digest, size), as ManifestCandidate or LinkCandidate.
template <class Db, class Candidate>
Result<std::vector<Candidate>> candidates(typename Db::Statement& statement) {
  return all_rows<Candidate>(statement, [](const auto& row) -> Result<Candidate> {
    auto repository = column_repository<Db>(row, 0);
    if (!repository) {
      return forward(repository);
    }
    auto digest = column_digest<Db>(row, 1);
    if (!digest) {
      return forward(digest);
    }
    return Candidate{std::move(*repository), std::move(*digest),
                     static_cast<std::uint64_t>(row.int64(2))};
  });
}

template <class Statement>
Result<bool> exists(Statement& statement) {
  auto value = first_int64(statement);
  if (!value) {
    return forward(value);
  }
  return value->has_value() && **value != 0;
}

template <class Db>
class BasicGcStore final : public GcStore {
 public:
  using Connection = typename Db::Connection;
  using Statement = typename Db::Statement;

  explicit BasicGcStore(std::shared_ptr<typename Db::Database> database)
      : database_(std::move(database)) {}

  Result<std::vector<ManifestCandidate>> unreachable_manifests(core::TimePoint untagged_cutoff,
                                                               std::size_t limit) override {
    return database_->read([&](Connection& connection) -> Result<std::vector<ManifestCandidate>> {
      auto statement =
          connection.query(Db::sql(kUnreachableManifests), "list unreachable manifests",
                           core::to_unix_ms(untagged_cutoff), sql_limit(limit));
      if (!statement) {
        return forward(statement);
      }
      return candidates<Db, ManifestCandidate>(*statement);
    });
  }

  Result<bool> delete_unreachable_manifest(const core::RepositoryName& repo,
                                           const core::Digest& digest,
                                           core::TimePoint untagged_cutoff) override {
    return database_->write([&](Connection& connection) -> Result<bool> {
      auto ids = manifest_ids<Db>(connection, repo, digest);
      if (!ids || !*ids) {
        return ids ? Result<bool>(false) : forward(ids);
      }
      const std::int64_t manifest = (*ids)->manifest;
      const std::int64_t repository = (*ids)->repository;
      auto live = connection.query(Db::sql(kManifestLive), "check manifest reachability", manifest,
                                   core::to_unix_ms(untagged_cutoff));
      if (!live) {
        return forward(live);
      }
      auto is_live = live->step();
      if (!is_live) {
        return forward(is_live);
      }
      if (*is_live) {
        return false;
      }
      if (auto deleted = run(connection, Db::sql(kDeleteManifest), "delete manifest", manifest);
          !deleted) {
        return forward(deleted);
      }
      if (auto unlinked = run(connection, Db::sql(kDeleteOwnLink), "unlink manifest bytes",
                              repository, digest.str());
          !unlinked) {
        return forward(unlinked);
      }
      return true;
    });
  }

  Result<std::vector<LinkCandidate>> unreferenced_links(core::TimePoint grace_cutoff,
                                                        std::size_t limit) override {
    return database_->read([&](Connection& connection) -> Result<std::vector<LinkCandidate>> {
      auto statement = connection.query(Db::sql(kUnreferencedLinks), "list unreferenced links",
                                        core::to_unix_ms(grace_cutoff), sql_limit(limit));
      if (!statement) {
        return forward(statement);
      }
      return candidates<Db, LinkCandidate>(*statement);
    });
  }

  Result<bool> delete_unreferenced_link(const core::RepositoryName& repo,
                                        const core::Digest& digest,
                                        core::TimePoint grace_cutoff) override {
    return database_->write([&](Connection& connection) {
      return run_changed(connection, Db::sql(kDeleteUnreferencedLink), "delete unreferenced link",
                         repo.str(), digest.str(), core::to_unix_ms(grace_cutoff));
    });
  }

  Result<std::vector<OrphanBlob>> orphan_blobs(std::size_t limit) override {
    return database_->read([&](Connection& connection) -> Result<std::vector<OrphanBlob>> {
      auto statement =
          connection.query(Db::sql(kOrphanBlobs), "list orphan blobs", sql_limit(limit));
      if (!statement) {
        return forward(statement);
      }
      return all_rows<OrphanBlob>(*statement, [](const Statement& row) -> Result<OrphanBlob> {
        auto digest = column_digest<Db>(row, 0);
        if (!digest) {
          return forward(digest);
        }
        return OrphanBlob{std::move(*digest), static_cast<std::uint64_t>(row.int64(1))};
      });
    });
  }

  Result<bool> tombstone_orphan_blob(const core::Digest& digest, core::TimePoint now) override {
    // Durable: the caller deletes the bytes next, and a power loss must not
    // bring back the row, a link, or a manifest naming the digest without them.
    // Syncing the WAL makes every earlier commit durable too, including the
    // deletions that orphaned the blob.
    return database_->write_durable(
        [&](Connection& connection) { return tombstone_if_orphan(connection, digest, now); });
  }

  Result<std::vector<core::Digest>> tombstone_orphan_blobs(const std::vector<core::Digest>& digests,
                                                           core::TimePoint now) override {
    // As above, with one sync for the whole batch.
    return database_->write_durable(
        [&](Connection& connection) -> Result<std::vector<core::Digest>> {
          std::vector<core::Digest> tombstoned;
          for (const auto& digest : digests) {
            auto done = tombstone_if_orphan(connection, digest, now);
            if (!done) {
              return forward(done);
            }
            if (*done) {
              tombstoned.push_back(digest);
            }
          }
          return tombstoned;
        });
  }

  Result<std::vector<core::Digest>> tombstones() override {
    return database_->read([&](Connection& connection) -> Result<std::vector<core::Digest>> {
      auto statement = connection.query(Db::sql(kTombstones), "list blob tombstones");
      if (!statement) {
        return forward(statement);
      }
      return all_rows<core::Digest>(*statement,
                                    [](const Statement& row) { return column_digest<Db>(row, 0); });
    });
  }

  Result<void> clear_tombstone(const core::Digest& digest) override {
    return database_->write([&](Connection& connection) {
      return run(connection, Db::sql(kClearTombstone), "clear blob tombstone", digest.str());
    });
  }

  Result<bool> blob_known(const core::Digest& digest) override {
    return database_->read([&](Connection& connection) -> Result<bool> {
      auto statement = connection.query(Db::sql(kBlobKnown), "look up blob", digest.str());
      if (!statement) {
        return forward(statement);
      }
      return exists(*statement);
    });
  }

  Result<GcPlan> plan(std::optional<core::TimePoint> untagged_cutoff,
                      core::TimePoint grace_cutoff) override {
    std::optional<std::int64_t> untagged_ms;
    if (untagged_cutoff) {
      untagged_ms = core::to_unix_ms(*untagged_cutoff);
    }
    return database_->read([&](Connection& connection) -> Result<GcPlan> {
      auto statement = connection.query(Db::sql(kPlan), "plan garbage collection", untagged_ms,
                                        core::to_unix_ms(grace_cutoff));
      if (!statement) {
        return forward(statement);
      }
      GcPlan plan;
      while (true) {
        auto row = statement->step();
        if (!row) {
          return forward(row);
        }
        if (!*row) {
          return plan;
        }
        auto digest = column_digest<Db>(*statement, 2);
        if (!digest) {
          return forward(digest);
        }
        const auto size = static_cast<std::uint64_t>(statement->int64(3));
        const std::int64_t kind = statement->int64(0);
        if (kind == 2) {
          plan.blobs.push_back(OrphanBlob{std::move(*digest), size});
          continue;
        }
        auto repository = column_repository<Db>(*statement, 1);
        if (!repository) {
          return forward(repository);
        }
        if (kind == 0) {
          plan.manifests.push_back(
              ManifestCandidate{std::move(*repository), std::move(*digest), size});
        } else {
          plan.links.push_back(LinkCandidate{std::move(*repository), std::move(*digest), size});
        }
      }
    });
  }

  Result<bool> acquire_lease(std::string_view name, std::string_view holder, core::TimePoint now,
                             std::chrono::seconds ttl) override {
    return database_->write([&](Connection& connection) {
      return run_changed(connection, Db::sql(kAcquireLease), "acquire lease", name, holder,
                         core::to_unix_ms(now), core::to_unix_ms(now + ttl));
    });
  }

  Result<void> release_lease(std::string_view name, std::string_view holder) override {
    return database_->write([&](Connection& connection) {
      return run(connection, Db::sql(kReleaseLease), "release lease", name, holder);
    });
  }
  Result<void> record_run(const GcRun& run) override {
    return database_->write([&](Connection& connection) -> Result<void> {
      BERTH_TRY(sql::run(connection, Db::sql(kInsertRun), "record gc run",
                         core::to_unix_ms(run.started), core::to_unix_ms(run.finished), run.dry_run,
                         run.started_by, run.report_json));
      return sql::run(connection, Db::sql(kTrimRuns), "trim gc runs",
                      static_cast<std::int64_t>(kGcRunsKept));
    });
  }

  Result<std::vector<GcRun>> recent_runs() override {
    return database_->read([&](Connection& connection) -> Result<std::vector<GcRun>> {
      auto statement = connection.query(Db::sql(kRecentRuns), "list gc runs");
      if (!statement) {
        return forward(statement);
      }
      return all_rows<GcRun>(*statement, [](const Statement& row) -> Result<GcRun> {
        return GcRun{core::from_unix_ms(row.int64(0)), core::from_unix_ms(row.int64(1)),
                     row.int64(2) != 0, row.text(3), row.text(4)};
      });
    });
  }

  Result<std::optional<LeaseHolder>> lease_holder(std::string_view name) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<LeaseHolder>> {
      auto statement = connection.query(Db::sql(kLeaseHolder), "look up lease", name);
      if (!statement) {
        return forward(statement);
      }
      return first_row<LeaseHolder>(*statement, [](const Statement& row) -> Result<LeaseHolder> {
        return LeaseHolder{row.text(0), core::from_unix_ms(row.int64(1))};
      });
    });
  }

 private:
  // In a write transaction: if nothing links or names the digest, deletes its
  // row and records its tombstone (true); false if something still needs it.
  static Result<bool> tombstone_if_orphan(Connection& connection, const core::Digest& digest,
                                          core::TimePoint now) {
    auto check = connection.query(Db::sql(kBlobReferenced), "check blob references", digest.str());
    if (!check) {
      return forward(check);
    }
    auto referenced = exists(*check);
    if (!referenced) {
      return forward(referenced);
    }
    if (*referenced) {
      return false;
    }
    if (auto deleted = run(connection, Db::sql(kDeleteBlob), "delete blob row", digest.str());
        !deleted) {
      return forward(deleted);
    }
    if (auto recorded = run(connection, Db::sql(kInsertTombstone), "record blob tombstone",
                            digest.str(), core::to_unix_ms(now));
        !recorded) {
      return forward(recorded);
    }
    return true;
  }

  std::shared_ptr<typename Db::Database> database_;
};

}  // namespace berth::meta::sql::gc
