// Copying the metadata between SQLite and PostgreSQL (metadata_transfer.hpp): the table list,
// the export of a PostgreSQL snapshot into a new SQLite file, and the import of such a file into
// an empty PostgreSQL database.
#include "meta/metadata_transfer.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <memory>

#include "core/clock.hpp"
#include "meta/migrations.hpp"
#include "meta/pg_connection.hpp"
#include "meta/pg_database.hpp"
#include "meta/pg_migrations.hpp"
#include "meta/sqlite_connection.hpp"
#include "meta/sqlite_metadata_store.hpp"

namespace berth::meta {
namespace {

namespace fs = std::filesystem;
using core::ErrorCode;
using sql::forward;

using C = TransferColumn;
constexpr bool I = true;
constexpr bool T = false;

constexpr std::array kRepositories = {C{"id", I}, C{"name", T}, C{"created_at", I}};
constexpr std::array kBlobs = {C{"digest", T}, C{"size", I}, C{"created_at", I}};
constexpr std::array kRepositoryBlobs = {C{"repository_id", I}, C{"digest", T}, C{"created_at", I}};
constexpr std::array kManifests = {
    C{"id", I},         C{"repository_id", I},  C{"digest", T},         C{"media_type", T},
    C{"size", I},       C{"artifact_type", T},  C{"subject_digest", T}, C{"annotations", T},
    C{"created_at", I}, C{"last_pulled_at", I}, C{"pull_count", I},     C{"total_size", I},
    C{"platforms", T}};
constexpr std::array kManifestBlobs = {C{"manifest_id", I}, C{"digest", T}};
constexpr std::array kManifestChildren = {C{"manifest_id", I}, C{"child_digest", T}};
constexpr std::array kTags = {C{"repository_id", I}, C{"name", T},           C{"manifest_id", I},
                              C{"updated_at", I},    C{"last_pulled_at", I}, C{"pull_count", I}};
constexpr std::array kTombstones = {C{"digest", T}, C{"created_at", I}};
constexpr std::array kProxyTags = {C{"repository", T}, C{"tag", T}, C{"digest", T},
                                   C{"checked_at", I}};
constexpr std::array kProxyPartial = {C{"repository", T}, C{"digest", T}, C{"cached_at", I}};
constexpr std::array kUsers = {C{"id", I}, C{"name", T}, C{"password_hash", T}, C{"admin", I},
                               C{"created_at", I}};
constexpr std::array kProjects = {C{"name", T}, C{"public", I}, C{"created_at", I}};
constexpr std::array kMembers = {C{"project", T}, C{"user", T}, C{"role", I}};
constexpr std::array kRobots = {C{"name", T},       C{"description", T}, C{"token_hash", T},
                                C{"created_at", I}, C{"expires_at", I},  C{"last_used_at", I},
                                C{"revoked", I}};
constexpr std::array kRobotScopes = {C{"robot", T}, C{"project", T}, C{"role", I}};
constexpr std::array kRefreshTokens = {C{"token_hash", T}, C{"subject", T}, C{"created_at", I},
                                       C{"expires_at", I}, C{"revoked", I}, C{"account", T}};
constexpr std::array kLoginUnlocks = {C{"user", T}, C{"unlocked_at", I}};
constexpr std::array kProjectSettings = {C{"project", T}, C{"retention", T}, C{"quota_bytes", I},
                                         C{"quota_repositories", I}, C{"retention_last_run", I}};
constexpr std::array kImmutableTags = {C{"project", T}, C{"pattern", T}};
constexpr std::array kAuditLog = {C{"id", I},     C{"at", I},      C{"actor", T},  C{"remote", T},
                                  C{"action", T}, C{"project", T}, C{"target", T}, C{"result", T},
                                  C{"status", I}, C{"detail", T},  C{"count", I}};
constexpr std::array kGcRuns = {C{"id", I},      C{"started_at", I}, C{"finished_at", I},
                                C{"dry_run", I}, C{"started_by", T}, C{"report", T}};
constexpr std::array kWebhooks = {C{"id", T},         C{"project", T},   C{"url", T},
                                  C{"secret", T},     C{"events", T},    C{"format", T},
                                  C{"created_at", I}, C{"created_by", T}};

// Parents before children; project settings after the links (see the header).
constexpr std::array kTables = {
    TransferTable{"repositories", kRepositories, "id"},
    TransferTable{"blobs", kBlobs, ""},
    TransferTable{"repository_blobs", kRepositoryBlobs, ""},
    TransferTable{"manifests", kManifests, "id"},
    TransferTable{"manifest_blobs", kManifestBlobs, ""},
    TransferTable{"manifest_children", kManifestChildren, ""},
    TransferTable{"tags", kTags, ""},
    TransferTable{"blob_tombstones", kTombstones, ""},
    TransferTable{"proxy_tags", kProxyTags, ""},
    TransferTable{"proxy_partial_manifests", kProxyPartial, ""},
    TransferTable{"users", kUsers, "id"},
    TransferTable{"projects", kProjects, ""},
    TransferTable{"members", kMembers, ""},
    TransferTable{"robots", kRobots, ""},
    TransferTable{"robot_scopes", kRobotScopes, ""},
    TransferTable{"refresh_tokens", kRefreshTokens, ""},
    TransferTable{"login_unlocks", kLoginUnlocks, ""},
    TransferTable{"project_settings", kProjectSettings, ""},
    TransferTable{"project_immutable_tags", kImmutableTags, ""},
    TransferTable{"gc_runs", kGcRuns, "id"},
    // Moved: the history of who did what belongs to the registry, wherever it goes next.
    TransferTable{"audit_log", kAuditLog, "id"},
    TransferTable{"webhooks", kWebhooks, ""},
};

// Derived tables (rebuilt by the target's triggers) and state that belongs to the running
// servers, not to the registry: upload sessions, leases, failed logins being counted, the web
// UI's sign-ins (a moved registry signs everybody in again), the event outbox and its
// deliveries (a restored registry must not send old events again; events not yet delivered
// when the copy was taken are not sent by the target), and the account version (the target's
// servers start with empty caches).
constexpr std::array<std::string_view, 11> kLeftOut = {
    "project_blobs",  "project_usage",      "uploads",           "leases",
    "login_failures", "login_reservations", "schema_migrations", "ui_sessions",
    "events",         "webhook_deliveries", "account_version"};

// Rows fetched from PostgreSQL at a time, and rows inserted into it per statement (PostgreSQL
// takes at most 65,535 parameters in one).
constexpr int kFetchRows = 1000;
constexpr std::size_t kInsertRows = 500;

std::string quoted(std::string_view name) { return "\"" + std::string(name) + "\""; }

std::string column_list(const TransferTable& table) {
  std::string list;
  for (const auto& column : table.columns) {
    list += (list.empty() ? "" : ", ") + quoted(column.name);
  }
  return list;
}

std::string select_all(const TransferTable& table) {
  return "SELECT " + column_list(table) + " FROM " + quoted(table.name);
}

// "INSERT INTO t (...) VALUES (?1, ...)" for SQLite.
std::string sqlite_insert(const TransferTable& table) {
  std::string values;
  for (std::size_t i = 1; i <= table.columns.size(); ++i) {
    values += (i == 1 ? "?" : ", ?") + std::to_string(i);
  }
  return "INSERT INTO " + quoted(table.name) + " (" + column_list(table) + ") VALUES (" + values +
         ")";
}

// "INSERT INTO t (...) [OVERRIDING SYSTEM VALUE] VALUES ($1, ...), (...)" for `rows` rows.
std::string postgres_insert(const TransferTable& table, std::size_t rows) {
  std::string text = "INSERT INTO " + quoted(table.name) + " (" + column_list(table) + ")" +
                     (table.id.empty() ? "" : " OVERRIDING SYSTEM VALUE") + " VALUES ";
  std::size_t parameter = 0;
  for (std::size_t row = 0; row < rows; ++row) {
    text += row == 0 ? "(" : ", (";
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
      text += (i == 0 ? "$" : ", $") + std::to_string(++parameter);
    }
    text += ")";
  }
  return text;
}

// The usage triggers of repository_blobs look at the other links of the row's repository, which
// PostgreSQL's AFTER triggers would see all at once in a multi-row statement: one row each.
std::size_t postgres_rows_per_insert(const TransferTable& table) {
  return table.name == "repository_blobs" ? 1 : kInsertRows;
}

// The PostgreSQL sequence behind an id column.
std::string sequence_of(const TransferTable& table) {
  return "pg_get_serial_sequence('" + quoted(table.name) + "', '" + std::string(table.id) + "')";
}

// ---- PostgreSQL -> SQLite

Result<std::uint64_t> export_table(pg::Connection& from, sqlite::Connection& to,
                                   const TransferTable& table) {
  BERTH_TRY(from.exec("DECLARE berth_export NO SCROLL CURSOR FOR " + select_all(table),
                      "open export cursor"));
  const std::string insert = sqlite_insert(table);
  const std::string fetch = "FETCH " + std::to_string(kFetchRows) + " FROM berth_export";
  std::uint64_t rows = 0;
  while (true) {
    auto page = from.query(fetch, "read rows to export");
    if (!page) {
      return forward(page);
    }
    int fetched = 0;
    for (auto row = page->step(); row && *row; row = page->step()) {
      ++fetched;
      auto statement = to.query(insert, "copy a row");
      if (!statement) {
        return forward(statement);
      }
      for (std::size_t i = 0; i < table.columns.size(); ++i) {
        const int column = static_cast<int>(i);
        if (page->is_null(column)) {
          statement->bind(column + 1, nullptr);
        } else if (table.columns[i].integer) {
          statement->bind(column + 1, page->int64(column));
        } else {
          statement->bind(column + 1, page->text(column));
        }
      }
      BERTH_TRY(statement->run());
    }
    rows += static_cast<std::uint64_t>(fetched);
    if (fetched < kFetchRows) {
      break;
    }
  }
  BERTH_TRY(from.exec("CLOSE berth_export", "close export cursor"));
  return rows;
}

// The next user id PostgreSQL would hand out, as SQLite's AUTOINCREMENT counter.
Result<void> export_user_counter(pg::Connection& from, sqlite::Connection& to) {
  const TransferTable& users = kTables[10];
  auto last =
      from.query("SELECT coalesce(pg_sequence_last_value(" + sequence_of(users) + "::regclass), 0)",
                 "read the user id counter");
  if (!last) {
    return forward(last);
  }
  auto row = last->step();
  if (!row || !*row) {
    return row ? core::fail(ErrorCode::kInternal, "postgres: no user id counter") : forward(row);
  }
  const std::int64_t counter = last->int64(0);
  auto update = to.query("UPDATE sqlite_sequence SET seq = max(seq, ?1) WHERE name = 'users'",
                         "set the user id counter", counter);
  if (!update) {
    return forward(update);
  }
  BERTH_TRY(update->run());
  if (to.changes() > 0 || counter == 0) {
    return {};
  }
  auto insert = to.query("INSERT INTO sqlite_sequence (name, seq) VALUES ('users', ?1)",
                         "set the user id counter", counter);
  if (!insert) {
    return forward(insert);
  }
  return insert->run();
}

Result<void> export_rows(pg::Connection& from, sqlite::Connection& to) {
  BERTH_TRY(from.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin export"));
  sqlite::Transaction transaction(to);
  BERTH_TRY(transaction.begin());
  for (const auto& table : kTables) {
    auto copied = export_table(from, to, table);
    if (!copied) {
      return forward(copied);
    }
  }
  BERTH_TRY(export_user_counter(from, to));
  BERTH_TRY(from.exec("COMMIT", "end export"));
  return transaction.commit();
}

// ---- SQLite -> PostgreSQL

Result<bool> has_rows(pg::Connection& connection, std::string_view table) {
  auto rows = connection.query("SELECT 1 FROM " + quoted(table) + " LIMIT 1", "look for rows");
  if (!rows) {
    return forward(rows);
  }
  return rows->step();
}

// Whether any copied table has a row (the schema exists).
Result<bool> holds_metadata(pg::Connection& connection) {
  for (const auto& table : kTables) {
    auto found = has_rows(connection, table.name);
    if (!found || *found) {
      return found;
    }
  }
  return false;
}

Result<std::uint64_t> import_table(sqlite::Connection& from, pg::Connection& to,
                                   const TransferTable& table) {
  auto select = from.query(select_all(table), "read rows to import");
  if (!select) {
    return forward(select);
  }
  const std::size_t per_insert = postgres_rows_per_insert(table);
  pg::Params params;
  std::size_t pending = 0;
  std::uint64_t rows = 0;
  auto flush = [&]() -> Result<void> {
    if (pending == 0) {
      return {};
    }
    auto inserted = to.execute(postgres_insert(table, pending), "copy rows", params);
    if (!inserted) {
      return forward(inserted);
    }
    rows += pending;
    pending = 0;
    params = pg::Params();
    return {};
  };
  while (true) {
    auto row = select->step();
    if (!row) {
      return forward(row);
    }
    if (!*row) {
      break;
    }
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
      const int column = static_cast<int>(i);
      if (select->is_null(column)) {
        params.add(nullptr);
      } else if (table.columns[i].integer) {
        params.add(select->int64(column));
      } else {
        params.add(select->text(column));
      }
    }
    if (++pending == per_insert) {
      BERTH_TRY(flush());
    }
  }
  BERTH_TRY(flush());
  return rows;
}

Result<std::int64_t> sqlite_counter(sqlite::Connection& from, const TransferTable& table) {
  auto counter =
      from.query("SELECT max(coalesce((SELECT max(\"" + std::string(table.id) + "\") FROM " +
                     quoted(table.name) +
                     "), 0), coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?1), 0))",
                 "read an id counter", table.name);
  if (!counter) {
    return forward(counter);
  }
  auto row = counter->step();
  if (!row) {
    return forward(row);
  }
  return *row ? counter->int64(0) : 0;
}

// Sets each identity so that it goes on after the highest id ever given.
Result<void> import_counters(sqlite::Connection& from, pg::Connection& to) {
  for (const auto& table : kTables) {
    if (table.id.empty()) {
      continue;
    }
    auto counter = sqlite_counter(from, table);
    if (!counter) {
      return forward(counter);
    }
    BERTH_TRY(to.query("SELECT setval(" + sequence_of(table) + "::regclass, $1, $2 <> 0)",
                       "set an id counter", std::max<std::int64_t>(*counter, 1), *counter > 0));
  }
  return {};
}

Result<ImportSummary> import_rows(sqlite::Connection& from, pg::Connection& to) {
  // Durable when it returns even on a server with synchronous_commit = off (pg_database.cpp).
  BERTH_TRY(to.exec("BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(pg::kWriteLock) +
                        "); SELECT set_config('synchronous_commit', 'on', true) "
                        "WHERE current_setting('synchronous_commit') = 'off'",
                    "begin import"));
  auto occupied = holds_metadata(to);
  if (!occupied) {
    return forward(occupied);
  }
  if (*occupied) {
    return core::fail(ErrorCode::kConflict,
                      "the PostgreSQL database holds metadata already; restore only into an "
                      "empty database");
  }
  ImportSummary summary;
  for (const auto& table : kTables) {
    auto copied = import_table(from, to, table);
    if (!copied) {
      return forward(copied);
    }
    summary.rows += *copied;
  }
  BERTH_TRY(import_counters(from, to));
  BERTH_TRY(to.exec("COMMIT", "commit import"));
  return summary;
}

}  // namespace

std::span<const TransferTable> transfer_tables() { return kTables; }

std::span<const std::string_view> untransferred_tables() { return kLeftOut; }

Result<DatabaseCopy> export_postgres_to_sqlite(const std::string& url, const std::string& to) {
  std::error_code ec;
  if (fs::exists(to, ec)) {
    return core::fail(ErrorCode::kInternal, "will not overwrite " + to);
  }
  auto from = pg::Connection::open(url);
  if (!from) {
    return forward(from);
  }
  RemoveUnlessKept cleanup(to);
  {
    // Creates the file at the latest schema, then closes it.
    auto created = open_sqlite_stores(SqliteOptions{.path = to, .readers = 1});
    if (!created) {
      return forward(created);
    }
  }
  auto destination = sqlite::Connection::open(to, std::chrono::seconds(30));
  if (!destination) {
    return forward(destination);
  }
  BERTH_TRY(export_rows(**from, **destination));
  destination->reset();
  cleanup.keep();
  return DatabaseCopy{latest_sqlite_schema_version()};
}

Result<ImportSummary> import_sqlite_into_postgres(const std::string& from, const std::string& url) {
  auto source = sqlite::Connection::open(from, std::chrono::seconds(30));
  if (!source) {
    return forward(source);
  }
  auto version = sqlite::schema_version(**source);
  if (!version) {
    return forward(version);
  }
  if (*version != latest_sqlite_schema_version()) {
    return core::fail(ErrorCode::kInternal, from + " has schema version " +
                                                std::to_string(*version) + ", expected " +
                                                std::to_string(latest_sqlite_schema_version()) +
                                                " (open it with this Berth first)");
  }
  auto target = pg::Connection::open(url);
  if (!target) {
    return forward(target);
  }
  BERTH_TRY(pg::pg_migrate(**target, core::to_unix_ms(std::chrono::system_clock::now())));
  auto imported = import_rows(**source, **target);
  if (!imported && (*target)->healthy()) {
    (void)(*target)->exec("ROLLBACK", "roll back import");
  }
  return imported;
}

Result<bool> postgres_is_empty(const std::string& url) {
  auto connection = pg::Connection::open(url);
  if (!connection) {
    return forward(connection);
  }
  auto version = pg::pg_schema_version(**connection);
  if (!version) {
    return forward(version);
  }
  if (*version == 0) {
    return true;
  }
  auto occupied = holds_metadata(**connection);
  if (!occupied) {
    return forward(occupied);
  }
  return !*occupied;
}

}  // namespace berth::meta
