// The test PostgreSQL and its per-test schemas (postgres.hpp).
#include "testing/postgres.hpp"

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <memory>

namespace berth::testing {
namespace {

// Runs one statement on a new connection to `url`; "" on success, else libpq's message.
std::string execute(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> connection(PQconnectdb(url.c_str()), &PQfinish);
  if (PQstatus(connection.get()) != CONNECTION_OK) {
    return PQerrorMessage(connection.get());
  }
  // DROP SCHEMA ... CASCADE lists every object it drops as a notice: not for the test log.
  PQsetNoticeProcessor(
      connection.get(), [](void*, const char*) {}, nullptr);
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(connection.get(), sql.c_str()),
                                                       &PQclear);
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return PQresultErrorMessage(result.get());
  }
  return "";
}

}  // namespace

Postgres::Postgres()
    : service_(ScriptServiceSpec{.script = "postgres",
                                 .program = "/usr/lib/postgresql/15/bin/pg_ctl",
                                 .package = "postgresql",
                                 .env = "BERTH_TEST_POSTGRES_URL"}) {}

Postgres& Postgres::shared() {
  static Postgres postgres;
  return postgres;
}

PostgresSchema::PostgresSchema(const std::string& base_url) : base_url_(base_url) {
  static std::atomic<int> counter{0};
  name_ = "t_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  error_ = execute(base_url_, "CREATE SCHEMA " + name_);
  const char separator = base_url_.find('?') == std::string::npos ? '?' : '&';
  url_ = base_url_ + separator + "options=-csearch_path%3D" + name_;
}

PostgresSchema::~PostgresSchema() {
  if (error_.empty()) {
    (void)execute(base_url_, "DROP SCHEMA " + name_ + " CASCADE");
  }
}

}  // namespace berth::testing
