// The AuditStore over either database (sql_text.hpp): the table audit_log of SQLite migration
// 13 and PostgreSQL migration 7 (migrations.cpp, pg_migrations.cpp). Internal to meta/: made by
// open_stores (sql_metadata_store.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "meta/audit_store.hpp"
#include "meta/sql_rows.hpp"
#include "meta/sql_text.hpp"

namespace berth::meta::sql::audit {

// The table, the same in both dialects but for its id, its integer type and SQLite's STRICT.
// Newest first is id order; the indexes serve the filters the API offers, each with the id so
// that a filtered page walks the index backwards from the cursor.
#define BERTH_AUDIT_SCHEMA(d) \
  "CREATE TABLE audit_log (\n"                                                       \
  "  id " BERTH_SQL_IN(BERTH_AUDIT_ID, d) ",\n"                                      \
  "  at " BERTH_SQL_IN(BERTH_AUDIT_INT, d) " NOT NULL,\n"                                                       \
  "  actor TEXT NOT NULL,\n"                                                         \
  "  remote TEXT NOT NULL,\n"                                                        \
  "  action TEXT NOT NULL,\n"                                                        \
  "  project TEXT NOT NULL,\n"                                                       \
  "  target TEXT NOT NULL,\n"                                                        \
  "  result TEXT NOT NULL,\n"                                                        \
  "  status INTEGER NOT NULL,\n"                                                     \
  "  detail TEXT NOT NULL,\n"                                                        \
  "  count " BERTH_SQL_IN(BERTH_AUDIT_INT, d) " NOT NULL\n"                                                     \
  ")" BERTH_SQL_IN(BERTH_AUDIT_STRICT, d) ";\n"                                       \
  "CREATE INDEX audit_log_by_at ON audit_log (at);\n"                                \
  "CREATE INDEX audit_log_by_actor ON audit_log (actor, id);\n"                      \
  "CREATE INDEX audit_log_by_project ON audit_log (project, id);\n"                  \
  "CREATE INDEX audit_log_by_action ON audit_log (action, id);\n"
#define BERTH_AUDIT_ID_SQLITE "INTEGER PRIMARY KEY"
#define BERTH_AUDIT_ID_PG "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
#define BERTH_AUDIT_INT_SQLITE "INTEGER"
#define BERTH_AUDIT_INT_PG "BIGINT"
#define BERTH_AUDIT_STRICT_SQLITE " STRICT"
#define BERTH_AUDIT_STRICT_PG ""

inline constexpr std::string_view kSqliteSchema = BERTH_AUDIT_SCHEMA(SQLITE);
inline constexpr std::string_view kPgSchema = BERTH_AUDIT_SCHEMA(PG);

inline constexpr Text kInsert = R"sql(
INSERT INTO audit_log (at, actor, remote, action, project, target, result, status, detail, count)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10))sql";

// The page of a query: one statement per set of filters present (an empty filter matches
// everything), each filter column compared only when given. A filter written
// (?1 = '' OR actor = ?1) keeps the index on actor from being used. An absent filter's
// parameter is still bound, compared with '' (constant: no column involved). The times and the
// cursor are open bounds by default.
#define BERTH_AUDIT_ACTOR_1 "actor = ?1"
#define BERTH_AUDIT_ACTOR_0 "?1 = ''"
#define BERTH_AUDIT_PROJECT_1 "project = ?2"
#define BERTH_AUDIT_PROJECT_0 "?2 = ''"
#define BERTH_AUDIT_ACTION_1 "action = ?3"
#define BERTH_AUDIT_ACTION_0 "?3 = ''"
#define BERTH_AUDIT_LIST(actor, project, action)                                           \
  "SELECT id, at, actor, remote, action, project, target, result, status, detail, count\n" \
  "FROM audit_log\n"                                                                       \
  "WHERE " BERTH_AUDIT_ACTOR_##actor " AND " BERTH_AUDIT_PROJECT_##project                 \
      " AND " BERTH_AUDIT_ACTION_##action                                                  \
      "\n"                                                                                 \
      "  AND at >= ?4 AND at < ?5 AND id < ?6\n"                                           \
      "ORDER BY id DESC LIMIT ?7 OFFSET ?8"
inline constexpr Text kList000 = BERTH_AUDIT_LIST(0, 0, 0);
inline constexpr Text kList001 = BERTH_AUDIT_LIST(0, 0, 1);
inline constexpr Text kList010 = BERTH_AUDIT_LIST(0, 1, 0);
inline constexpr Text kList011 = BERTH_AUDIT_LIST(0, 1, 1);
inline constexpr Text kList100 = BERTH_AUDIT_LIST(1, 0, 0);
inline constexpr Text kList101 = BERTH_AUDIT_LIST(1, 0, 1);
inline constexpr Text kList110 = BERTH_AUDIT_LIST(1, 1, 0);
inline constexpr Text kList111 = BERTH_AUDIT_LIST(1, 1, 1);

// The statement for the filters of q.
template <class Db>
std::string_view list_statement(const AuditQuery& q) {
  static constexpr std::array<std::string_view, 8> kByFilters = {
      Db::sql(kList000), Db::sql(kList001), Db::sql(kList010), Db::sql(kList011),
      Db::sql(kList100), Db::sql(kList101), Db::sql(kList110), Db::sql(kList111)};
  return kByFilters[(q.actor.empty() ? 0 : 4) + (q.project.empty() ? 0 : 2) +
                    (q.action.empty() ? 0 : 1)];
}

// Old entries go in batches, each its own transaction: deleting a day of a busy registry's
// entries (a million rows) in one would hold the write lock, and the WAL, for all of it.
inline constexpr std::int64_t kPruneBatch = 10000;
inline constexpr Text kPrune = R"sql(
DELETE FROM audit_log WHERE id IN (
  SELECT id FROM audit_log WHERE at < ?1 ORDER BY id LIMIT ?2))sql";

template <class Db>
class BasicAuditStore final : public AuditStore {
 public:
  using Connection = typename Db::Connection;
  using Statement = typename Db::Statement;

  explicit BasicAuditStore(std::shared_ptr<typename Db::Database> database)
      : database_(std::move(database)) {}

  Result<void> append(const std::vector<AuditEntry>& entries) override {
    if (entries.empty()) {
      return {};
    }
    return database_->write([&](Connection& connection) -> Result<void> {
      for (const auto& e : entries) {
        BERTH_TRY(run(connection, Db::sql(kInsert), "append audit entry", core::to_unix_ms(e.at),
                      e.actor, e.remote, e.action, e.project, e.target, e.result,
                      static_cast<std::int64_t>(e.status), e.detail, e.count));
      }
      return {};
    });
  }

  Result<std::vector<AuditEntry>> list(const AuditQuery& q) override {
    constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
    const std::int64_t since = q.since ? core::to_unix_ms(*q.since) : -kMax;
    const std::int64_t until = q.until ? core::to_unix_ms(*q.until) : kMax;
    return database_->read([&](Connection& connection) -> Result<std::vector<AuditEntry>> {
      auto statement = connection.query(
          list_statement<Db>(q), "list audit entries", q.actor, q.project, q.action, since, until,
          q.before_id.value_or(kMax), sql_limit(q.limit), sql_limit(q.offset));
      if (!statement) {
        return forward(statement);
      }
      return all_rows<AuditEntry>(*statement, [](const Statement& row) -> Result<AuditEntry> {
        return AuditEntry{.id = row.int64(0),
                          .at = core::from_unix_ms(row.int64(1)),
                          .actor = row.text(2),
                          .remote = row.text(3),
                          .action = row.text(4),
                          .project = row.text(5),
                          .target = row.text(6),
                          .result = row.text(7),
                          .status = static_cast<int>(row.int64(8)),
                          .detail = row.text(9),
                          .count = row.int64(10)};
      });
    });
  }

  Result<std::int64_t> prune(core::TimePoint before) override {
    std::int64_t pruned = 0;
    while (true) {
      auto batch = database_->write([&](Connection& connection) -> Result<std::int64_t> {
        BERTH_TRY(run(connection, Db::sql(kPrune), "prune audit entries", core::to_unix_ms(before),
                      kPruneBatch));
        return connection.changes();
      });
      if (!batch) {
        return batch;
      }
      pruned += *batch;
      if (*batch < kPruneBatch) {
        return pruned;
      }
    }
  }

 private:
  std::shared_ptr<typename Db::Database> database_;
};

}  // namespace berth::meta::sql::audit
