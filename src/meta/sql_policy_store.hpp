// The PolicyStore over either database (sql_text.hpp): project settings, usage
// and pull statistics in the tables of schema migration 4, on the database the
// MetadataStore uses.
//
// Usage is never written here: the triggers of migration 4 (migrations.cpp,
// pg_migrations.cpp) keep project_usage exact on every link and unlink, whoever
// makes it. This file only reads it.
//
// Reads that need more than one SELECT (settings and their patterns, a
// retention snapshot) run inside one read transaction, so they see one
// snapshot. Writes run in the Database's write transactions (SQLite's BEGIN
// IMMEDIATE, PostgreSQL's write lock); delete_retained() takes one per
// repository so that a large plan does not hold the write lock across a whole
// project. Internal to meta/: made by sqlite::make_policy_store and
// pg::make_policy_store.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "meta/policy_store.hpp"
#include "meta/sql_rows.hpp"
#include "meta/sql_text.hpp"

namespace berth::meta::sql::policy {

// ---- SQL (sql_text.hpp)

inline constexpr Text kProjectExists = "SELECT 1 FROM projects WHERE name = ?1";

inline constexpr Text kGetSettings = R"sql(
SELECT retention, quota_bytes, quota_repositories FROM project_settings WHERE project = ?1)sql";

inline constexpr Text kGetPatterns =
    "SELECT pattern FROM project_immutable_tags WHERE project = ?1 ORDER BY "
    "pattern";

// retention_last_run is the scheduler's: replacing the settings keeps it.
inline constexpr Text kUpsertSettings = R"sql(
INSERT INTO project_settings (project, retention, quota_bytes, quota_repositories)
VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (project) DO UPDATE SET retention = excluded.retention,
  quota_bytes = excluded.quota_bytes, quota_repositories = excluded.quota_repositories)sql";

inline constexpr Text kDeletePatterns = "DELETE FROM project_immutable_tags WHERE project = ?1";

inline constexpr Text kInsertPattern =
    "INSERT INTO project_immutable_tags (project, pattern) VALUES (?1, ?2) ON "
    "CONFLICT DO NOTHING";

inline constexpr Text kProjectsWithRetention =
    "SELECT project FROM project_settings WHERE retention IS NOT NULL ORDER BY "
    "project";

inline constexpr Text kClaimRetentionRun = R"sql(
UPDATE project_settings SET retention_last_run = ?2
WHERE project = ?1 AND retention IS NOT NULL
  AND (retention_last_run IS NULL OR retention_last_run <= ?3))sql";

inline constexpr Text kUsage = "SELECT bytes, repositories FROM project_usage WHERE project = ?1";

inline constexpr Text kCounted = "SELECT 1 FROM project_blobs WHERE project = ?1 AND digest = ?2";

inline constexpr Text kRepositoryCounted = R"sql(
SELECT 1 FROM repositories r
WHERE r.name = ?1 AND EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.repository_id = r.id))sql";

// clang-format off
#define BERTH_RECORD_MANIFEST_PULLS(d)                   \
  "UPDATE manifests"                                     \
  " SET pull_count = pull_count + ?3, last_pulled_at = " \
  BERTH_SQL_IN(BERTH_SQL_GREATEST, d)                    \
  "(coalesce(last_pulled_at, 0), ?4)"                    \
  " WHERE repository_id = (SELECT id"                    \
  " FROM repositories"                                   \
  " WHERE name = ?1)"                                    \
  " AND digest = ?2"
// clang-format on

inline constexpr Text kRecordManifestPulls{BERTH_SQL_BOTH(BERTH_RECORD_MANIFEST_PULLS)};

#undef BERTH_RECORD_MANIFEST_PULLS

// Only while the tag still names the manifest that was pulled.
// clang-format off
#define BERTH_RECORD_TAG_PULLS(d)                        \
  "UPDATE tags"                                          \
  " SET pull_count = pull_count + ?4, last_pulled_at = " \
  BERTH_SQL_IN(BERTH_SQL_GREATEST, d)                    \
  "(coalesce(last_pulled_at, 0), ?5)"                    \
  " WHERE repository_id = (SELECT id"                    \
  " FROM repositories"                                   \
  " WHERE name = ?1)"                                    \
  " AND name = ?2"                                       \
  " AND manifest_id = (SELECT m.id"                      \
  " FROM manifests m"                                    \
  " WHERE m.repository_id = tags.repository_id"          \
  " AND m.digest = ?3)"
// clang-format on

inline constexpr Text kRecordTagPulls{BERTH_SQL_BOTH(BERTH_RECORD_TAG_PULLS)};

#undef BERTH_RECORD_TAG_PULLS

inline constexpr Text kProjectTags = R"sql(
SELECT r.name, t.name, m.digest, t.updated_at, t.last_pulled_at, t.pull_count
FROM repositories r
  JOIN tags t ON t.repository_id = r.id
  JOIN manifests m ON m.id = t.manifest_id
WHERE r.project = ?1
ORDER BY r.name, t.name)sql";

// References as space-separated lists: one SELECT per project instead of one
// per manifest. Digests and sizes contain no spaces.
// clang-format off
#define BERTH_PROJECT_MANIFESTS(d)                                                                            \
  "SELECT r.name, m.digest, m.size, m.created_at, m.subject_digest, m.last_pulled_at, m.pull_count, (SELECT " \
  BERTH_SQL_IN(BERTH_SQL_CONCAT, d)                                                                           \
  "(mb.digest || ' ' || b.size, ' ')"                                                                         \
  " FROM manifest_blobs mb"                                                                                   \
  " JOIN blobs b ON b.digest = mb.digest"                                                                     \
  " WHERE mb.manifest_id = m.id), (SELECT "                                                                   \
  BERTH_SQL_IN(BERTH_SQL_CONCAT, d)                                                                           \
  "(mc.child_digest, ' ')"                                                                                    \
  " FROM manifest_children mc"                                                                                \
  " WHERE mc.manifest_id = m.id)"                                                                             \
  " FROM repositories r"                                                                                      \
  " JOIN manifests m ON m.repository_id = r.id"                                                               \
  " WHERE r.project = ?1"                                                                                     \
  " ORDER BY r.name, m.digest"
// clang-format on

inline constexpr Text kProjectManifests{BERTH_SQL_BOTH(BERTH_PROJECT_MANIFESTS)};

#undef BERTH_PROJECT_MANIFESTS

inline constexpr Text kTagsOf = R"sql(
SELECT t.name FROM repositories r
  JOIN manifests m ON m.repository_id = r.id
  JOIN tags t ON t.manifest_id = m.id
WHERE r.name = ?1 AND m.digest = ?2
ORDER BY t.name)sql";

inline constexpr Text kRepositoryId = "SELECT id FROM repositories WHERE name = ?1";

inline constexpr Text kDeleteTagIfUnchanged = R"sql(
DELETE FROM tags
WHERE repository_id = ?1 AND name = ?2 AND updated_at = ?4
  AND manifest_id = (SELECT id FROM manifests WHERE repository_id = ?1 AND digest = ?3))sql";

// A manifest nothing keeps in its repository any more: no tag, no remaining
// index.
inline constexpr Text kUnkeptManifest = R"sql(
SELECT m.id FROM manifests m
WHERE m.repository_id = ?1 AND m.digest = ?2
  AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
  AND NOT EXISTS (SELECT 1 FROM manifest_children c JOIN manifests p ON p.id = c.manifest_id
                  WHERE c.child_digest = m.digest AND p.repository_id = m.repository_id))sql";

inline constexpr Text kDeleteManifest = "DELETE FROM manifests WHERE id = ?1";

inline constexpr Text kDeleteOwnLink =
    "DELETE FROM repository_blobs WHERE repository_id = ?1 AND digest = ?2";

// A read transaction that sees one snapshot: SQLite's reads do within a
// transaction; PostgreSQL's default (READ COMMITTED) takes a new snapshot per
// statement.
inline constexpr Text kBeginRead{"BEGIN", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"};

// ---- helpers

template <class Db>
Result<core::Tag> tag_of(const std::string& text) {
  auto tag = core::Tag::parse(text);
  if (!tag) {
    return std::unexpected(corrupt<Db>("tag", text));
  }
  return std::move(*tag);
}

template <class Statement>
std::optional<std::uint64_t> size_or_null(const Statement& row, int column) {
  if (row.is_null(column)) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(row.int64(column));
}

inline std::vector<std::string> split_spaces(const std::string& text) {
  std::vector<std::string> words;
  std::size_t start = 0;
  while (start < text.size()) {
    auto space = text.find(' ', start);
    if (space == std::string::npos) {
      space = text.size();
    }
    if (space > start) {
      words.push_back(text.substr(start, space - start));
    }
    start = space + 1;
  }
  return words;
}

// Runs f on a connection inside a read transaction (kBeginRead ... COMMIT), so
// several SELECTs see one snapshot. On the writer of a SQLite ":memory:"
// database too: Database::read holds its mutex.
template <class Db, class F>
std::invoke_result_t<F&, typename Db::Connection&> in_read_transaction(
    typename Db::Connection& connection, F&& f) {
  if (auto begun = connection.exec(std::string(Db::sql(kBeginRead)), "begin read transaction");
      !begun) {
    return forward(begun);
  }
  auto result = f(connection);
  if (auto ended = connection.exec(result ? "COMMIT" : "ROLLBACK", "end read transaction");
      !ended && result) {
    return forward(ended);
  }
  return result;
}

template <class Db>
Result<TagInfo> read_tag_info(const typename Db::Statement& row) {
  auto repository = repository_of<Db>(row.text(0));
  auto tag = tag_of<Db>(row.text(1));
  auto digest = digest_of<Db>(row.text(2));
  if (!repository || !tag || !digest) {
    return std::unexpected(!repository ? repository.error()
                                       : (!tag ? tag.error() : digest.error()));
  }
  return TagInfo{.repository = std::move(*repository),
                 .tag = std::move(*tag),
                 .digest = std::move(*digest),
                 .pushed = core::from_unix_ms(row.int64(3)),
                 .last_pulled = time_or_null(row, 4),
                 .pull_count = static_cast<std::uint64_t>(row.int64(5))};
}

template <class Db>
Result<std::vector<TagInfo>> read_project_tags(typename Db::Connection& connection,
                                               const std::string& project) {
  auto statement = connection.query(Db::sql(kProjectTags), "list project tags", project);
  if (!statement) {
    return forward(statement);
  }
  return all_rows<TagInfo>(*statement, read_tag_info<Db>);
}

template <class Db>
Result<ManifestInfo> read_manifest_info(const typename Db::Statement& row) {
  auto repository = repository_of<Db>(row.text(0));
  if (!repository) {
    return forward(repository);
  }
  auto digest = digest_of<Db>(row.text(1));
  if (!digest) {
    return forward(digest);
  }
  ManifestInfo info{.repository = std::move(*repository),
                    .digest = std::move(*digest),
                    .size = static_cast<std::uint64_t>(row.int64(2)),
                    .created = core::from_unix_ms(row.int64(3)),
                    .blobs = {},
                    .children = {},
                    .subject = std::nullopt,
                    .last_pulled = time_or_null(row, 5),
                    .pull_count = static_cast<std::uint64_t>(row.int64(6))};
  if (!row.is_null(4)) {
    auto subject = digest_of<Db>(row.text(4));
    if (!subject) {
      return forward(subject);
    }
    info.subject = std::move(*subject);
  }
  auto blob_words = split_spaces(row.text(7));
  if (blob_words.size() % 2 != 0) {
    return std::unexpected(corrupt<Db>("manifest blob list", row.text(7)));
  }
  for (std::size_t i = 0; i < blob_words.size(); i += 2) {
    auto blob = digest_of<Db>(blob_words[i]);
    if (!blob) {
      return forward(blob);
    }
    std::uint64_t size = 0;
    try {
      size = std::stoull(blob_words[i + 1]);
    } catch (const std::exception&) {
      return std::unexpected(corrupt<Db>("blob size", blob_words[i + 1]));
    }
    info.blobs.push_back(BlobRef{std::move(*blob), size});
  }
  for (const auto& word : split_spaces(row.text(8))) {
    auto child = digest_of<Db>(word);
    if (!child) {
      return forward(child);
    }
    info.children.push_back(std::move(*child));
  }
  return info;
}

template <class Db>
Result<std::vector<ManifestInfo>> read_project_manifests(typename Db::Connection& connection,
                                                         const std::string& project) {
  auto statement = connection.query(Db::sql(kProjectManifests), "list project manifests", project);
  if (!statement) {
    return forward(statement);
  }
  return all_rows<ManifestInfo>(*statement, read_manifest_info<Db>);
}

// The part of a plan that falls in one repository.
struct RepositoryPlan {
  std::vector<const TagRef*> tags;
  std::vector<const ManifestRef*> manifests;
};

template <class Db>
class BasicPolicyStore final : public PolicyStore {
 public:
  using Connection = typename Db::Connection;
  using Statement = typename Db::Statement;

  explicit BasicPolicyStore(std::shared_ptr<typename Db::Database> database)
      : database_(std::move(database)) {}

  Result<ProjectSettings> settings(const std::string& project) override {
    return database_->read([&](Connection& connection) {
      return in_read_transaction<Db>(connection, [&](Connection& c) -> Result<ProjectSettings> {
        ProjectSettings settings;
        auto statement = c.query(Db::sql(kGetSettings), "read project settings", project);
        if (!statement) {
          return forward(statement);
        }
        auto row = statement->step();
        if (!row) {
          return forward(row);
        }
        if (!*row) {
          return settings;  // no row, so no patterns either (they need the
                            // row's project)
        }
        settings.retention_json = statement->text(0);
        settings.quota_bytes = size_or_null(*statement, 1);
        settings.quota_repositories = size_or_null(*statement, 2);
        auto patterns = c.query(Db::sql(kGetPatterns), "read immutable tag patterns", project);
        if (!patterns) {
          return forward(patterns);
        }
        while (true) {
          auto next = patterns->step();
          if (!next) {
            return forward(next);
          }
          if (!*next) {
            return settings;
          }
          settings.immutable_tags.push_back(patterns->text(0));
        }
      });
    });
  }

  Result<void> set_settings(const std::string& project, const ProjectSettings& settings) override {
    return database_->write([&](Connection& connection) -> Result<void> {
      auto found = has_row(connection, Db::sql(kProjectExists), "look up project", project);
      if (!found) {
        return forward(found);
      }
      if (!*found) {
        return core::fail(core::ErrorCode::kNotFound, "project " + project + " does not exist");
      }
      std::optional<std::string_view> retention;
      if (!settings.retention_json.empty()) {
        retention = settings.retention_json;
      }
      if (auto set = run(connection, Db::sql(kUpsertSettings), "write project settings", project,
                         retention, settings.quota_bytes, settings.quota_repositories);
          !set) {
        return set;
      }
      if (auto cleared =
              run(connection, Db::sql(kDeletePatterns), "clear immutable tag patterns", project);
          !cleared) {
        return cleared;
      }
      for (const auto& pattern : settings.immutable_tags) {
        if (auto added = run(connection, Db::sql(kInsertPattern), "add immutable tag pattern",
                             project, pattern);
            !added) {
          return added;
        }
      }
      return {};
    });
  }

  Result<std::vector<std::string>> projects_with_retention() override {
    return database_->read([&](Connection& connection) -> Result<std::vector<std::string>> {
      auto statement = connection.query(Db::sql(kProjectsWithRetention), "list retention policies");
      if (!statement) {
        return forward(statement);
      }
      return all_rows<std::string>(
          *statement, [](const Statement& row) -> Result<std::string> { return row.text(0); });
    });
  }

  Result<bool> claim_retention_run(const std::string& project, core::TimePoint now,
                                   core::TimePoint due_before) override {
    return database_->write([&](Connection& connection) {
      return run_changed(connection, Db::sql(kClaimRetentionRun), "claim retention run", project,
                         core::to_unix_ms(now), core::to_unix_ms(due_before));
    });
  }

  Result<ProjectUsage> usage(const std::string& project) override {
    return database_->read([&](Connection& connection) -> Result<ProjectUsage> {
      auto statement = connection.query(Db::sql(kUsage), "read project usage", project);
      if (!statement) {
        return forward(statement);
      }
      auto row = statement->step();
      if (!row) {
        return forward(row);
      }
      if (!*row) {
        return ProjectUsage{};
      }
      return ProjectUsage{.bytes = static_cast<std::uint64_t>(statement->int64(0)),
                          .repositories = static_cast<std::uint64_t>(statement->int64(1))};
    });
  }

  Result<bool> counted(const std::string& project, const core::Digest& digest) override {
    return database_->read([&](Connection& connection) {
      return has_row(connection, Db::sql(kCounted), "look up project blob", project, digest.str());
    });
  }

  Result<bool> repository_counted(const core::RepositoryName& repo) override {
    return database_->read([&](Connection& connection) {
      return has_row(connection, Db::sql(kRepositoryCounted), "look up repository content",
                     repo.str());
    });
  }

  Result<void> record_pulls(const std::vector<PullRecord>& pulls) override {
    if (pulls.empty()) {
      return {};
    }
    return database_->write([&](Connection& connection) -> Result<void> {
      for (const auto& pull : pulls) {
        const auto last = core::to_unix_ms(pull.last);
        if (auto recorded = run(connection, Db::sql(kRecordManifestPulls), "record manifest pulls",
                                pull.repository.str(), pull.digest.str(), pull.count, last);
            !recorded) {
          return recorded;
        }
        if (pull.tag) {
          if (auto recorded =
                  run(connection, Db::sql(kRecordTagPulls), "record tag pulls",
                      pull.repository.str(), pull.tag->str(), pull.digest.str(), pull.count, last);
              !recorded) {
            return recorded;
          }
        }
      }
      return {};
    });
  }

  Result<std::vector<TagInfo>> project_tags(const std::string& project) override {
    return database_->read(
        [&](Connection& connection) { return read_project_tags<Db>(connection, project); });
  }

  Result<RetentionSnapshot> retention_snapshot(const std::string& project) override {
    return database_->read([&](Connection& connection) {
      return in_read_transaction<Db>(connection, [&](Connection& c) -> Result<RetentionSnapshot> {
        auto tags = read_project_tags<Db>(c, project);
        if (!tags) {
          return forward(tags);
        }
        auto manifests = read_project_manifests<Db>(c, project);
        if (!manifests) {
          return forward(manifests);
        }
        return RetentionSnapshot{std::move(*tags), std::move(*manifests)};
      });
    });
  }

  Result<std::vector<core::Tag>> tags_of(const core::RepositoryName& repo,
                                         const core::Digest& digest) override {
    return database_->read([&](Connection& connection) -> Result<std::vector<core::Tag>> {
      auto statement =
          connection.query(Db::sql(kTagsOf), "list tags of manifest", repo.str(), digest.str());
      if (!statement) {
        return forward(statement);
      }
      return all_rows<core::Tag>(*statement,
                                 [](const Statement& row) { return tag_of<Db>(row.text(0)); });
    });
  }

  Result<RetentionDeletions> delete_retained(const RetentionDeletions& planned) override {
    std::map<std::string, RepositoryPlan> by_repository;
    for (const auto& tag : planned.tags) {
      by_repository[tag.repository.str()].tags.push_back(&tag);
    }
    for (const auto& manifest : planned.manifests) {
      by_repository[manifest.repository.str()].manifests.push_back(&manifest);
    }
    RetentionDeletions deleted;
    for (const auto& [name, plan] : by_repository) {
      auto done = database_->write([&](Connection& connection) -> Result<RetentionDeletions> {
        return delete_in_repository(connection, name, plan);
      });
      if (!done) {
        return forward(done);
      }
      std::move(done->tags.begin(), done->tags.end(), std::back_inserter(deleted.tags));
      std::move(done->manifests.begin(), done->manifests.end(),
                std::back_inserter(deleted.manifests));
    }
    return deleted;
  }

 private:
  // The row id of the manifest if nothing keeps it (its statement is reset on
  // return, before the caller deletes).
  static Result<std::optional<std::int64_t>> unkept_manifest(Connection& connection,
                                                             std::int64_t repository,
                                                             const core::Digest& digest) {
    auto statement = connection.query(Db::sql(kUnkeptManifest), "check retained manifest",
                                      repository, digest.str());
    if (!statement) {
      return forward(statement);
    }
    return first_int64(*statement);
  }

  static Result<RetentionDeletions> delete_in_repository(Connection& connection,
                                                         const std::string& name,
                                                         const RepositoryPlan& plan) {
    RetentionDeletions deleted;
    auto find = connection.query(Db::sql(kRepositoryId), "look up repository", name);
    if (!find) {
      return forward(find);
    }
    auto repository = first_int64(*find);
    if (!repository) {
      return forward(repository);
    }
    if (!*repository) {
      return deleted;  // gone since the plan, and everything in it
    }
    const std::int64_t id = **repository;
    for (const TagRef* tag : plan.tags) {
      auto removed =
          run_changed(connection, Db::sql(kDeleteTagIfUnchanged), "delete retained tag", id,
                      tag->tag.str(), tag->digest.str(), core::to_unix_ms(tag->pushed));
      if (!removed) {
        return forward(removed);
      }
      if (*removed) {
        deleted.tags.push_back(*tag);
      }
    }
    // Passes until nothing more goes: an index must go before its children stop
    // being kept.
    std::vector<const ManifestRef*> pending = plan.manifests;
    bool progress = true;
    while (progress && !pending.empty()) {
      progress = false;
      std::vector<const ManifestRef*> kept;
      for (const ManifestRef* manifest : pending) {
        auto row_id = unkept_manifest(connection, id, manifest->digest);
        if (!row_id) {
          return forward(row_id);
        }
        if (!*row_id) {
          kept.push_back(manifest);
          continue;
        }
        const std::int64_t manifest_id = **row_id;
        if (auto removed =
                run(connection, Db::sql(kDeleteManifest), "delete retained manifest", manifest_id);
            !removed) {
          return forward(removed);
        }
        if (auto unlinked = run(connection, Db::sql(kDeleteOwnLink), "unlink retained manifest", id,
                                manifest->digest.str());
            !unlinked) {
          return forward(unlinked);
        }
        deleted.manifests.push_back(*manifest);
        progress = true;
      }
      pending = std::move(kept);
    }
    return deleted;
  }

  std::shared_ptr<typename Db::Database> database_;
};

}  // namespace berth::meta::sql::policy
