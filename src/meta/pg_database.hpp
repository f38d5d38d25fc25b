// One PostgreSQL database as the stores built on it see it: a bounded pool of connections, and
// how a store borrows one for a read or a write transaction. Internal to meta/; the PostgreSQL
// counterpart of sqlite_database.hpp, with the same read()/write()/write_durable() shape.
//
// Pool. At most max_connections connections are open; a borrower waits while all are lent
// out. A connection that broke (server restarted, network cut) is dropped when it comes back,
// and the next borrow opens a new one, so service resumes by itself once the server is back.
// A read, or a write whose BEGIN failed, that hit a connection broken while it sat idle in the
// pool is tried once more on a fresh connection: nothing of it ran.
//
// Durability. A server set to synchronous_commit = off would acknowledge commits a PostgreSQL
// crash then loses; the pool's sessions raise it to "on" (stronger settings are kept).
//
// Transactions. Every write runs as BEGIN (READ COMMITTED) and first takes one cluster-wide,
// transaction-scoped advisory lock (kWriteLock), then runs f, then COMMITs. SQLite gets its
// correctness from a single writer (BEGIN IMMEDIATE): no check-then-write is ever interleaved
// with another writer. The lock gives exactly that to any number of processes (replicas,
// berth gc) on one database: writers take turns, and since under READ COMMITTED every
// statement sees all that committed before it, each writer sees every earlier writer's work.
// Reads are single statements in autocommit: each sees one consistent snapshot and never
// waits for the lock. So every invariant the SQLite stores keep by their single writer (tag
// moves, link vs. garbage collection's tombstones, quotas, put_manifest's check-then-write)
// holds across replicas, without per-method locking to get wrong.
// (Serializable isolation instead was tried: every link of a project updates its usage row,
// so concurrent pushes to one project failed with 40001 faster than retries could absorb.)
// The cost is that writes do not run in parallel, as with SQLite; they are short (a few
// statements on indexed rows). A deadlock or serialization failure is still retried, a few
// times with a jittered backoff, then reported as kUnavailable (reason kDatabaseBusy,
// Retry-After); so every store method's f must be safe to run again: it reads its inputs and
// builds its result inside.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "meta/pg_connection.hpp"
#include "meta/sql_rows.hpp"
#include "meta/sql_text.hpp"

namespace berth::meta {
struct PostgresOptions;
}

namespace berth::meta::pg {

using sql::forward;

class Database;

// The key of the writers' advisory lock (any constant; the migrations' key is another). Taken
// by every write transaction, and by a restore (metadata_transfer.hpp) for its whole import.
inline constexpr long long kWriteLock = 426287956073;

// The stores' view of PostgreSQL (sql_text.hpp).
struct Db : sql::Traits<Database, Connection, Rows, sql::Dialect::kPostgres> {
  static constexpr std::string_view kName = "postgres";
};

class Database {
 public:
  // Connects, migrates the schema (pg_migrations.hpp) and keeps that connection in the pool.
  [[nodiscard]] static Result<std::shared_ptr<Database>> open(const PostgresOptions& options);

  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs f(connection) -> Result<T> outside any transaction; f should be one SELECT.
  template <class F>
  std::invoke_result_t<F&, Connection&> read(F&& f);

  // Runs f(connection) inside a transaction holding the write lock (see the top), again when
  // PostgreSQL reports a deadlock or serialization failure; commits if f succeeds, rolls back
  // otherwise.
  template <class F>
  std::invoke_result_t<F&, Connection&> write(F&& f);

  // As write(), and the commit is durable when it returns (synchronous_commit on for this
  // transaction, whatever the server's default): garbage collection deletes bytes because of it.
  template <class F>
  std::invoke_result_t<F&, Connection&> write_durable(F&& f);

  // Connections open now (lent out or idle), for tests of the bound.
  std::size_t open_connections();

 private:
  // A borrowed connection, given back on destruction (dropped if it broke).
  class Lease {
   public:
    Lease(Database& database, std::unique_ptr<Connection> connection, bool reused)
        : database_(&database), connection_(std::move(connection)), reused_(reused) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() const { return *connection_; }
    // Whether it came from the idle pool (and so may have broken while it sat there).
    bool reused() const { return reused_; }

   private:
    Database* database_;
    std::unique_ptr<Connection> connection_;
    bool reused_;
  };

  Database(std::string url, std::size_t max_connections)
      : url_(std::move(url)), max_connections_(max_connections) {}

  [[nodiscard]] Result<Lease> borrow();
  void give_back(std::unique_ptr<Connection> connection);
  // Whether a failed attempt on `lease` may simply be run again on a new connection.
  static bool retry_on_fresh(const Lease& lease, const core::Error& error);
  // One BEGIN ... COMMIT of f; `retryable` is set when it failed with a serialization failure
  // or on a connection that broke idle before anything of it ran.
  template <class F>
  std::invoke_result_t<F&, Connection&> attempt(F& f, bool durable, bool& retryable);
  // Sleeps before attempt number `attempt` (from 1), with jitter.
  static void back_off(int attempt);

  static constexpr int kMaxAttempts = 8;

  const std::string url_;
  const std::size_t max_connections_;
  // Guards idle_ and open_; returned_ is signalled when a connection comes back or closes.
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;
};

template <class F>
std::invoke_result_t<F&, Connection&> Database::read(F&& f) {
  for (int tries = 0;; ++tries) {
    auto lease = borrow();
    if (!lease) {
      return forward(lease);
    }
    auto result = f(**lease);
    if (result || tries > 0 || !retry_on_fresh(*lease, result.error())) {
      return result;
    }
  }
}

template <class F>
std::invoke_result_t<F&, Connection&> Database::write(F&& f) {
  for (int tries = 1;; ++tries) {
    bool retryable = false;
    auto result = attempt(f, false, retryable);
    if (result || !retryable || tries == kMaxAttempts) {
      return result;
    }
    back_off(tries);
  }
}

template <class F>
std::invoke_result_t<F&, Connection&> Database::write_durable(F&& f) {
  for (int tries = 1;; ++tries) {
    bool retryable = false;
    auto result = attempt(f, true, retryable);
    if (result || !retryable || tries == kMaxAttempts) {
      return result;
    }
    back_off(tries);
  }
}

template <class F>
std::invoke_result_t<F&, Connection&> Database::attempt(F& f, bool durable, bool& retryable) {
  auto lease = borrow();
  if (!lease) {
    return forward(lease);
  }
  Connection& connection = **lease;
  const std::string begin =
      std::string(durable ? "BEGIN; SET LOCAL synchronous_commit = on; " : "BEGIN; ") +
      "SELECT pg_advisory_xact_lock(" + std::to_string(kWriteLock) + ")";
  if (auto begun = connection.exec(begin, "begin transaction"); !begun) {
    retryable = retry_on_fresh(*lease, begun.error());
    return forward(begun);
  }
  auto result = f(connection);
  if (!result) {
    retryable = connection.last_state() == kSerializationFailure ||
                connection.last_state() == kDeadlockDetected;
    // A broken connection is dropped by the lease; on a healthy one the transaction must end.
    if (connection.healthy()) {
      (void)connection.exec("ROLLBACK", "roll back transaction");
    }
    return result;
  }
  if (auto committed = connection.exec("COMMIT", "commit transaction"); !committed) {
    retryable = connection.last_state() == kSerializationFailure;
    return forward(committed);
  }
  return result;
}

}  // namespace berth::meta::pg
