// The OutboxStore over either database (sql_text.hpp): the tables of SQLite's migration 12 and
// PostgreSQL's 6, and insert_events(), which the MetadataStore calls inside its own write
// transactions (sql_metadata_store.hpp) so that a change and its event commit together.
// Internal to meta/: opened with the other stores (sql_metadata_store.hpp).
#pragma once

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "meta/outbox_store.hpp"
#include "meta/sql_rows.hpp"
#include "meta/sql_text.hpp"

namespace berth::meta::sql::outbox {

// The tables. Ids are random text (random_event_id), so that no identity column differs
// between the dialects; webhooks.created_at is INTEGER on SQLite, where backup and the shape
// moves copy the table column by column (metadata_transfer.cpp), BIGINT on PostgreSQL. No
// foreign keys: a delivery of a deleted webhook is found by the worker (its LEFT JOIN gives no
// URL) and declared dead.
// clang-format off
inline constexpr char kOutboxTables[] = R"sql(
-- The outbox (meta/outbox_store.hpp): one row per event, written in the transaction of the
-- change it tells of; fanned_out turns 1 once its deliveries exist.
CREATE TABLE events (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  project TEXT NOT NULL,
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  tag TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size BIGINT,
  actor TEXT NOT NULL,
  remote_addr TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  request_id TEXT NOT NULL,
  method TEXT NOT NULL,
  host TEXT NOT NULL,
  detail TEXT NOT NULL,
  fanned_out INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_waiting ON events (created_at, id) WHERE fanned_out = 0;

-- One per event and endpoint; its id is the Berth-Delivery header of every attempt.
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  event_id TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  webhook_id TEXT,
  state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts INTEGER NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  lease_owner TEXT NOT NULL,
  lease_until BIGINT NOT NULL,
  last_status INTEGER,
  last_error TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (event_id, endpoint)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_by_update ON webhook_deliveries (updated_at);
)sql";

// Webhooks of projects, managed by their owners and administrators.
#define BERTH_WEBHOOKS_TABLE(TIME)                                                              \
  "CREATE TABLE webhooks (id TEXT PRIMARY KEY, project TEXT NOT NULL, url TEXT NOT NULL,"      \
  " secret TEXT NOT NULL, events TEXT NOT NULL, format TEXT NOT NULL,"                        \
  " created_at " TIME " NOT NULL, created_by TEXT NOT NULL);\n"                                \
  "CREATE INDEX webhooks_by_project ON webhooks (project);\n"
// clang-format on

inline constexpr char kWebhooksSqlite[] = BERTH_WEBHOOKS_TABLE("INTEGER");
inline constexpr char kWebhooksPg[] = BERTH_WEBHOOKS_TABLE("BIGINT");
#undef BERTH_WEBHOOKS_TABLE

// Two literals as one, at compile time (a migration is one text).
template <std::size_t A, std::size_t B>
constexpr std::array<char, A + B - 1> joined(const char (&a)[A], const char (&b)[B]) {
  std::array<char, A + B - 1> out{};
  for (std::size_t i = 0; i + 1 < A; ++i) {
    out[i] = a[i];
  }
  for (std::size_t i = 0; i < B; ++i) {
    out[A - 1 + i] = b[i];
  }
  return out;
}
inline constexpr auto kSqliteSchemaText = joined(kOutboxTables, kWebhooksSqlite);
inline constexpr auto kPgSchemaText = joined(kOutboxTables, kWebhooksPg);
inline constexpr std::string_view kSqliteSchema{kSqliteSchemaText.data(),
                                                kSqliteSchemaText.size() - 1};
inline constexpr std::string_view kPgSchema{kPgSchemaText.data(), kPgSchemaText.size() - 1};

inline constexpr Text kInsertEvent = R"sql(
INSERT INTO events (id, type, created_at, project, repository, digest, tag, media_type, size,
                    actor, remote_addr, user_agent, request_id, method, host, detail)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16))sql";

inline constexpr Text kAnyWaiting = "SELECT 1 FROM events WHERE fanned_out = 0 LIMIT 1";
inline constexpr Text kWaitingEvents = R"sql(
SELECT id, type, project, created_at FROM events WHERE fanned_out = 0 ORDER BY created_at, id
LIMIT ?1)sql";
inline constexpr Text kWebhookRoutes = "SELECT id, project, events FROM webhooks";
inline constexpr Text kInsertDelivery = R"sql(
INSERT INTO webhook_deliveries (id, event_id, endpoint, webhook_id, state, attempts,
                                next_attempt_at, lease_owner, lease_until, last_error,
                                created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, '', 0, '', ?5, ?5)
ON CONFLICT DO NOTHING)sql";
// The events kWaitingEvents listed, up to the last one (?1, ?2) in its order: no other can be
// among them, the write transaction holds the database's write lock.
inline constexpr Text kFannedOut = R"sql(
UPDATE events SET fanned_out = 1
WHERE fanned_out = 0 AND (created_at < ?1 OR (created_at = ?1 AND id <= ?2)))sql";

// The columns read_delivery() expects, in order, of deliveries `d` (a macro: only literals
// concatenate).
// clang-format off
#define BERTH_DELIVERY_COLUMNS                                                                     \
  "SELECT d.id, d.endpoint, d.webhook_id, d.state, d.attempts, d.next_attempt_at,"                 \
  " d.last_status, d.last_error, d.created_at, d.updated_at,"                                      \
  " e.id, e.type, e.created_at, e.project, e.repository, e.digest, e.tag, e.media_type, e.size,"   \
  " e.actor, e.remote_addr, e.user_agent, e.request_id, e.method, e.host, e.detail,"               \
  " w.url, w.secret, w.format, w.events, w.project"
#define BERTH_DELIVERY_JOINS                                                                       \
  " JOIN events e ON e.id = d.event_id LEFT JOIN webhooks w ON w.id = d.webhook_id "
#define BERTH_DELIVERY_SELECT BERTH_DELIVERY_COLUMNS " FROM webhook_deliveries d" BERTH_DELIVERY_JOINS
// clang-format on

// At most ?3 per endpoint (the oldest), so that the due deliveries of a dead endpoint, however
// many, never hide those of the others.
// clang-format off
inline constexpr Text kDueDeliveries = BERTH_DELIVERY_COLUMNS
    " FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY endpoint ORDER BY next_attempt_at, id)"
    "         AS place"
    "       FROM webhook_deliveries"
    "       WHERE state = 'pending' AND next_attempt_at <= ?1 AND lease_until <= ?1) d"
    BERTH_DELIVERY_JOINS
    "WHERE d.place <= ?3 ORDER BY d.next_attempt_at, d.id LIMIT ?2";
// clang-format on
inline constexpr Text kListDeliveries = BERTH_DELIVERY_SELECT R"sql(
WHERE (?1 = '' OR d.state = ?1) AND (?2 = '' OR e.project = ?2)
  AND (?4 = 0 OR d.webhook_id IS NOT NULL)
ORDER BY d.updated_at DESC, d.id LIMIT ?3)sql";
inline constexpr Text kGetDelivery = BERTH_DELIVERY_SELECT "WHERE d.id = ?1";

#undef BERTH_DELIVERY_SELECT
#undef BERTH_DELIVERY_JOINS
#undef BERTH_DELIVERY_COLUMNS

inline constexpr Text kClaim = R"sql(
UPDATE webhook_deliveries
SET lease_owner = ?2, lease_until = ?4, attempts = attempts + 1, updated_at = ?3
WHERE id = ?1 AND state = 'pending' AND next_attempt_at <= ?3 AND lease_until <= ?3)sql";
inline constexpr Text kRecordAttempt = R"sql(
UPDATE webhook_deliveries
SET state = ?3, next_attempt_at = ?4, last_status = ?5, last_error = ?6, lease_owner = '',
    lease_until = 0, updated_at = ?7
WHERE id = ?1 AND lease_owner = ?2 AND state = 'pending')sql";
// Not while an attempt holds its lease: clearing it would let a second attempt start, and
// the first one's outcome would be ignored.
inline constexpr Text kRedeliver = R"sql(
UPDATE webhook_deliveries
SET state = 'pending', attempts = 0, next_attempt_at = ?2, lease_owner = '', lease_until = 0,
    updated_at = ?2
WHERE id = ?1 AND (state <> 'pending' OR lease_until <= ?2))sql";
inline constexpr Text kPruneDeliveries =
    "DELETE FROM webhook_deliveries WHERE state IN ('delivered', 'dead') AND updated_at < ?1";
// An event fanned out with no delivery left is done, whatever its age: most events (pulls
// nobody subscribed to) go at the next prune.
inline constexpr Text kPruneEvents = R"sql(
DELETE FROM events WHERE fanned_out = 1
  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id))sql";

inline constexpr Text kInsertWebhook = R"sql(
INSERT INTO webhooks (id, project, url, secret, events, format, created_at, created_by)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING)sql";
inline constexpr Text kListWebhooks = R"sql(
SELECT id, project, url, secret, events, format, created_at, created_by FROM webhooks
WHERE ?1 = '' OR project = ?1 ORDER BY project, created_at, id)sql";
inline constexpr Text kWebhookUrlTaken = "SELECT 1 FROM webhooks WHERE project = ?1 AND url = ?2";
inline constexpr Text kCountWebhooks = "SELECT count(*) FROM webhooks WHERE project = ?1";
inline constexpr Text kDeleteWebhook = "DELETE FROM webhooks WHERE project = ?1 AND id = ?2";
// A deleted project's webhooks and their deliveries (delete_project_webhooks).
inline constexpr Text kDeleteProjectDeliveries = R"sql(
DELETE FROM webhook_deliveries WHERE webhook_id IN (SELECT id FROM webhooks WHERE project = ?1))sql";
inline constexpr Text kDeleteProjectWebhooks = "DELETE FROM webhooks WHERE project = ?1";

// "push,delete" <-> {"push", "delete"}.
std::string join_types(const std::vector<std::string>& types);
std::vector<std::string> split_types(std::string_view text);
// Whether a list of wanted types (empty: all) takes `type`.
bool wants(const std::vector<std::string>& types, std::string_view type);

// Inserts the events in the caller's write transaction.
template <class Db>
[[nodiscard]] Result<void> insert_events(typename Db::Connection& connection,
                                         const std::vector<OutboxEvent>& events) {
  for (const auto& e : events) {
    BERTH_TRY(run(connection, Db::sql(kInsertEvent), "record event", e.id, e.type,
                  core::to_unix_ms(e.time), e.project, e.repository, e.digest, e.tag, e.media_type,
                  e.size, e.origin.actor, e.origin.remote_addr, e.origin.user_agent,
                  e.origin.request_id, e.origin.method, e.origin.host, e.detail_json));
  }
  return {};
}

// Deletes the project's webhooks and their deliveries in the caller's write transaction (the
// AccountStore's delete_project): left behind, they would send the events of whoever creates
// the name next to the old owner's receivers.
template <class Db>
[[nodiscard]] Result<void> delete_project_webhooks(typename Db::Connection& connection,
                                                   const std::string& project) {
  BERTH_TRY(run(connection, Db::sql(kDeleteProjectDeliveries), "delete the project's deliveries",
                project));
  return run(connection, Db::sql(kDeleteProjectWebhooks), "delete the project's webhooks", project);
}

template <class Statement>
Delivery read_delivery(const Statement& row) {
  Delivery d;
  d.id = row.text(0);
  d.endpoint = row.text(1);
  d.state = parse_delivery_state(row.text(3)).value_or(DeliveryState::kDead);
  d.attempts = static_cast<int>(row.int64(4));
  d.next_attempt = core::from_unix_ms(row.int64(5));
  if (!row.is_null(6)) {
    d.last_status = static_cast<int>(row.int64(6));
  }
  d.last_error = row.text(7);
  d.created = core::from_unix_ms(row.int64(8));
  d.updated = core::from_unix_ms(row.int64(9));
  auto& e = d.event;
  e.id = row.text(10);
  e.type = row.text(11);
  e.time = core::from_unix_ms(row.int64(12));
  e.project = row.text(13);
  e.repository = row.text(14);
  e.digest = row.text(15);
  e.tag = row.text(16);
  e.media_type = row.text(17);
  if (!row.is_null(18)) {
    e.size = static_cast<std::uint64_t>(row.int64(18));
  }
  e.origin = EventOrigin{.actor = row.text(19),
                         .remote_addr = row.text(20),
                         .user_agent = row.text(21),
                         .request_id = row.text(22),
                         .method = row.text(23),
                         .host = row.text(24)};
  e.detail_json = row.text(25);
  if (!row.is_null(2) && !row.is_null(26)) {
    d.webhook = Webhook{.id = row.text(2),
                        .project = row.text(30),
                        .url = row.text(26),
                        .secret = row.text(27),
                        .events = split_types(row.text(29)),
                        .format = row.text(28),
                        .created = {},
                        .created_by = {}};
  }
  return d;
}

template <class Db>
class BasicOutboxStore final : public OutboxStore {
 public:
  using Connection = typename Db::Connection;
  using Statement = typename Db::Statement;

  explicit BasicOutboxStore(std::shared_ptr<typename Db::Database> database)
      : database_(std::move(database)) {}

  Result<void> append(const std::vector<OutboxEvent>& events) override {
    if (events.empty()) {
      return {};
    }
    return database_->write(
        [&](Connection& connection) { return insert_events<Db>(connection, events); });
  }

  Result<std::size_t> fan_out(const std::vector<EventRoute>& routes, core::TimePoint now,
                              std::size_t limit) override {
    // Mostly nothing waits: a read says so, and no write transaction is taken (on PostgreSQL
    // the cluster's write lock) every poll interval.
    auto any = database_->read([&](Connection& connection) {
      return has_row(connection, Db::sql(kAnyWaiting), "look for new events");
    });
    if (!any) {
      return forward(any);
    }
    if (!*any) {
      return 0;
    }
    return database_->write([&](Connection& connection) -> Result<std::size_t> {
      auto waiting = waiting_events(connection, limit);
      if (!waiting) {
        return forward(waiting);
      }
      if (waiting->empty()) {
        return 0;
      }
      auto hooks = webhook_routes(connection);
      if (!hooks) {
        return forward(hooks);
      }
      const auto ms = core::to_unix_ms(now);
      for (const auto& event : *waiting) {
        for (const auto& route : routes) {
          if (wants(route.events, event.type)) {
            BERTH_TRY(run(connection, Db::sql(kInsertDelivery), "record delivery",
                          random_event_id(), event.id, route.endpoint, std::optional<std::string>(),
                          ms));
          }
        }
        const auto [first, last] = hooks->equal_range(event.project);
        for (auto it = first; it != last; ++it) {
          const auto& [id, types] = it->second;
          if (wants(types, event.type)) {
            BERTH_TRY(run(connection, Db::sql(kInsertDelivery), "record delivery",
                          random_event_id(), event.id, "project:" + id, std::optional(id), ms));
          }
        }
      }
      const auto& newest = waiting->back();
      BERTH_TRY(run(connection, Db::sql(kFannedOut), "mark events fanned out", newest.created_ms,
                    newest.id));
      return waiting->size();
    });
  }

  Result<std::vector<Delivery>> due_deliveries(core::TimePoint now, std::size_t limit,
                                               std::size_t per_endpoint) override {
    return deliveries(Db::sql(kDueDeliveries), "list due deliveries", core::to_unix_ms(now),
                      sql_limit(limit), sql_limit(per_endpoint));
  }

  Result<bool> claim(const std::string& id, const std::string& owner, core::TimePoint now,
                     core::TimePoint lease_until) override {
    return database_->write([&](Connection& connection) {
      return run_changed(connection, Db::sql(kClaim), "claim delivery", id, owner,
                         core::to_unix_ms(now), core::to_unix_ms(lease_until));
    });
  }

  Result<void> record_attempt(const std::string& id, const std::string& owner, core::TimePoint now,
                              bool delivered, std::optional<int> status, const std::string& error,
                              std::optional<core::TimePoint> retry_at) override {
    const DeliveryState state = delivered  ? DeliveryState::kDelivered
                                : retry_at ? DeliveryState::kPending
                                           : DeliveryState::kDead;
    const auto ms = core::to_unix_ms(now);
    const std::optional<std::int64_t> code =
        status ? std::optional<std::int64_t>(*status) : std::nullopt;
    return database_->write([&](Connection& connection) {
      return run(connection, Db::sql(kRecordAttempt), "record delivery attempt", id, owner,
                 std::string(delivery_state_name(state)),
                 retry_at ? core::to_unix_ms(*retry_at) : ms, code, error, ms);
    });
  }

  Result<std::vector<Delivery>> list_deliveries(const DeliveryFilter& filter) override {
    return deliveries(Db::sql(kListDeliveries), "list deliveries",
                      std::string(filter.state ? delivery_state_name(*filter.state) : ""),
                      filter.project, sql_limit(filter.limit),
                      std::int64_t{filter.webhooks_only ? 1 : 0});
  }

  Result<std::optional<Delivery>> get_delivery(const std::string& id) override {
    auto found = deliveries(Db::sql(kGetDelivery), "get delivery", id);
    if (!found) {
      return forward(found);
    }
    if (found->empty()) {
      return std::optional<Delivery>();
    }
    return std::optional<Delivery>(std::move(found->front()));
  }

  Result<bool> redeliver(const std::string& id, core::TimePoint now) override {
    return database_->write([&](Connection& connection) {
      return run_changed(connection, Db::sql(kRedeliver), "redeliver", id, core::to_unix_ms(now));
    });
  }

  Result<std::size_t> prune(core::TimePoint before) override {
    return database_->write([&](Connection& connection) -> Result<std::size_t> {
      const auto ms = core::to_unix_ms(before);
      BERTH_TRY(run(connection, Db::sql(kPruneDeliveries), "prune deliveries", ms));
      const auto pruned = static_cast<std::size_t>(connection.changes());
      BERTH_TRY(run(connection, Db::sql(kPruneEvents), "prune events"));
      return pruned;
    });
  }

  Result<void> add_webhook(const Webhook& w) override {
    return database_->write([&](Connection& connection) -> Result<void> {
      // Checked in the transaction of the insert: two adds at once cannot both pass.
      auto taken =
          has_row(connection, Db::sql(kWebhookUrlTaken), "look up webhook", w.project, w.url);
      if (!taken) {
        return forward(taken);
      }
      if (*taken) {
        return core::fail(core::ErrorCode::kConflict,
                          "project " + w.project + " has a webhook to this URL already");
      }
      auto statement = connection.query(Db::sql(kCountWebhooks), "count webhooks", w.project);
      if (!statement) {
        return forward(statement);
      }
      auto count = first_int64(*statement);
      if (!count) {
        return forward(count);
      }
      if (count->value_or(0) >= static_cast<std::int64_t>(kMaxWebhooksPerProject)) {
        return core::fail(core::ErrorCode::kInvalidRequest,
                          "project " + w.project + " has " +
                              std::to_string(kMaxWebhooksPerProject) +
                              " webhooks, the most it may have: delete one first");
      }
      auto added = run_changed(connection, Db::sql(kInsertWebhook), "add webhook", w.id, w.project,
                               w.url, w.secret, join_types(w.events), w.format,
                               core::to_unix_ms(w.created), w.created_by);
      if (!added) {
        return forward(added);
      }
      if (!*added) {
        return core::fail(core::ErrorCode::kConflict, "webhook " + w.id + " exists");
      }
      return {};
    });
  }

  Result<std::vector<Webhook>> list_webhooks(const std::string& project) override {
    return database_->read([&](Connection& connection) -> Result<std::vector<Webhook>> {
      auto statement = connection.query(Db::sql(kListWebhooks), "list webhooks", project);
      if (!statement) {
        return forward(statement);
      }
      return all_rows<Webhook>(*statement, [](const Statement& row) -> Result<Webhook> {
        return Webhook{.id = row.text(0),
                       .project = row.text(1),
                       .url = row.text(2),
                       .secret = row.text(3),
                       .events = split_types(row.text(4)),
                       .format = row.text(5),
                       .created = core::from_unix_ms(row.int64(6)),
                       .created_by = row.text(7)};
      });
    });
  }

  Result<bool> delete_webhook(const std::string& project, const std::string& id) override {
    return database_->write([&](Connection& connection) {
      return run_changed(connection, Db::sql(kDeleteWebhook), "delete webhook", project, id);
    });
  }

 private:
  struct Waiting {
    std::string id, type, project;
    std::int64_t created_ms = 0;
  };

  // Read to the end before writing: the connection runs one statement at a time.
  Result<std::vector<Waiting>> waiting_events(Connection& connection, std::size_t limit) {
    auto statement = connection.query(Db::sql(kWaitingEvents), "list new events", sql_limit(limit));
    if (!statement) {
      return forward(statement);
    }
    return all_rows<Waiting>(*statement, [](const Statement& row) -> Result<Waiting> {
      return Waiting{row.text(0), row.text(1), row.text(2), row.int64(3)};
    });
  }

  // Every project's webhooks, read once per fan-out: project -> (id, wanted types).
  using Routes = std::multimap<std::string, std::pair<std::string, std::vector<std::string>>>;
  Result<Routes> webhook_routes(Connection& connection) {
    auto statement = connection.query(Db::sql(kWebhookRoutes), "list webhooks");
    if (!statement) {
      return forward(statement);
    }
    Routes routes;
    BERTH_TRY(for_each_row(*statement, [&](const Statement& row) -> Result<void> {
      routes.emplace(row.text(1), std::pair(row.text(0), split_types(row.text(2))));
      return {};
    }));
    return routes;
  }

  template <class... Args>
  Result<std::vector<Delivery>> deliveries(std::string_view sql, std::string_view purpose,
                                           const Args&... args) {
    return database_->read([&](Connection& connection) -> Result<std::vector<Delivery>> {
      auto statement = connection.query(sql, purpose, args...);
      if (!statement) {
        return forward(statement);
      }
      return all_rows<Delivery>(
          *statement, [](const Statement& row) -> Result<Delivery> { return read_delivery(row); });
    });
  }

  std::shared_ptr<typename Db::Database> database_;
};

}  // namespace berth::meta::sql::outbox
