// The ProxyStore over either database (sql_text.hpp): the tables proxy_tags and
// proxy_partial_manifests of schema migration 5 (migrations.cpp, pg_migrations.cpp).
// Repositories are named by their text, not their id: a row that outlives its repository
// (deleted, collected) is harmless, since a cached tag is only believed while the tag still
// names its digest, and a partial manifest that is gone is skipped and forgotten. Internal to
// meta/: made by sqlite::make_proxy_store and pg::make_proxy_store.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "meta/proxy_store.hpp"
#include "meta/sql_rows.hpp"
#include "meta/sql_text.hpp"

namespace berth::meta::sql::proxy {

inline constexpr Text kGetTag =
    "SELECT digest, checked_at FROM proxy_tags WHERE repository = ?1 AND tag = ?2";

inline constexpr Text kPutTag = R"sql(
INSERT INTO proxy_tags (repository, tag, digest, checked_at) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest,
  checked_at = excluded.checked_at)sql";

inline constexpr Text kForgetTag = "DELETE FROM proxy_tags WHERE repository = ?1 AND tag = ?2";

inline constexpr Text kPutPartial = R"sql(
INSERT INTO proxy_partial_manifests (repository, digest, cached_at) VALUES (?1, ?2, ?3)
ON CONFLICT (repository, digest) DO UPDATE SET cached_at = excluded.cached_at)sql";

inline constexpr Text kExpirePartials =
    "DELETE FROM proxy_partial_manifests WHERE repository = ?1 AND cached_at < ?2";

inline constexpr Text kListPartials = R"sql(
SELECT digest FROM proxy_partial_manifests WHERE repository = ?1
ORDER BY cached_at, digest)sql";

inline constexpr Text kForgetPartial =
    "DELETE FROM proxy_partial_manifests WHERE repository = ?1 AND digest = ?2";

// Over the metadata store's tables: repository_blobs_by_digest finds the links, the generated
// repositories.project column (migration 4) keeps them to the project.
inline constexpr Text kRepositoryLinking = R"sql(
SELECT r.name FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
WHERE rb.digest = ?1 AND r.project = ?2 ORDER BY r.name LIMIT 1)sql";

template <class Db>
class BasicProxyStore final : public ProxyStore {
 public:
  using Connection = typename Db::Connection;
  using Statement = typename Db::Statement;

  explicit BasicProxyStore(std::shared_ptr<typename Db::Database> database)
      : database_(std::move(database)) {}

  Result<std::optional<CachedTag>> cached_tag(const core::RepositoryName& repo,
                                              const core::Tag& tag) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<CachedTag>> {
      auto statement =
          connection.query(Db::sql(kGetTag), "look up cached tag", repo.str(), tag.str());
      if (!statement) {
        return forward(statement);
      }
      return first_row<CachedTag>(*statement, [](const Statement& row) -> Result<CachedTag> {
        auto digest = column_digest<Db>(row, 0);
        if (!digest) {
          return forward(digest);
        }
        return CachedTag{std::move(*digest), core::from_unix_ms(row.int64(1))};
      });
    });
  }

  Result<void> put_cached_tag(const core::RepositoryName& repo, const core::Tag& tag,
                              const CachedTag& cached) override {
    return database_->write([&](Connection& connection) {
      return run(connection, Db::sql(kPutTag), "record cached tag", repo.str(), tag.str(),
                 cached.digest.str(), core::to_unix_ms(cached.checked));
    });
  }

  Result<void> forget_cached_tag(const core::RepositoryName& repo, const core::Tag& tag) override {
    return database_->write([&](Connection& connection) {
      return run(connection, Db::sql(kForgetTag), "forget cached tag", repo.str(), tag.str());
    });
  }

  Result<void> put_partial_manifest(const core::RepositoryName& repo, const core::Digest& manifest,
                                    core::TimePoint cached) override {
    return database_->write([&](Connection& connection) {
      return run(connection, Db::sql(kPutPartial), "record partial manifest", repo.str(),
                 manifest.str(), core::to_unix_ms(cached));
    });
  }

  Result<std::vector<core::Digest>> partial_manifests(const core::RepositoryName& repo,
                                                      core::TimePoint since) override {
    return database_->write([&](Connection& connection) -> Result<std::vector<core::Digest>> {
      if (auto expired = run(connection, Db::sql(kExpirePartials), "expire partial manifests",
                             repo.str(), core::to_unix_ms(since));
          !expired) {
        return forward(expired);
      }
      auto statement =
          connection.query(Db::sql(kListPartials), "list partial manifests", repo.str());
      if (!statement) {
        return forward(statement);
      }
      return all_rows<core::Digest>(*statement,
                                    [](const Statement& row) { return column_digest<Db>(row, 0); });
    });
  }

  Result<void> forget_partial_manifest(const core::RepositoryName& repo,
                                       const core::Digest& manifest) override {
    return database_->write([&](Connection& connection) {
      return run(connection, Db::sql(kForgetPartial), "forget partial manifest", repo.str(),
                 manifest.str());
    });
  }

  Result<std::optional<core::RepositoryName>> repository_linking(
      std::string_view project, const core::Digest& digest) override {
    return database_->read(
        [&](Connection& connection) -> Result<std::optional<core::RepositoryName>> {
          auto statement =
              connection.query(Db::sql(kRepositoryLinking), "find a repository linking a blob",
                               digest.str(), std::string(project));
          if (!statement) {
            return forward(statement);
          }
          return first_row<core::RepositoryName>(
              *statement, [](const Statement& row) { return column_repository<Db>(row, 0); });
        });
  }

 private:
  std::shared_ptr<typename Db::Database> database_;
};

}  // namespace berth::meta::sql::proxy
