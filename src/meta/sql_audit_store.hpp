// The AuditStore over either database (sql_text.hpp): the table audit_log of SQLite migration
// 13 and PostgreSQL migration 7 (migrations.cpp, pg_migrations.cpp). Internal to meta/: made by
// open_stores (sql_metadata_store.hpp).
#pragma once

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

// An empty filter matches everything; the times and the cursor are open bounds by default.
inline constexpr Text kList = R"sql(
SELECT id, at, actor, remote, action, project, target, result, status, detail, count
FROM audit_log
WHERE (?1 = '' OR actor = ?1) AND (?2 = '' OR project = ?2) AND (?3 = '' OR action = ?3)
  AND at >= ?4 AND at < ?5 AND id < ?6
ORDER BY id DESC LIMIT ?7 OFFSET ?8)sql";

inline constexpr Text kPrune = "DELETE FROM audit_log WHERE at < ?1";

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
      auto statement = connection.query(Db::sql(kList), "list audit entries", q.actor, q.project,
                                        q.action, since, until, q.before_id.value_or(kMax),
                                        sql_limit(q.limit), sql_limit(q.offset));
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
    return database_->write([&](Connection& connection) -> Result<std::int64_t> {
      BERTH_TRY(run(connection, Db::sql(kPrune), "prune audit entries", core::to_unix_ms(before)));
      return connection.changes();
    });
  }

 private:
  std::shared_ptr<typename Db::Database> database_;
};

}  // namespace berth::meta::sql::audit
