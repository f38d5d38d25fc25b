// A thin RAII layer over libpq, used only inside meta/ by the PostgreSQL stores: a Connection
// owns one PGconn, Rows owns one PGresult and is read the way sqlite::Statement is (step,
// int64, text, is_null), and pg_error() is the one place where a libpq failure becomes a
// core::Error.
//
// Synchronous libpq on purpose: the stores are blocking by contract (metadata_store.hpp) and
// the server calls them on its blocking pools (http/blocking_pool.hpp, the maintenance pool),
// never on an Asio thread, exactly as it calls SQLite. An asynchronous client would buy nothing
// there and cost a second event loop.
//
// Every statement is parameterised (PQexecParams, text format): values never become SQL text.
// Integers are sent as int8, strings as text, empty optionals as NULL of unspecified type.
#pragma once

#include <libpq-fe.h>

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/error.hpp"

namespace berth::meta::pg {

using core::Result;

// SQLSTATEs the stores and the transaction helper branch on.
inline constexpr std::string_view kSerializationFailure = "40001";
inline constexpr std::string_view kDeadlockDetected = "40P01";
// What the quota triggers raise (pg_migrations.cpp); mapped to DENIED, reason kQuotaExceeded.
inline constexpr std::string_view kQuotaExceededState = "BQ001";

// The error for a failed result (or a connection failure when result is null). `purpose` says
// what Berth was trying to do, e.g. "resolve tag".
//  - connection lost or refused, server shutting down or starting, too many connections:
//    kUnavailable with a Retry-After (the service comes back by itself);
//  - serialization failure / deadlock (only seen once the transaction helper gave up
//    retrying): kUnavailable, reason kDatabaseBusy, with a Retry-After;
//  - the quota triggers: kDenied, reason kQuotaExceeded;
//  - anything else: kInternal with PostgreSQL's message.
[[nodiscard]] core::Error pg_error(const PGresult* result, const PGconn* connection,
                                   std::string_view purpose);

// The SQLSTATE of a failed result ("" when there is none, e.g. the connection broke).
[[nodiscard]] std::string sql_state(const PGresult* result);

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// The rows of one executed statement, read one after the other like a cursor.
class Rows {
 public:
  explicit Rows(ResultPtr result) : result_(std::move(result)) {}

  // true: a row is current; false: no more rows.
  [[nodiscard]] Result<bool> step() { return ++row_ < PQntuples(result_.get()); }
  // Ignores the rows (INSERT/UPDATE/DELETE): the statement already ran.
  [[nodiscard]] Result<void> run() { return {}; }

  bool is_null(int column) const { return PQgetisnull(result_.get(), row_, column) != 0; }
  // Booleans read as 1 and 0 (EXISTS in a select list).
  std::int64_t int64(int column) const;
  // Empty for NULL.
  std::string text(int column) const;
  // Rows changed by an INSERT/UPDATE/DELETE.
  std::int64_t changes() const;

 private:
  ResultPtr result_;
  int row_ = -1;
};

// A statement's parameters as libpq takes them.
class Params {
 public:
  template <class T>
  void add(const T& value);

  int size() const { return static_cast<int>(values_.size()); }
  const Oid* types() const { return types_.data(); }
  std::vector<const char*> pointers() const;
  // A value that cannot be sent (an unsigned integer above INT64_MAX: a bug upstream).
  bool invalid() const { return invalid_; }

 private:
  void add_int64(std::int64_t value);
  void add_text(std::string_view value);
  void add_null();

  std::vector<std::optional<std::string>> values_;
  std::vector<Oid> types_;
  bool invalid_ = false;
};

class Connection {
 public:
  // Connects to a libpq URL or key=value string. kUnavailable if the server cannot be reached.
  [[nodiscard]] static Result<std::unique_ptr<Connection>> open(const std::string& url);

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs SQL text without parameters; it may hold several statements (migrations).
  [[nodiscard]] Result<void> exec(const std::string& sql, std::string_view purpose);

  // Runs one statement with `args` bound to $1, $2, ...; `purpose` names it in errors.
  template <class... Args>
  [[nodiscard]] Result<Rows> query(std::string_view sql, std::string_view purpose,
                                   const Args&... args) {
    Params params;
    (params.add(args), ...);
    return execute(sql, purpose, params);
  }

  // query() with parameters built at run time (a statement whose columns are known only then,
  // meta/metadata_transfer.cpp).
  [[nodiscard]] Result<Rows> execute(std::string_view sql, std::string_view purpose,
                                     const Params& params);

  // Rows changed by the last INSERT/UPDATE/DELETE run through query().
  std::int64_t changes() const { return changes_; }
  // False once the connection broke (the pool replaces it).
  bool healthy() const;
  // The SQLSTATE of the last failure on this connection, "" if none.
  const std::string& last_state() const { return last_state_; }

 private:
  explicit Connection(PGconn* connection) : connection_(connection) {}
  [[nodiscard]] Result<ResultPtr> check(PGresult* result, std::string_view purpose);

  PGconn* connection_;
  std::int64_t changes_ = 0;
  std::string last_state_;
};

template <class T>
void Params::add(const T& value) {
  if constexpr (std::is_same_v<T, std::nullptr_t> || std::is_same_v<T, std::nullopt_t>) {
    add_null();
  } else if constexpr (std::is_same_v<T, bool>) {
    // Flags are integer columns holding 0 or 1, as in the SQLite schema.
    add_int64(value ? 1 : 0);
  } else if constexpr (std::signed_integral<T>) {
    add_int64(value);
  } else if constexpr (std::unsigned_integral<T>) {
    if (value > static_cast<std::uint64_t>(INT64_MAX)) {
      invalid_ = true;
      add_null();
    } else {
      add_int64(static_cast<std::int64_t>(value));
    }
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    add_text(std::string_view(value));
  } else {
    // std::optional of any of the above: NULL when empty.
    if (value.has_value()) {
      add(*value);
    } else {
      add_null();
    }
  }
}

}  // namespace berth::meta::pg
