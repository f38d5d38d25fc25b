// Opening the SQLite database of sqlite_database.hpp: connection settings and migrations.
//
// Durability. WAL mode with synchronous=NORMAL: a commit appends to the WAL without fsync; the
// WAL is synced at checkpoints. After a process crash nothing committed is lost (the WAL is in
// the OS page cache). After a power loss or kernel crash the database is still intact and
// consistent, but the last transactions before the most recent sync may be rolled back. For
// the registry that loss is in the safe direction: a push the client saw succeed may have to
// be repeated, and bytes in blob storage may end up unreferenced (garbage collection removes
// them); no metadata can appear that was never committed. FULL would fsync on every commit,
// including the upload progress written by every PATCH. Whoever later deletes bytes because
// of a metadata commit (garbage collection) must first make that commit durable, e.g. with
// PRAGMA wal_checkpoint(FULL) or synchronous=FULL on its own transaction. The same window
// applies to accounts: a password change or a revocation made just before a power cut may
// have to be made again.
#include "meta/sqlite_database.hpp"

#include <string>

#include "core/clock.hpp"
#include "meta/migrations.hpp"

namespace berth::meta::sqlite {
namespace {

// Reads the single-row result of a PRAGMA that reports a value, e.g. journal_mode.
Result<std::string> pragma_text(Connection& connection, std::string_view sql,
                                std::string_view purpose) {
  auto statement = connection.query(sql, purpose);
  if (!statement) {
    return forward(statement);
  }
  auto row = statement->step();
  if (!row) {
    return forward(row);
  }
  return *row ? statement->text(0) : std::string();
}

}  // namespace

Result<std::shared_ptr<Database>> Database::open(const SqliteOptions& options) {
  if (options.path.empty()) {
    return core::fail(core::ErrorCode::kInternal, "sqlite: no database path configured");
  }
  // A ":memory:" database is private to its connection, so it cannot have readers.
  const bool in_memory = options.path == ":memory:";
  const std::size_t reader_count = in_memory ? 0 : options.readers;

  auto writer = Connection::open(options.path, options.busy_timeout);
  if (!writer) {
    return forward(writer);
  }
  if (!in_memory) {
    // journal_mode=WAL is stored in the database file; the other settings are per connection.
    auto mode = pragma_text(**writer, "PRAGMA journal_mode = WAL", "enable WAL mode");
    if (!mode) {
      return forward(mode);
    }
    if (mode.value() != "wal") {
      return core::fail(core::ErrorCode::kInternal,
                        "sqlite: cannot use WAL mode for " + options.path + " (journal mode is '" +
                            mode.value() +
                            "'); is the file on a network file system? Put it on a local disk");
    }
    // See the top of this file for why NORMAL is durable enough with WAL.
    if (auto set = (*writer)->exec("PRAGMA synchronous = NORMAL", "set synchronous mode"); !set) {
      return forward(set);
    }
  }
  if (auto set = (*writer)->exec("PRAGMA foreign_keys = ON", "enable foreign keys"); !set) {
    return forward(set);
  }
  if (auto migrated = migrate(**writer, core::to_unix_ms(core::SystemClock().now())); !migrated) {
    return forward(migrated);
  }

  std::vector<std::unique_ptr<Connection>> readers;
  for (std::size_t i = 0; i < reader_count; ++i) {
    auto reader = Connection::open(options.path, options.busy_timeout);
    if (!reader) {
      return forward(reader);
    }
    // Readers only read; query_only turns a mistake into an error instead of a second writer.
    if (auto set = (*reader)->exec("PRAGMA foreign_keys = ON; PRAGMA query_only = ON",
                                   "configure reader connection");
        !set) {
      return forward(set);
    }
    readers.push_back(std::move(*reader));
  }
  return std::shared_ptr<Database>(new Database(std::move(*writer), std::move(readers)));
}

}  // namespace berth::meta::sqlite
