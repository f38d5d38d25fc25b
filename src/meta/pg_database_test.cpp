// What is specific to PostgreSQL below the store interfaces: the connection pool's bound and
// its recovery from broken connections, the errors of an unreachable server, and migrations
// (once under concurrent openers, a newer schema refused). Against the test server of
// testing/postgres.hpp, each test in a schema of its own.
#include "meta/pg_database.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "meta/pg_migrations.hpp"
#include "meta/pg_stores.hpp"
#include "testing/pg_test_database.hpp"

namespace berth::meta::pg {
namespace {

using namespace std::chrono_literals;
using sql::first_int64;
using sql::run;

class PostgresDatabase : public ::testing::Test {
 protected:
  void SetUp() override { database_ = PgTestDatabase::make_or_skip(); }

  PostgresOptions options(std::size_t max_connections) const {
    auto options = database_->options();
    options.max_connections = max_connections;
    return options;
  }

  // A connection of the test's own, outside any pool.
  std::unique_ptr<Connection> admin() const {
    auto connection = Connection::open(database_->options().url);
    if (!connection) {
      throw std::runtime_error(connection.error().message);
    }
    return std::move(*connection);
  }

  std::int64_t scalar(Connection& connection, const std::string& sql) const {
    auto rows = connection.query(sql, "test query");
    if (!rows || !rows->step().value_or(false)) {
      throw std::runtime_error("test query failed: " + sql);
    }
    return rows->int64(0);
  }

  std::unique_ptr<PgTestDatabase> database_;
};

// The server process serving the connection.
Result<std::int64_t> backend_pid(Connection& connection) {
  auto rows = connection.query("SELECT pg_backend_pid()", "read backend pid");
  if (!rows) {
    return std::unexpected(rows.error());
  }
  auto pid = first_int64(*rows);
  if (!pid) {
    return std::unexpected(pid.error());
  }
  return pid->value_or(0);
}

TEST_F(PostgresDatabase, PoolNeverOpensMoreThanItsBound) {
  if (IsSkipped()) {
    return;
  }
  auto database = Database::open(options(2));
  ASSERT_TRUE(database) << database.error().message;
  // Six reads of 200 ms each from six threads: with two connections they take three turns.
  std::atomic<std::size_t> most_open{0};
  std::atomic<int> failures{0};
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      auto slept = (*database)->read([&](Connection& connection) -> Result<void> {
        std::size_t open = (*database)->open_connections();
        std::size_t seen = most_open.load();
        while (open > seen && !most_open.compare_exchange_weak(seen, open)) {
        }
        auto rows = connection.query("SELECT pg_sleep(0.2)", "sleep");
        return rows ? Result<void>() : std::unexpected(rows.error());
      });
      if (!slept) {
        ++failures;
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(most_open.load(), 2u);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 600ms)
      << "six 200 ms reads finished in fewer than three turns: more than two connections";
}

TEST_F(PostgresDatabase, ABrokenConnectionIsReplacedOnTheNextBorrow) {
  if (IsSkipped()) {
    return;
  }
  auto database = Database::open(options(1));
  ASSERT_TRUE(database) << database.error().message;
  auto backend = (*database)->read(backend_pid);
  ASSERT_TRUE(backend);
  // The server ends the pool's only connection, as a restart or a network cut would.
  auto killer = admin();
  ASSERT_EQ(scalar(*killer, "SELECT pg_terminate_backend(" + std::to_string(*backend) + ")::int"),
            1);
  for (int i = 0; i < 50 && scalar(*killer, "SELECT count(*) FROM pg_stat_activity WHERE pid = " +
                                                std::to_string(*backend)) > 0;
       ++i) {
    std::this_thread::sleep_for(20ms);
  }

  auto again = (*database)->read(backend_pid);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_NE(*again, *backend);
  auto written = (*database)->write([&](Connection& connection) {
    return run(connection, "CREATE TABLE written (x int)", "create table");
  });
  EXPECT_TRUE(written) << written.error().message;
  EXPECT_EQ((*database)->open_connections(), 1u);
}

TEST_F(PostgresDatabase, AnUnreachableServerIsUnavailableWithRetryAfter) {
  if (IsSkipped()) {
    return;
  }
  // Port 1 on loopback: nothing listens there (connection refused, at once).
  auto database = Database::open(
      PostgresOptions{.url = "postgresql://berth@127.0.0.1:1/berth?connect_timeout=2"});
  ASSERT_FALSE(database);
  EXPECT_EQ(database.error().code, core::ErrorCode::kUnavailable) << database.error().message;
  EXPECT_TRUE(database.error().retry_after.has_value());
  EXPECT_NE(database.error().message.find("connect"), std::string::npos)
      << database.error().message;
}

TEST_F(PostgresDatabase, ReplicasStartingAtOnceMigrateOnce) {
  if (IsSkipped()) {
    return;
  }
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (!Database::open(options(1))) {
        ++failures;
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures.load(), 0);
  auto connection = admin();
  EXPECT_EQ(scalar(*connection, "SELECT count(*) FROM schema_migrations"),
            latest_pg_schema_version());
  EXPECT_EQ(scalar(*connection, "SELECT max(version) FROM schema_migrations"),
            latest_pg_schema_version());
}

TEST_F(PostgresDatabase, ASchemaFromANewerBerthIsRefusedUntouched) {
  if (IsSkipped()) {
    return;
  }
  ASSERT_TRUE(Database::open(options(1)));
  auto connection = admin();
  const int newer = latest_pg_schema_version() + 1;
  ASSERT_TRUE(connection->query("INSERT INTO schema_migrations VALUES ($1, 'from the future', 0)",
                                "insert", newer));
  auto reopened = Database::open(options(1));
  ASSERT_FALSE(reopened);
  EXPECT_EQ(reopened.error().code, core::ErrorCode::kInternal);
  EXPECT_NE(reopened.error().message.find("newer Berth"), std::string::npos)
      << reopened.error().message;
  EXPECT_EQ(scalar(*connection, "SELECT max(version) FROM schema_migrations"), newer);
}

}  // namespace
}  // namespace berth::meta::pg
