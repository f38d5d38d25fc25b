// For the metadata contract suites' Postgres backends: a fresh, empty database (a schema of its own
// on the test server of testing/postgres.hpp) per test. Test-only, header-only.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>

#include "meta/pg_stores.hpp"
#include "testing/postgres.hpp"

namespace berth::meta {

class PgTestDatabase {
 public:
  // Makes one, or (when PostgreSQL is not installed and CI is not set) skips the running test
  // and returns null. A server that fails to start fails the test.
  static std::unique_ptr<PgTestDatabase> make_or_skip() {
    auto& server = testing::Postgres::shared();
    if (!server.error().empty()) {
      throw std::runtime_error(server.error());
    }
    if (!server.skip_reason().empty()) {
      skip(server.skip_reason());
      return nullptr;
    }
    return std::unique_ptr<PgTestDatabase>(new PgTestDatabase(server.url()));
  }

  // A small pool, so that the tests also run at its bound.
  PostgresOptions options() const {
    return PostgresOptions{.url = schema_.url(), .max_connections = 4};
  }

 private:
  explicit PgTestDatabase(const std::string& url) : schema_(url) {
    if (!schema_.error().empty()) {
      throw std::runtime_error("cannot create a test schema: " + schema_.error());
    }
  }
  static void skip(const std::string& reason) { GTEST_SKIP() << reason; }

  testing::PostgresSchema schema_;
};

// A suite's Backend (of type B) over a new PgTestDatabase: PgBackend(std::unique_ptr<
// PgTestDatabase>). Null when the test was skipped.
template <class B, class PgBackend>
std::unique_ptr<B> make_pg_backend() {
  auto database = PgTestDatabase::make_or_skip();
  if (!database) {
    return nullptr;
  }
  return std::make_unique<PgBackend>(std::move(database));
}

}  // namespace berth::meta
