// The ProxyStore on PostgreSQL: the statements of sqlite_proxy_store.cpp (which explains
// them) in PostgreSQL's dialect, on the pool of pg_database.hpp, whose write lock gives
// its check-then-write transactions the single writer they rely on, across replicas.
#include "meta/pg_proxy_store.hpp"

#include <string_view>
#include <utility>

namespace berth::meta::pg {
namespace {

using core::ErrorCode;
using Statement = Rows;

constexpr std::string_view kGetTag =
    "SELECT digest, checked_at FROM proxy_tags WHERE repository = $1 AND tag = $2";

constexpr std::string_view kPutTag = R"sql(
INSERT INTO proxy_tags (repository, tag, digest, checked_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest,
  checked_at = excluded.checked_at)sql";

constexpr std::string_view kForgetTag = "DELETE FROM proxy_tags WHERE repository = $1 AND tag = $2";

constexpr std::string_view kPutPartial = R"sql(
INSERT INTO proxy_partial_manifests (repository, digest, cached_at) VALUES ($1, $2, $3)
ON CONFLICT (repository, digest) DO UPDATE SET cached_at = excluded.cached_at)sql";

constexpr std::string_view kExpirePartials =
    "DELETE FROM proxy_partial_manifests WHERE repository = $1 AND cached_at < $2";

constexpr std::string_view kListPartials = R"sql(
SELECT digest FROM proxy_partial_manifests WHERE repository = $1
ORDER BY cached_at, digest)sql";

constexpr std::string_view kForgetPartial =
    "DELETE FROM proxy_partial_manifests WHERE repository = $1 AND digest = $2";

// Over the metadata store's tables: repository_blobs_by_digest finds the links, the generated
// repositories.project column (migration 4) keeps them to the project.
constexpr std::string_view kRepositoryLinking = R"sql(
SELECT r.name FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
WHERE rb.digest = $1 AND r.project = $2 ORDER BY r.name LIMIT 1)sql";

Result<core::Digest> digest_column(const Statement& row, int column) {
  auto digest = core::Digest::parse(row.text(column));
  if (!digest) {
    return core::fail(ErrorCode::kInternal,
                      "postgres: corrupt proxy state: digest '" + row.text(column) + "'");
  }
  return std::move(*digest);
}

class PgProxyStore final : public ProxyStore {
 public:
  explicit PgProxyStore(std::shared_ptr<Database> database) : database_(std::move(database)) {}

  Result<std::optional<CachedTag>> cached_tag(const core::RepositoryName& repo,
                                              const core::Tag& tag) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<CachedTag>> {
      auto statement = connection.query(kGetTag, "look up cached tag", repo.str(), tag.str());
      if (!statement) {
        return forward(statement);
      }
      return first_row<CachedTag>(*statement, [](const Statement& row) -> Result<CachedTag> {
        auto digest = digest_column(row, 0);
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
      return run(connection, kPutTag, "record cached tag", repo.str(), tag.str(),
                 cached.digest.str(), core::to_unix_ms(cached.checked));
    });
  }

  Result<void> forget_cached_tag(const core::RepositoryName& repo, const core::Tag& tag) override {
    return database_->write([&](Connection& connection) {
      return run(connection, kForgetTag, "forget cached tag", repo.str(), tag.str());
    });
  }

  Result<void> put_partial_manifest(const core::RepositoryName& repo, const core::Digest& manifest,
                                    core::TimePoint cached) override {
    return database_->write([&](Connection& connection) {
      return run(connection, kPutPartial, "record partial manifest", repo.str(), manifest.str(),
                 core::to_unix_ms(cached));
    });
  }

  Result<std::vector<core::Digest>> partial_manifests(const core::RepositoryName& repo,
                                                      core::TimePoint since) override {
    return database_->write([&](Connection& connection) -> Result<std::vector<core::Digest>> {
      if (auto expired = run(connection, kExpirePartials, "expire partial manifests", repo.str(),
                             core::to_unix_ms(since));
          !expired) {
        return forward(expired);
      }
      auto statement = connection.query(kListPartials, "list partial manifests", repo.str());
      if (!statement) {
        return forward(statement);
      }
      return all_rows<core::Digest>(*statement,
                                    [](const Statement& row) { return digest_column(row, 0); });
    });
  }

  Result<void> forget_partial_manifest(const core::RepositoryName& repo,
                                       const core::Digest& manifest) override {
    return database_->write([&](Connection& connection) {
      return run(connection, kForgetPartial, "forget partial manifest", repo.str(), manifest.str());
    });
  }

  Result<std::optional<core::RepositoryName>> repository_linking(
      std::string_view project, const core::Digest& digest) override {
    return database_->read(
        [&](Connection& connection) -> Result<std::optional<core::RepositoryName>> {
          auto statement = connection.query(kRepositoryLinking, "find a repository linking a blob",
                                            digest.str(), std::string(project));
          if (!statement) {
            return forward(statement);
          }
          return first_row<core::RepositoryName>(
              *statement, [](const Statement& row) -> Result<core::RepositoryName> {
                auto name = core::RepositoryName::parse(row.text(0));
                if (!name) {
                  return core::fail(ErrorCode::kInternal,
                                    "postgres: corrupt repository name '" + row.text(0) + "'");
                }
                return std::move(*name);
              });
        });
  }

 private:
  std::shared_ptr<Database> database_;
};

}  // namespace

std::shared_ptr<ProxyStore> make_proxy_store(std::shared_ptr<Database> database) {
  return std::make_shared<PgProxyStore>(std::move(database));
}

}  // namespace berth::meta::pg
