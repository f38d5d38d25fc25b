// The libpq wrapper of pg_connection.hpp, and the one mapping from libpq failures to
// core::Error.
#include "meta/pg_connection.hpp"

#include <charconv>
#include <chrono>

namespace berth::meta::pg {
namespace {

// Type OIDs of pg_type, stable across PostgreSQL versions.
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;

// How long a client waits before retrying a request refused because the database is away.
constexpr std::chrono::seconds kRetryAfter{2};

// SQLSTATEs of a server that is away or going away: class 08 (connection exception), 57P01-3
// (admin/crash shutdown, cannot connect now), 53300 (too many connections).
bool unavailable_state(std::string_view state) {
  return state.empty() || state.starts_with("08") || state == "57P01" || state == "57P02" ||
         state == "57P03" || state == "53300";
}

// libpq's messages end with a newline.
std::string trimmed(const char* message) {
  std::string text = message != nullptr ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

}  // namespace

std::string sql_state(const PGresult* result) {
  if (result == nullptr) {
    return "";
  }
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  return state != nullptr ? state : "";
}

core::Error pg_error(const PGresult* result, const PGconn* connection, std::string_view purpose) {
  const std::string state = sql_state(result);
  std::string detail = result != nullptr ? trimmed(PQresultErrorMessage(result)) : "";
  if (detail.empty() && connection != nullptr) {
    detail = trimmed(PQerrorMessage(connection));
  }
  std::string context = "postgres: " + std::string(purpose) + ": " + detail;
  if (state == kQuotaExceededState) {
    // The quota triggers: the caller's push is refused, the database is fine. The message is
    // written for the client (see pg_migrations.cpp).
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    return core::Error{core::ErrorCode::kDenied,
                       primary != nullptr ? primary : detail,
                       {},
                       std::nullopt,
                       core::ErrorReason::kQuotaExceeded};
  }
  if (state == kSerializationFailure || state == kDeadlockDetected) {
    return core::Error{core::ErrorCode::kUnavailable,
                       "database busy: " + context,
                       {},
                       kRetryAfter,
                       core::ErrorReason::kDatabaseBusy};
  }
  const bool broken = connection == nullptr || PQstatus(connection) != CONNECTION_OK;
  if (broken || (result != nullptr && unavailable_state(state))) {
    return core::Error{
        core::ErrorCode::kUnavailable, "database unavailable: " + context, {}, kRetryAfter};
  }
  return core::Error{core::ErrorCode::kInternal, context, {}};
}

// ---- Rows

std::int64_t Rows::int64(int column) const {
  const char* value = PQgetvalue(result_.get(), row_, column);
  if (value[0] == 't' || value[0] == 'f') {
    return value[0] == 't' ? 1 : 0;
  }
  std::int64_t number = 0;
  std::from_chars(value, value + PQgetlength(result_.get(), row_, column), number);
  return number;
}

std::string Rows::text(int column) const {
  return std::string(PQgetvalue(result_.get(), row_, column),
                     static_cast<std::size_t>(PQgetlength(result_.get(), row_, column)));
}

std::int64_t Rows::changes() const {
  const char* tuples = PQcmdTuples(result_.get());
  std::int64_t number = 0;
  std::from_chars(tuples, tuples + std::char_traits<char>::length(tuples), number);
  return number;
}

// ---- Params

void Params::add_int64(std::int64_t value) {
  values_.emplace_back(std::to_string(value));
  types_.push_back(kInt8Oid);
}

void Params::add_text(std::string_view value) {
  values_.emplace_back(std::string(value));
  types_.push_back(kTextOid);
}

void Params::add_null() {
  values_.emplace_back(std::nullopt);
  types_.push_back(0);  // the server infers the type from the context
}

std::vector<const char*> Params::pointers() const {
  std::vector<const char*> pointers;
  pointers.reserve(values_.size());
  for (const auto& value : values_) {
    pointers.push_back(value ? value->c_str() : nullptr);
  }
  return pointers;
}

// ---- Connection

Result<std::unique_ptr<Connection>> Connection::open(const std::string& url) {
  PGconn* raw = PQconnectdb(url.c_str());
  if (raw == nullptr) {
    return core::fail(core::ErrorCode::kInternal, "postgres: connect: out of memory");
  }
  std::unique_ptr<Connection> connection(new Connection(raw));
  if (PQstatus(raw) != CONNECTION_OK) {
    // PQerrorMessage names host and port, never the password.
    return std::unexpected(pg_error(nullptr, raw, "connect"));
  }
  // Notices (e.g. "relation already exists, skipping") are for psql users, not for the log.
  PQsetNoticeProcessor(
      raw, [](void*, const char*) {}, nullptr);
  return connection;
}

Connection::~Connection() { PQfinish(connection_); }

bool Connection::healthy() const { return PQstatus(connection_) == CONNECTION_OK; }

Result<ResultPtr> Connection::check(PGresult* raw, std::string_view purpose) {
  ResultPtr result(raw);
  const auto status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    last_state_.clear();
    return result;
  }
  last_state_ = sql_state(result.get());
  return std::unexpected(pg_error(result.get(), connection_, purpose));
}

Result<void> Connection::exec(const std::string& sql, std::string_view purpose) {
  auto result = check(PQexec(connection_, sql.c_str()), purpose);
  if (!result) {
    return std::unexpected(result.error());
  }
  return {};
}

Result<Rows> Connection::execute(std::string_view sql, std::string_view purpose,
                                 const Params& params) {
  if (params.invalid()) {
    return core::fail(core::ErrorCode::kInternal,
                      "postgres: " + std::string(purpose) + ": an integer parameter is too large");
  }
  const std::string text(sql);
  const auto values = params.pointers();
  auto result = check(PQexecParams(connection_, text.c_str(), params.size(), params.types(),
                                   values.data(), nullptr, nullptr, 0),
                      purpose);
  if (!result) {
    return std::unexpected(result.error());
  }
  Rows rows(std::move(*result));
  changes_ = rows.changes();
  return rows;
}

}  // namespace berth::meta::pg
