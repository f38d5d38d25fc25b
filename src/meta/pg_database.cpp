// The connection pool of pg_database.hpp, and opening the database.
#include "meta/pg_database.hpp"

#include <random>
#include <thread>

#include "core/clock.hpp"
#include "meta/pg_migrations.hpp"
#include "meta/pg_stores.hpp"

namespace berth::meta::pg {
namespace {

// A connection of the pool. A server configured with synchronous_commit = off answers COMMIT
// before the commit is in its WAL, so a PostgreSQL crash (not only a power cut) would lose
// pushes Berth had acknowledged; SQLite's WAL mode never loses a commit to a process crash
// (sqlite_database.cpp). So Berth's sessions raise "off" to "on"; any stronger setting
// (remote_write, remote_apply for synchronous replicas) is kept. With PostgreSQL's default
// ("on") this changes nothing.
Result<std::unique_ptr<Connection>> connect(const std::string& url) {
  auto connection = Connection::open(url);
  if (!connection) {
    return connection;
  }
  BERTH_TRY((*connection)
                ->query("SELECT set_config('synchronous_commit', 'on', false) "
                        "WHERE current_setting('synchronous_commit') = 'off'",
                        "keep commits durable"));
  return connection;
}

}  // namespace

Result<std::shared_ptr<Database>> Database::open(const PostgresOptions& options) {
  if (options.url.empty()) {
    return core::fail(core::ErrorCode::kInternal,
                      "postgres: no database URL configured (metadata.postgres.url)");
  }
  if (options.max_connections == 0) {
    return core::fail(core::ErrorCode::kInternal, "postgres: max_connections must be at least 1");
  }
  auto connection = connect(options.url);
  if (!connection) {
    return forward(connection);
  }
  BERTH_TRY(pg_migrate(**connection, core::to_unix_ms(core::SystemClock().now())));
  std::shared_ptr<Database> database(new Database(options.url, options.max_connections));
  database->open_ = 1;
  database->idle_.push_back(std::move(*connection));
  return database;
}

std::size_t Database::open_connections() {
  std::lock_guard lock(mutex_);
  return open_;
}

Result<Database::Lease> Database::borrow() {
  {
    std::unique_lock lock(mutex_);
    returned_.wait(lock, [&] { return !idle_.empty() || open_ < max_connections_; });
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(connection), true);
    }
    ++open_;  // reserved: connecting happens outside the lock
  }
  auto connection = connect(url_);
  if (!connection) {
    {
      std::lock_guard lock(mutex_);
      --open_;
    }
    returned_.notify_one();
    return forward(connection);
  }
  return Lease(*this, std::move(*connection), false);
}

void Database::give_back(std::unique_ptr<Connection> connection) {
  {
    std::lock_guard lock(mutex_);
    if (connection->healthy()) {
      idle_.push_back(std::move(connection));
    } else {
      --open_;  // dropped; the next borrow opens a new one
    }
  }
  returned_.notify_one();
}

Database::Lease::~Lease() {
  if (connection_ != nullptr) {
    database_->give_back(std::move(connection_));
  }
}

bool Database::retry_on_fresh(const Lease& lease, const core::Error& error) {
  return lease.reused() && !(*lease).healthy() && error.code == core::ErrorCode::kUnavailable;
}

void Database::back_off(int attempt) {
  // 5, 10, 20, ... ms, at most 320, times a random factor in [0.5, 1.5): two transactions that
  // collided do not collide again in lock step.
  thread_local std::minstd_rand random(std::random_device{}());
  const int base = 5 << std::min(attempt - 1, 6);
  std::uniform_int_distribution<int> jitter(base / 2, base + base / 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(jitter(random)));
}

}  // namespace berth::meta::pg
