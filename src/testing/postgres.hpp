// A real PostgreSQL 15 for tests, started by scripts/postgres.sh in a temporary directory (~1 s
// plus initdb) and stopped at exit; or the ctest fixture "postgres"'s (BERTH_TEST_POSTGRES_URL,
// or a file named by BERTH_TEST_POSTGRES_URL_FILE). Each test takes a PostgresSchema: a fresh,
// empty schema of its own in that one database, so tests run in parallel (ctest -j) on one
// server without seeing each other's tables, and nothing is left behind.
#pragma once

#include <string>

#include "testing/script_service.hpp"

namespace berth::testing {

class Postgres {
 public:
  // The server of this process, started on first use. When PostgreSQL is not installed,
  // skip_reason() says so, unless CI=true: then that is a failure (error() is set).
  static Postgres& shared();

  // "postgresql://postgres@127.0.0.1:<port>/berth", empty when not running.
  const std::string& url() const { return service_.address(); }
  const std::string& skip_reason() const { return service_.skip_reason(); }
  const std::string& error() const { return service_.error(); }

 private:
  Postgres();
  ScriptService service_;
};

class PostgresSchema {
 public:
  // Creates schema "t_<pid>_<n>" in the database of `base_url`; error() says why not.
  explicit PostgresSchema(const std::string& base_url);
  ~PostgresSchema();
  PostgresSchema(const PostgresSchema&) = delete;
  PostgresSchema& operator=(const PostgresSchema&) = delete;

  // base_url with search_path set to the schema: every table Berth creates lands there.
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }
  const std::string& error() const { return error_; }

 private:
  std::string base_url_;
  std::string name_;
  std::string url_;
  std::string error_;
};

}  // namespace berth::testing
