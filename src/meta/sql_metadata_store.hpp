// The MetadataStore over either database (sql_text.hpp), and opening every
// store over one database. Connections, transactions and durability are the
// Database's (sqlite_database.hpp, pg_database.hpp): every read here is one
// SELECT, every write one write transaction (SQLite's BEGIN IMMEDIATE on its
// writer; PostgreSQL's cluster-wide write lock), so put_manifest's
// check-then-write cannot be invalidated by another writer in between, even one
// in another process (berth gc, another replica). On PostgreSQL the tag moves,
// links against GC tombstones and the quota triggers (pg_migrations.cpp) rely
// on the write lock as on SQLite they rely on the single writer; the UNIQUE
// constraints stay as the last line of defence. Internal to meta/:
// sqlite_metadata_store.cpp and pg_metadata_store.cpp open the stores.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "meta/metadata_store.hpp"
#include "meta/sql_audit_store.hpp"
#include "meta/sql_login_throttle_store.hpp"
#include "meta/sql_metadata_steps.hpp"
#include "meta/sql_outbox_store.hpp"
#include "meta/sql_session_store.hpp"
#include "meta/stores.hpp"

namespace berth::meta::sql::metadata {

template <class Db>
class BasicMetadataStore final : public MetadataStore {
 public:
  using Connection = typename Db::Connection;
  using Statement = typename Db::Statement;

  explicit BasicMetadataStore(std::shared_ptr<typename Db::Database> database)
      : database_(std::move(database)) {}

  // The overloads without events, hidden by the overrides below otherwise.
  using MetadataStore::delete_manifest;
  using MetadataStore::delete_tag;
  using MetadataStore::mount_blob;

  // ---- repositories

  Result<void> ping() override {
    return read([&](Connection& connection) -> Result<void> {
      auto statement = connection.query(Db::sql(kPing), "ping");
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
      auto statement =
          connection.query(Db::sql(kRepositoryExists), "look up repository", repo.str());
      if (!statement) {
        return forward(statement);
      }
      return statement->step();
    });
  }

  Result<std::vector<std::string>> list_repositories(const std::string& after,
                                                     std::size_t limit) override {
    return read([&](Connection& connection) -> Result<std::vector<std::string>> {
      auto statement = connection.query(Db::sql(kListRepositories), "list repositories", after,
                                        sql_limit(limit));
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
      auto statement =
          connection.query(Db::sql(kLinkedBlob), "look up blob link", repo.str(), digest.str());
      if (!statement) {
        return forward(statement);
      }
      return first_size(*statement);
    });
  }

  Result<std::optional<std::uint64_t>> known_blob(const core::Digest& digest) override {
    return read([&](Connection& connection) -> Result<std::optional<std::uint64_t>> {
      auto statement = connection.query(Db::sql(kKnownBlob), "look up blob", digest.str());
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
      auto repository = ensure_repository<Db>(connection, repo, now_ms);
      if (!repository) {
        return forward(repository);
      }
      return link<Db>(connection, *repository, blob, now_ms);
    });
  }

  Result<std::optional<std::uint64_t>> mount_blob(const core::RepositoryName& repo,
                                                  const core::Digest& digest,
                                                  const core::RepositoryName& from,
                                                  core::TimePoint now,
                                                  const std::vector<OutboxEvent>& events) override {
    return write([&](Connection& connection) -> Result<std::optional<std::uint64_t>> {
      auto source =
          connection.query(Db::sql(kLinkedBlob), "look up blob link", from.str(), digest.str());
      if (!source) {
        return forward(source);
      }
      auto size = first_size(*source);
      if (!size || !*size) {
        return size;
      }
      auto now_ms = core::to_unix_ms(now);
      auto repository = ensure_repository<Db>(connection, repo, now_ms);
      if (!repository) {
        return forward(repository);
      }
      if (auto linked = link<Db>(connection, *repository, BlobRef{digest, **size}, now_ms);
          !linked) {
        return forward(linked);
      }
      BERTH_TRY(outbox::insert_events<Db>(connection, events));
      return size;
    });
  }

  Result<bool> unlink_blob(const core::RepositoryName& repo, const core::Digest& digest) override {
    return write([&](Connection& connection) {
      return run_changed(connection, Db::sql(kDeleteLink), "unlink blob", repo.str(), digest.str());
    });
  }

  Result<BlobUnlink> unlink_unused_blob(const core::RepositoryName& repo,
                                        const core::Digest& digest) override {
    return write([&](Connection& connection) -> Result<BlobUnlink> {
      BlobUnlink result;
      auto id = repository_id<Db>(connection, repo);
      if (!id || !*id) {
        return id ? Result<BlobUnlink>(result) : forward(id);
      }
      auto manifest =
          connection.query(Db::sql(kManifestExistsById), "look up manifest", **id, digest.str());
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
      auto users = connection.query(Db::sql(kBlobUsers), "look up blob users", **id, digest.str());
      if (!users) {
        return forward(users);
      }
      auto used = first_row<BlobUnlink>(*users, [](const Statement& row) -> Result<BlobUnlink> {
        auto user = column_digest<Db>(row, 0);
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
      auto removed =
          run_changed(connection, Db::sql(kDeleteLinkById), "unlink blob", **id, digest.str());
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
      // Check first, write after: a refusal must leave no trace, not even the
      // repository.
      auto existing = repository_id<Db>(connection, put.repository);
      if (!existing) {
        return forward(existing);
      }
      auto outcome = check_references<Db>(connection, *existing, put);
      if (!outcome) {
        return forward(outcome);
      }
      if (!outcome->stored()) {
        return outcome;
      }
      if (auto stored = store_manifest<Db>(connection, put); !stored) {
        return forward(stored);
      }
      BERTH_TRY(outbox::insert_events<Db>(connection, put.events));
      return outcome;
    });
  }

  Result<std::optional<ManifestRecord>> get_manifest(const core::RepositoryName& repo,
                                                     const core::Digest& digest) override {
    return read([&](Connection& connection) -> Result<std::optional<ManifestRecord>> {
      auto statement =
          connection.query(Db::sql(kGetManifest), "get manifest", repo.str(), digest.str());
      if (!statement) {
        return forward(statement);
      }
      return first_manifest<Db>(*statement);
    });
  }

  Result<std::optional<ManifestRecord>> resolve_tag(const core::RepositoryName& repo,
                                                    const core::Tag& tag) override {
    return read([&](Connection& connection) -> Result<std::optional<ManifestRecord>> {
      auto statement = connection.query(Db::sql(kResolveTag), "resolve tag", repo.str(), tag.str());
      if (!statement) {
        return forward(statement);
      }
      return first_manifest<Db>(*statement);
    });
  }

  Result<bool> delete_manifest(const core::RepositoryName& repo, const core::Digest& digest,
                               const std::vector<OutboxEvent>& events) override {
    return write([&](Connection& connection) -> Result<bool> {
      auto ids = manifest_ids<Db>(connection, repo, digest);
      if (!ids || !*ids) {
        return ids ? Result<bool>(false) : forward(ids);
      }
      const std::int64_t manifest = (*ids)->manifest;
      const std::int64_t repository = (*ids)->repository;
      if (auto deleted = run(connection, Db::sql(kDeleteManifest), "delete manifest", manifest);
          !deleted) {
        return forward(deleted);
      }
      if (auto unlinked = run(connection, Db::sql(kDeleteLinkById), "unlink manifest blob",
                              repository, digest.str());
          !unlinked) {
        return forward(unlinked);
      }
      BERTH_TRY(outbox::insert_events<Db>(connection, events));
      return true;
    });
  }

  Result<bool> delete_tag(const core::RepositoryName& repo, const core::Tag& tag,
                          const std::vector<OutboxEvent>& events) override {
    return write([&](Connection& connection) -> Result<bool> {
      auto deleted =
          run_changed(connection, Db::sql(kDeleteTag), "delete tag", repo.str(), tag.str());
      if (!deleted || !*deleted) {
        return deleted;
      }
      BERTH_TRY(outbox::insert_events<Db>(connection, events));
      return true;
    });
  }

  Result<std::vector<std::string>> list_tags(const core::RepositoryName& repo,
                                             const std::string& after, std::size_t limit) override {
    return read([&](Connection& connection) -> Result<std::vector<std::string>> {
      auto statement =
          connection.query(Db::sql(kListTags), "list tags", repo.str(), after, sql_limit(limit));
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
      auto statement = connection.query(Db::sql(kReferrers), "list referrers", repo.str(),
                                        subject.str(), artifact_type);
      if (!statement) {
        return forward(statement);
      }
      return all_manifests<Db>(*statement);
    });
  }

  // ---- upload sessions

  Result<void> create_upload(const UploadRecord& upload) override {
    return write([&](Connection& connection) -> Result<void> {
      auto repository =
          ensure_repository<Db>(connection, upload.repository, core::to_unix_ms(upload.started));
      if (!repository) {
        return forward(repository);
      }
      return run(connection, Db::sql(kInsertUpload), "create upload", upload.id.str(), *repository,
                 core::to_unix_ms(upload.started), core::to_unix_ms(upload.updated), upload.size,
                 upload.hash_state);
    });
  }

  Result<std::optional<UploadRecord>> get_upload(const core::UploadId& id) override {
    return read([&](Connection& connection) -> Result<std::optional<UploadRecord>> {
      auto statement = connection.query(Db::sql(kGetUpload), "get upload", id.str());
      if (!statement) {
        return forward(statement);
      }
      return first_row<UploadRecord>(*statement, read_upload<Db>);
    });
  }

  Result<void> update_upload(const core::UploadId& id, std::uint64_t size,
                             const std::string& hash_state, core::TimePoint now) override {
    return write([&](Connection& connection) -> Result<void> {
      auto changed = run_changed(connection, Db::sql(kUpdateUpload), "update upload", id.str(),
                                 size, hash_state, core::to_unix_ms(now));
      if (!changed) {
        return forward(changed);
      }
      if (!*changed) {
        return unknown_upload(id);
      }
      return {};
    });
  }

  Result<void> touch_upload(const core::UploadId& id, core::TimePoint now) override {
    return write([&](Connection& connection) -> Result<void> {
      auto changed = run_changed(connection, Db::sql(kTouchUpload), "touch upload", id.str(),
                                 core::to_unix_ms(now));
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
      auto find = connection.query(Db::sql(kUploadRepository), "find upload", id.str());
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
      if (auto linked = link<Db>(connection, **repository, blob, core::to_unix_ms(now)); !linked) {
        return linked;
      }
      return run(connection, Db::sql(kDeleteUpload), "delete upload", id.str());
    });
  }

  Result<void> delete_upload(const core::UploadId& id) override {
    return write([&](Connection& connection) {
      return run(connection, Db::sql(kDeleteUpload), "delete upload", id.str());
    });
  }

  Result<bool> delete_stale_upload(const core::UploadId& id, core::TimePoint cutoff) override {
    return write([&](Connection& connection) {
      return run_changed(connection, Db::sql(kDeleteStaleUpload), "delete stale upload", id.str(),
                         core::to_unix_ms(cutoff));
    });
  }

  Result<std::vector<UploadRecord>> stale_uploads(core::TimePoint cutoff) override {
    return read([&](Connection& connection) -> Result<std::vector<UploadRecord>> {
      auto statement =
          connection.query(Db::sql(kStaleUploads), "list stale uploads", core::to_unix_ms(cutoff));
      if (!statement) {
        return forward(statement);
      }
      return all_rows<UploadRecord>(*statement, read_upload<Db>);
    });
  }

 private:
  static std::unexpected<core::Error> unknown_upload(const core::UploadId& id) {
    return core::fail(core::ErrorCode::kBlobUploadUnknown, "upload " + id.str() + " is unknown");
  }

  template <class F>
  std::invoke_result_t<F&, Connection&> read(F&& f) {
    return database_->read(std::forward<F>(f));
  }

  template <class F>
  std::invoke_result_t<F&, Connection&> write(F&& f) {
    return database_->write(std::forward<F>(f));
  }

  std::shared_ptr<typename Db::Database> database_;
};

// The MetadataStore alone over a new Database (Db::Database::open's errors).
template <class Db, class Options>
Result<std::unique_ptr<MetadataStore>> open_metadata_store(const Options& options) {
  auto database = Db::Database::open(options);
  if (!database) {
    return forward(database);
  }
  return std::make_unique<BasicMetadataStore<Db>>(std::move(*database));
}

// Every store over one new Database. The make_*_store functions are found by
// argument- dependent lookup in Db's namespace (sqlite_*_store.hpp,
// pg_*_store.hpp), which the caller includes.
template <class Db, class Options>
Result<Stores> open_stores(const Options& options) {
  auto database = Db::Database::open(options);
  if (!database) {
    return forward(database);
  }
  return Stores{.metadata = std::make_shared<BasicMetadataStore<Db>>(*database),
                .accounts = make_account_store(*database),
                .check = make_check_store(*database),
                .policies = make_policy_store(*database),
                .gc = make_gc_store(*database),
                .proxy = make_proxy_store(*database),
                .logins = std::make_shared<logins::BasicLoginThrottleStore<Db>>(*database),
                .browse = make_browse_store(*database),
                .sessions = std::make_shared<sessions::BasicSessionStore<Db>>(*database),
                .audit = std::make_shared<audit::BasicAuditStore<Db>>(*database),
                .outbox = std::make_shared<outbox::BasicOutboxStore<Db>>(*database)};
}

}  // namespace berth::meta::sql::metadata
