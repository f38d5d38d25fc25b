// The SessionStore over either database (sql_text.hpp): the table ui_sessions (SQLite's
// migration 10, PostgreSQL's 4). The account store deletes a user's rows in the transactions
// that end their sessions (sql_account_store.hpp). Internal to meta/: opened with the other
// stores (sql_metadata_store.hpp).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "meta/session_store.hpp"
#include "meta/sql_rows.hpp"
#include "meta/sql_text.hpp"

namespace berth::meta::sql::sessions {

// The table, the same in both dialects.
inline constexpr std::string_view kSchema = R"sql(
-- Web UI sessions (meta/session_store.hpp): the SHA-256 of the cookie's secret, never the
-- secret. Purged by the scheduled maintenance once idle or too old; the account store
-- deletes a user's sessions when their password, admin flag or account goes.
CREATE TABLE ui_sessions (
  id_hash TEXT PRIMARY KEY,
  user_name TEXT NOT NULL,
  account TEXT NOT NULL,
  csrf_token TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL
);
CREATE INDEX ui_sessions_by_user ON ui_sessions (user_name);
CREATE INDEX ui_sessions_by_last_seen ON ui_sessions (last_seen_at);
CREATE INDEX ui_sessions_by_created ON ui_sessions (created_at);
)sql";

inline constexpr Text kInsert = R"sql(
INSERT INTO ui_sessions (id_hash, user_name, account, csrf_token, created_at, last_seen_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING)sql";
inline constexpr Text kGet =
    "SELECT id_hash, user_name, account, csrf_token, created_at, last_seen_at FROM ui_sessions "
    "WHERE id_hash = ?1";
inline constexpr Text kTouch = "UPDATE ui_sessions SET last_seen_at = ?2 WHERE id_hash = ?1";
inline constexpr Text kDelete = "DELETE FROM ui_sessions WHERE id_hash = ?1";
inline constexpr Text kPurge = "DELETE FROM ui_sessions WHERE last_seen_at < ?1 OR created_at < ?2";
// For the account store: the user's sessions end.
inline constexpr Text kDeleteOfUser = "DELETE FROM ui_sessions WHERE user_name = ?1";

template <class Db>
class BasicSessionStore final : public SessionStore {
 public:
  using Connection = typename Db::Connection;
  using Statement = typename Db::Statement;

  explicit BasicSessionStore(std::shared_ptr<typename Db::Database> database)
      : database_(std::move(database)) {}

  Result<void> create_session(const UiSession& session) override {
    return database_->write([&](Connection& connection) -> Result<void> {
      auto inserted =
          run_changed(connection, Db::sql(kInsert), "create session", session.id_hash, session.user,
                      session.account, session.csrf_token, core::to_unix_ms(session.created),
                      core::to_unix_ms(session.last_seen));
      if (!inserted) {
        return forward(inserted);
      }
      if (!*inserted) {
        return core::fail(core::ErrorCode::kConflict, "the session exists");
      }
      return {};
    });
  }

  Result<std::optional<UiSession>> get_session(const std::string& id_hash) override {
    return database_->read([&](Connection& connection) -> Result<std::optional<UiSession>> {
      auto statement = connection.query(Db::sql(kGet), "get session", id_hash);
      if (!statement) {
        return forward(statement);
      }
      return first_row<UiSession>(*statement, [](const Statement& row) -> Result<UiSession> {
        return UiSession{.id_hash = row.text(0),
                         .user = row.text(1),
                         .account = row.text(2),
                         .csrf_token = row.text(3),
                         .created = core::from_unix_ms(row.int64(4)),
                         .last_seen = core::from_unix_ms(row.int64(5))};
      });
    });
  }

  Result<void> touch_session(const std::string& id_hash, core::TimePoint now) override {
    return database_->write([&](Connection& connection) {
      return run(connection, Db::sql(kTouch), "touch session", id_hash, core::to_unix_ms(now));
    });
  }

  Result<void> delete_session(const std::string& id_hash) override {
    return database_->write([&](Connection& connection) {
      return run(connection, Db::sql(kDelete), "delete session", id_hash);
    });
  }

  Result<std::size_t> purge_sessions(core::TimePoint idle_before,
                                     core::TimePoint created_before) override {
    return database_->write([&](Connection& connection) -> Result<std::size_t> {
      BERTH_TRY(run(connection, Db::sql(kPurge), "purge sessions", core::to_unix_ms(idle_before),
                    core::to_unix_ms(created_before)));
      return static_cast<std::size_t>(connection.changes());
    });
  }

 private:
  std::shared_ptr<typename Db::Database> database_;
};

}  // namespace berth::meta::sql::sessions
