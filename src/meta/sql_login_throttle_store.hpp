// The LoginThrottleStore over either database (sql_text.hpp): the tables login_failures and
// login_reservations (SQLite's migration 9, PostgreSQL's 3). Every call is one write
// transaction, so on PostgreSQL the count and the reservation that follows it are taken under
// the cluster-wide write lock (pg_database.hpp): two replicas reserving the last place of a key
// at once take turns, and the second sees the first's reservation. Internal to meta/: opened
// with the other stores (sql_metadata_store.hpp).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "meta/login_throttle_store.hpp"
#include "meta/sql_rows.hpp"
#include "meta/sql_text.hpp"

namespace berth::meta::sql::logins {

// The tables, the same in both dialects (SQLite's migration 9, PostgreSQL's 3).
inline constexpr std::string_view kSchema = R"sql(
-- Failed logins and logins in progress, per throttle key (auth/stored_login_throttle.hpp):
-- counted here, by every process on the database, only when logins are throttled across
-- processes (metadata.driver postgres); the embedded server counts in memory. A key holds at
-- most its limit of failures in the window (an attempt at the limit is refused), and rows
-- older than the window are pruned by the next attempt, so the tables stay small.
CREATE TABLE login_failures (
  throttle_key TEXT NOT NULL,
  user_name TEXT NOT NULL,
  failed_at BIGINT NOT NULL
);
CREATE INDEX login_failures_by_key ON login_failures (throttle_key, failed_at);
CREATE INDEX login_failures_by_user ON login_failures (user_name) WHERE user_name <> '';
CREATE INDEX login_failures_by_time ON login_failures (failed_at);
CREATE TABLE login_reservations (
  ticket TEXT NOT NULL,
  throttle_key TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (ticket, throttle_key)
);
CREATE INDEX login_reservations_by_key ON login_reservations (throttle_key, expires_at);
CREATE INDEX login_reservations_by_time ON login_reservations (expires_at);
)sql";

inline constexpr Text kPruneFailures = "DELETE FROM login_failures WHERE failed_at <= ?1";
inline constexpr Text kPruneReservations = "DELETE FROM login_reservations WHERE expires_at <= ?1";

inline constexpr Text kCountFailures =
    "SELECT count(*), min(failed_at) FROM login_failures WHERE throttle_key = ?1 AND failed_at > "
    "?2";
inline constexpr Text kCountReservations =
    "SELECT count(*) FROM login_reservations WHERE throttle_key = ?1 AND expires_at > ?2";

inline constexpr Text kReserve =
    "INSERT INTO login_reservations (ticket, throttle_key, expires_at) VALUES (?1, ?2, ?3)";
inline constexpr Text kRelease = "DELETE FROM login_reservations WHERE ticket = ?1";
inline constexpr Text kFail =
    "INSERT INTO login_failures (throttle_key, user_name, failed_at) VALUES (?1, ?2, ?3)";
inline constexpr Text kUnlock =
    "DELETE FROM login_failures WHERE user_name = ?1 AND user_name <> '' AND failed_at <= ?2";

template <class Db>
class BasicLoginThrottleStore final : public LoginThrottleStore {
 public:
  using Connection = typename Db::Connection;

  explicit BasicLoginThrottleStore(std::shared_ptr<typename Db::Database> database)
      : database_(std::move(database)) {}

  Result<ThrottleReservation> reserve(const std::string& ticket,
                                      const std::vector<ThrottleKey>& keys, core::TimePoint now,
                                      core::TimePoint horizon, core::TimePoint expires) override {
    return database_->write([&](Connection& connection) -> Result<ThrottleReservation> {
      // Cheap (indexed on the time) and keeps the tables to what is in the window.
      BERTH_TRY(run(connection, Db::sql(kPruneFailures), "prune login failures",
                    core::to_unix_ms(horizon)));
      BERTH_TRY(run(connection, Db::sql(kPruneReservations), "prune login reservations",
                    core::to_unix_ms(now)));
      ThrottleReservation reservation{.reserved = true, .counts = {}};
      for (const ThrottleKey& key : keys) {
        auto count = count_of(connection, key, now, horizon);
        if (!count) {
          return forward(count);
        }
        reservation.reserved = reservation.reserved && count->failures + count->pending < key.limit;
        reservation.counts.push_back(*count);
      }
      if (reservation.reserved) {
        for (const ThrottleKey& key : keys) {
          BERTH_TRY(run(connection, Db::sql(kReserve), "reserve login attempt", ticket, key.name,
                        core::to_unix_ms(expires)));
        }
      }
      return reservation;
    });
  }

  Result<std::vector<ThrottleCount>> settle(const std::string& ticket,
                                            const std::vector<ThrottleKey>& keys, bool failed,
                                            core::TimePoint now, core::TimePoint horizon) override {
    return database_->write([&](Connection& connection) -> Result<std::vector<ThrottleCount>> {
      BERTH_TRY(run(connection, Db::sql(kRelease), "settle login attempt", ticket));
      std::vector<ThrottleCount> counts;
      for (const ThrottleKey& key : keys) {
        if (failed) {
          BERTH_TRY(run(connection, Db::sql(kFail), "record failed login", key.name, key.user,
                        core::to_unix_ms(now)));
        }
        auto count = count_of(connection, key, now, horizon);
        if (!count) {
          return forward(count);
        }
        counts.push_back(*count);
      }
      return counts;
    });
  }

  Result<void> unlock_user(const std::string& user, core::TimePoint until) override {
    return database_->write([&](Connection& connection) {
      return run(connection, Db::sql(kUnlock), "unlock user logins", user, core::to_unix_ms(until));
    });
  }

 private:
  static Result<ThrottleCount> count_of(Connection& connection, const ThrottleKey& key,
                                        core::TimePoint now, core::TimePoint horizon) {
    ThrottleCount count;
    auto failures = connection.query(Db::sql(kCountFailures), "count failed logins", key.name,
                                     core::to_unix_ms(horizon));
    if (!failures) {
      return forward(failures);
    }
    BERTH_TRY(failures->step());
    count.failures = static_cast<std::size_t>(failures->int64(0));
    count.oldest_failure = time_or_null(*failures, 1);
    auto pending = connection.query(Db::sql(kCountReservations), "count login attempts", key.name,
                                    core::to_unix_ms(now));
    if (!pending) {
      return forward(pending);
    }
    BERTH_TRY(pending->step());
    count.pending = static_cast<std::size_t>(pending->int64(0));
    return count;
  }

  std::shared_ptr<typename Db::Database> database_;
};

}  // namespace berth::meta::sql::logins
