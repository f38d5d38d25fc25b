// The BrowseStore over either database (sql_text.hpp). Pages are sorted and cut by the
// database: a statement's fixed part is an sql::Text with parameters, and its ORDER BY, LIMIT
// and OFFSET are appended at run time from an enum and two numbers (never from client text).
// A page of a repository's tags reads the tags by their primary key (name order) or by
// tags_by_pushed (migration 10) and the manifests' recorded total_size and platforms. A page
// of repositories sorted by name picks the page's names first and computes the figures of
// those alone; the other sorts compute them for every repository of the project (each an
// indexed lookup). Internal to meta/: made by sqlite::make_browse_store and
// pg::make_browse_store.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "meta/browse_store.hpp"
#include "meta/sql_rows.hpp"
#include "meta/sql_text.hpp"

// The substring test: instr(haystack, needle) in SQLite, strpos in PostgreSQL.
#define BERTH_SQL_FIND_SQLITE "instr"
#define BERTH_SQL_FIND_PG "strpos"

// Migration 10 (SQLite) and 4 (PostgreSQL): the total sizes of the manifests already stored,
// images first, then indexes from their children's (migrations.cpp says more).
#define BERTH_BACKFILL_MANIFEST_TOTALS                                                         \
  "UPDATE manifests SET total_size = size + coalesce((SELECT sum(b.size) FROM manifest_blobs " \
  "mb JOIN blobs b ON b.digest = mb.digest WHERE mb.manifest_id = manifests.id), 0);\n"        \
  "UPDATE manifests SET total_size = total_size + coalesce((SELECT sum(c.total_size) FROM "    \
  "manifest_children mc JOIN manifests c ON c.repository_id = manifests.repository_id AND "    \
  "c.digest = mc.child_digest WHERE mc.manifest_id = manifests.id), 0) WHERE EXISTS (SELECT "  \
  "1 FROM manifest_children mc WHERE mc.manifest_id = manifests.id);\n"

namespace berth::meta::sql::browse {

inline constexpr Text kProjectFigures = R"sql(
SELECT p.name, coalesce(u.repositories, 0), coalesce(u.bytes, 0), s.quota_bytes,
  s.quota_repositories,
  (SELECT max(m.created_at) FROM repositories r JOIN manifests m ON m.repository_id = r.id
   WHERE r.project = p.name),
  (SELECT max(t.updated_at) FROM repositories r JOIN tags t ON t.repository_id = r.id
   WHERE r.project = p.name)
FROM projects p LEFT JOIN project_usage u ON u.project = p.name
  LEFT JOIN project_settings s ON s.project = p.name
ORDER BY p.name)sql";

#define BERTH_HOLDS_MANIFEST "EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id)"

// The repositories of a page: the head of a "WITH f AS (...)" whose end the caller writes.
#define BERTH_REPOSITORY_SET(d)                                                                \
  "WITH f AS (SELECT r.id, r.name FROM repositories r WHERE r.project = ?1 AND " BERTH_SQL_IN( \
      BERTH_SQL_FIND, d) "(r.name, ?2) > 0 AND " BERTH_HOLDS_MANIFEST
inline constexpr Text kRepositorySet{BERTH_SQL_BOTH(BERTH_REPOSITORY_SET)};

#define BERTH_REPOSITORY_COUNT(d)                                               \
  "SELECT count(*) FROM repositories r WHERE r.project = ?1 AND " BERTH_SQL_IN( \
      BERTH_SQL_FIND, d) "(r.name, ?2) > 0 AND " BERTH_HOLDS_MANIFEST
inline constexpr Text kRepositoryCount{BERTH_SQL_BOTH(BERTH_REPOSITORY_COUNT)};

inline constexpr Text kOneRepository =
    "WITH f AS (SELECT r.id, r.name FROM repositories r WHERE r.name = ?1 "
    "AND " BERTH_HOLDS_MANIFEST;

// The figures of the repositories in f, as the columns name, tags, manifests, bytes,
// last_push, last_pull, pulls (what read_repository reads), for the caller's ORDER BY.
#define BERTH_REPOSITORY_FIGURES(d) \
  "SELECT * FROM (SELECT name, tags, manifests, bytes, "                                    \
  BERTH_SQL_IN(BERTH_SQL_GREATEST, d) "(pushed, coalesce(moved, 0)) AS last_push, "         \
  "last_pull, pulls FROM (SELECT r.name, "                                                  \
  "(SELECT count(*) FROM tags t WHERE t.repository_id = r.id) AS tags, "                    \
  "(SELECT count(*) FROM manifests m WHERE m.repository_id = r.id) AS manifests, "          \
  "(SELECT CAST(coalesce(sum(b.size), 0) AS BIGINT) FROM repository_blobs rb "              \
  "   JOIN blobs b ON b.digest = rb.digest WHERE rb.repository_id = r.id) AS bytes, "       \
  "(SELECT max(m.created_at) FROM manifests m WHERE m.repository_id = r.id) AS pushed, "    \
  "(SELECT max(t.updated_at) FROM tags t WHERE t.repository_id = r.id) AS moved, "          \
  "(SELECT max(m.last_pulled_at) FROM manifests m WHERE m.repository_id = r.id) "           \
  "   AS last_pull, "                                                                       \
  "(SELECT CAST(coalesce(sum(m.pull_count), 0) AS BIGINT) FROM manifests m "                \
  "   WHERE m.repository_id = r.id) AS pulls "                                              \
  "FROM f r) g) x"
inline constexpr Text kRepositoryFigures{BERTH_SQL_BOTH(BERTH_REPOSITORY_FIGURES)};

#define BERTH_TAG_ROWS(d)                                                                    \
  "SELECT t.name, m.digest, m.media_type, m.artifact_type, coalesce(m.total_size, m.size), " \
  "m.platforms, t.updated_at, t.last_pulled_at, t.pull_count "                               \
  "FROM tags t JOIN manifests m ON m.id = t.manifest_id "                                    \
  "WHERE t.repository_id = (SELECT id FROM repositories WHERE name = ?1) AND " BERTH_SQL_IN( \
      BERTH_SQL_FIND, d) "(t.name, ?2) > 0"
inline constexpr Text kTagRows{BERTH_SQL_BOTH(BERTH_TAG_ROWS)};

#define BERTH_TAG_COUNT(d)                                                                   \
  "SELECT count(*) FROM tags t "                                                             \
  "WHERE t.repository_id = (SELECT id FROM repositories WHERE name = ?1) AND " BERTH_SQL_IN( \
      BERTH_SQL_FIND, d) "(t.name, ?2) > 0"
inline constexpr Text kTagCount{BERTH_SQL_BOTH(BERTH_TAG_COUNT)};

inline constexpr Text kManifestFigures = R"sql(
SELECT coalesce(m.total_size, m.size), m.platforms
FROM repositories r JOIN manifests m ON m.repository_id = r.id
WHERE r.name = ?1 AND m.digest = ?2)sql";

#define BERTH_FIND_REPOSITORIES(d)                                                    \
  "SELECT r.name FROM repositories r WHERE " BERTH_SQL_IN(                            \
      BERTH_SQL_FIND, d) "(r.name, ?1) > 0 AND r.name > ?2 AND " BERTH_HOLDS_MANIFEST \
                         " ORDER BY r.name LIMIT ?3"
inline constexpr Text kFindRepositories{BERTH_SQL_BOTH(BERTH_FIND_REPOSITORIES)};

#define BERTH_FIND_TAGS(d) \
  "SELECT r.name, t.name, m.digest FROM tags t JOIN repositories r ON r.id = t.repository_id " \
  "JOIN manifests m ON m.id = t.manifest_id WHERE " BERTH_SQL_IN(BERTH_SQL_FIND, d)           \
  "(t.name, ?1) > 0 AND (r.name > ?2 OR (r.name = ?2 AND t.name > ?3)) "                      \
  "ORDER BY r.name, t.name LIMIT ?4"
inline constexpr Text kFindTags{BERTH_SQL_BOTH(BERTH_FIND_TAGS)};

inline constexpr Text kTotals =
    "SELECT (SELECT count(*) FROM projects), "
    "(SELECT count(*) FROM repositories r WHERE " BERTH_HOLDS_MANIFEST
    "), "
    "(SELECT count(*) FROM blobs), (SELECT CAST(coalesce(sum(size), 0) AS BIGINT) FROM blobs)";

// " ORDER BY <key> <direction>, <tie> LIMIT n OFFSET k": absent times sort as the oldest.
inline std::string order_clause(std::string_view key, bool nullable, std::string_view tie,
                                const PageQuery& page) {
  std::string out = " ORDER BY " + std::string(key) + (page.descending ? " DESC" : " ASC");
  if (nullable) {
    out += page.descending ? " NULLS LAST" : " NULLS FIRST";
  }
  if (!tie.empty() && tie != key) {
    out += ", " + std::string(tie);
  }
  return out;
}

inline std::string limit_clause(const PageQuery& page) {
  return " LIMIT " + std::to_string(sql_limit(page.limit)) + " OFFSET " +
         std::to_string(sql_limit(page.offset));
}

inline std::vector<std::string> split_platforms(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string::npos) {
      comma = text.size();
    }
    if (comma > start) {
      out.push_back(text.substr(start, comma - start));
    }
    start = comma + 1;
  }
  return out;
}

inline std::optional<core::TimePoint> later(const std::optional<core::TimePoint>& a,
                                            const std::optional<core::TimePoint>& b) {
  if (!a || !b) {
    return a ? a : b;
  }
  return std::max(*a, *b);
}

template <class Db>
class BasicBrowseStore final : public BrowseStore {
 public:
  using Connection = typename Db::Connection;
  using Statement = typename Db::Statement;

  explicit BasicBrowseStore(std::shared_ptr<typename Db::Database> database)
      : database_(std::move(database)) {}

  Result<std::vector<ProjectFigures>> project_figures() override {
    return database_->read([&](Connection& connection) -> Result<std::vector<ProjectFigures>> {
      auto statement = connection.query(Db::sql(kProjectFigures), "project figures");
      if (!statement) {
        return forward(statement);
      }
      return all_rows<ProjectFigures>(
          *statement, [](const Statement& row) -> Result<ProjectFigures> {
            return ProjectFigures{.project = row.text(0),
                                  .repositories = static_cast<std::uint64_t>(row.int64(1)),
                                  .bytes = static_cast<std::uint64_t>(row.int64(2)),
                                  .quota_bytes = optional_count(row, 3),
                                  .quota_repositories = optional_count(row, 4),
                                  .last_push = later(time_or_null(row, 5), time_or_null(row, 6))};
          });
    });
  }

  Result<RepositoryPage> repositories(const std::string& project, RepositorySort sort,
                                      const PageQuery& page) override {
    std::string sql(Db::sql(kRepositorySet));
    std::string order;
    if (sort == RepositorySort::kName) {
      // The page's names first: the figures of those alone.
      sql += " ORDER BY r.name" + std::string(page.descending ? " DESC" : " ASC") +
             limit_clause(page) + ")" + std::string(Db::sql(kRepositoryFigures)) +
             order_clause("name", false, "", page);
    } else {
      sql += ")" + std::string(Db::sql(kRepositoryFigures)) + repository_order(sort, page) +
             limit_clause(page);
    }
    return database_->read([&](Connection& connection) {
      return read_page<RepositoryPage>(connection, Db::sql(kRepositoryCount), sql, read_repository,
                                       project, page.filter);
    });
  }

  Result<std::optional<RepositoryFigures>> repository(const core::RepositoryName& repo) override {
    std::string sql =
        std::string(Db::sql(kOneRepository)) + ")" + std::string(Db::sql(kRepositoryFigures));
    return database_->read([&](Connection& connection) -> Result<std::optional<RepositoryFigures>> {
      auto statement = connection.query(sql, "repository figures", repo.str());
      if (!statement) {
        return forward(statement);
      }
      return first_row<RepositoryFigures>(*statement, read_repository);
    });
  }

  Result<TagPage> tags(const core::RepositoryName& repo, TagSort sort,
                       const PageQuery& page) override {
    const std::string sql =
        std::string(Db::sql(kTagRows)) + tag_order(sort, page) + limit_clause(page);
    return database_->read([&](Connection& connection) {
      return read_page<TagPage>(connection, Db::sql(kTagCount), sql, read_tag, repo.str(),
                                page.filter);
    });
  }

  Result<std::optional<ManifestFigures>> manifest_figures(const core::RepositoryName& repo,
                                                          const core::Digest& digest) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<ManifestFigures>> {
      auto statement =
          connection.query(Db::sql(kManifestFigures), "manifest figures", repo.str(), digest.str());
      if (!statement) {
        return forward(statement);
      }
      return first_row<ManifestFigures>(
          *statement, [](const Statement& row) -> Result<ManifestFigures> {
            return ManifestFigures{
                static_cast<std::uint64_t>(row.int64(0)),
                row.is_null(1) ? std::vector<std::string>{} : split_platforms(row.text(1))};
          });
    });
  }

  Result<std::vector<std::string>> find_repositories(const std::string& text,
                                                     const std::string& after,
                                                     std::size_t limit) override {
    return database_->read([&](Connection& connection) -> Result<std::vector<std::string>> {
      auto statement = connection.query(Db::sql(kFindRepositories), "search repositories", text,
                                        after, sql_limit(limit));
      if (!statement) {
        return forward(statement);
      }
      return all_rows<std::string>(
          *statement, [](const Statement& row) -> Result<std::string> { return row.text(0); });
    });
  }

  Result<std::vector<TagHit>> find_tags(const std::string& text,
                                        const std::string& after_repository,
                                        const std::string& after_tag, std::size_t limit) override {
    return database_->read([&](Connection& connection) -> Result<std::vector<TagHit>> {
      auto statement = connection.query(Db::sql(kFindTags), "search tags", text, after_repository,
                                        after_tag, sql_limit(limit));
      if (!statement) {
        return forward(statement);
      }
      return all_rows<TagHit>(*statement, [](const Statement& row) -> Result<TagHit> {
        auto digest = column_digest<Db>(row, 2);
        if (!digest) {
          return forward(digest);
        }
        return TagHit{row.text(0), row.text(1), std::move(*digest)};
      });
    });
  }

  Result<RegistryTotals> totals() override {
    return database_->read([&](Connection& connection) -> Result<RegistryTotals> {
      auto statement = connection.query(Db::sql(kTotals), "registry totals");
      if (!statement) {
        return forward(statement);
      }
      auto row = statement->step();
      if (!row) {
        return forward(row);
      }
      auto count = [&](int column) { return static_cast<std::uint64_t>(statement->int64(column)); };
      return RegistryTotals{count(0), count(1), count(2), count(3)};
    });
  }

 private:
  // A page: the count of all matching rows, then the rows of the page, both with `args`.
  template <class Page, class Read, class... Args>
  static Result<Page> read_page(Connection& connection, std::string_view count_sql,
                                std::string_view rows_sql, Read read, const Args&... args) {
    Page out;
    auto count = connection.query(count_sql, "count a page's rows", args...);
    if (!count) {
      return forward(count);
    }
    auto total = first_int64(*count);
    if (!total) {
      return forward(total);
    }
    out.total = static_cast<std::uint64_t>(total->value_or(0));
    auto statement = connection.query(rows_sql, "read a page", args...);
    if (!statement) {
      return forward(statement);
    }
    auto items = all_rows<typename decltype(out.items)::value_type>(*statement, read);
    if (!items) {
      return forward(items);
    }
    out.items = std::move(*items);
    return out;
  }

  static std::optional<std::uint64_t> optional_count(const Statement& row, int column) {
    if (row.is_null(column)) {
      return std::nullopt;
    }
    return static_cast<std::uint64_t>(row.int64(column));
  }

  static Result<RepositoryFigures> read_repository(const Statement& row) {
    return RepositoryFigures{.name = row.text(0),
                             .tags = static_cast<std::uint64_t>(row.int64(1)),
                             .manifests = static_cast<std::uint64_t>(row.int64(2)),
                             .bytes = static_cast<std::uint64_t>(row.int64(3)),
                             .last_push = time_or_null(row, 4),
                             .last_pull = time_or_null(row, 5),
                             .pulls = static_cast<std::uint64_t>(row.int64(6))};
  }

  static Result<TagRow> read_tag(const Statement& row) {
    auto digest = column_digest<Db>(row, 1);
    if (!digest) {
      return forward(digest);
    }
    return TagRow{
        .tag = row.text(0),
        .digest = std::move(*digest),
        .media_type = row.text(2),
        .artifact_type = row.is_null(3) ? std::string() : row.text(3),
        .size = static_cast<std::uint64_t>(row.int64(4)),
        .platforms = row.is_null(5) ? std::vector<std::string>{} : split_platforms(row.text(5)),
        .pushed = core::from_unix_ms(row.int64(6)),
        .last_pulled = time_or_null(row, 7),
        .pulls = static_cast<std::uint64_t>(row.int64(8))};
  }

  static std::string repository_order(RepositorySort sort, const PageQuery& page) {
    switch (sort) {
      case RepositorySort::kName:
        break;
      case RepositorySort::kLastPush:
        return order_clause("last_push", false, "name", page);
      case RepositorySort::kLastPull:
        return order_clause("last_pull", true, "name", page);
      case RepositorySort::kSize:
        return order_clause("bytes", false, "name", page);
      case RepositorySort::kTags:
        return order_clause("tags", false, "name", page);
    }
    return order_clause("name", false, "", page);
  }

  static std::string tag_order(TagSort sort, const PageQuery& page) {
    switch (sort) {
      case TagSort::kName:
        break;
      case TagSort::kPushed:
        return order_clause("t.updated_at", false, "t.name", page);
      case TagSort::kPulled:
        return order_clause("t.last_pulled_at", true, "t.name", page);
      case TagSort::kSize:
        return order_clause("coalesce(m.total_size, m.size)", false, "t.name", page);
      case TagSort::kPulls:
        return order_clause("t.pull_count", false, "t.name", page);
    }
    return order_clause("t.name", false, "", page);
  }

  std::shared_ptr<typename Db::Database> database_;
};

}  // namespace berth::meta::sql::browse
