// Small helpers every SQL store's methods use, for any database whose connection has
// query(sql, purpose, args...) -> Result<Statement> and changes(), and whose Statement has
// step() -> Result<bool>, run(), int64(column), text(column): sqlite::Connection and
// pg::Connection. And what the stores read out of rows, in one place: values that should have
// been valid when written (digests, names) are checked again, and a bad one is kInternal
// "corrupt metadata" (naming the database, Db::kName) rather than a crash. Internal to meta/;
// see sql_text.hpp for how the stores are written once over both databases.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/digest.hpp"
#include "core/error.hpp"
#include "core/names.hpp"

namespace berth::meta::sql {

using core::Result;

template <class T>
std::unexpected<core::Error> forward(const Result<T>& failed) {
  return std::unexpected(failed.error());
}

// Runs a statement that returns no rows.
template <class Connection, class... Args>
[[nodiscard]] Result<void> run(Connection& connection, std::string_view sql,
                               std::string_view purpose, const Args&... args) {
  auto statement = connection.query(sql, purpose, args...);
  if (!statement) {
    return forward(statement);
  }
  return statement->run();
}

// Runs a statement that returns no rows; true if it changed any.
template <class Connection, class... Args>
[[nodiscard]] Result<bool> run_changed(Connection& connection, std::string_view sql,
                                       std::string_view purpose, const Args&... args) {
  if (auto ran = run(connection, sql, purpose, args...); !ran) {
    return forward(ran);
  }
  return connection.changes() > 0;
}

// Steps through every row of a query, calling on_row(statement) -> Result<void> on each;
// stops at the first error, the database's or on_row's.
template <class Statement, class OnRow>
[[nodiscard]] Result<void> for_each_row(Statement& statement, OnRow&& on_row) {
  while (true) {
    auto row = statement.step();
    if (!row) {
      return forward(row);
    }
    if (!*row) {
      return {};
    }
    if (auto taken = on_row(statement); !taken) {
      return taken;
    }
  }
}

// Every row of `statement`, each made by read(row) -> Result<T>.
template <class T, class Statement, class Read>
[[nodiscard]] Result<std::vector<T>> all_rows(Statement& statement, Read read) {
  std::vector<T> values;
  auto listed = for_each_row(statement, [&](const Statement& row) -> Result<void> {
    auto value = read(row);
    if (!value) {
      return forward(value);
    }
    values.push_back(std::move(*value));
    return {};
  });
  if (!listed) {
    return forward(listed);
  }
  return values;
}

// The first row of `statement`, made by read(row) -> Result<T>, if there is one.
template <class T, class Statement, class Read>
[[nodiscard]] Result<std::optional<T>> first_row(Statement& statement, Read read) {
  auto row = statement.step();
  if (!row) {
    return forward(row);
  }
  if (!*row) {
    return std::optional<T>();
  }
  auto value = read(statement);
  if (!value) {
    return forward(value);
  }
  return std::optional<T>(std::move(*value));
}

// The first column of the first row as an integer, if there is a row.
template <class Statement>
[[nodiscard]] Result<std::optional<std::int64_t>> first_int64(Statement& statement) {
  auto row = statement.step();
  if (!row) {
    return forward(row);
  }
  if (!*row) {
    return std::optional<std::int64_t>();
  }
  return std::optional<std::int64_t>(statement.int64(0));
}

// Whether a query returns a row.
template <class Connection, class... Args>
[[nodiscard]] Result<bool> has_row(Connection& connection, std::string_view sql,
                                   std::string_view purpose, const Args&... args) {
  auto statement = connection.query(sql, purpose, args...);
  if (!statement) {
    return forward(statement);
  }
  return statement->step();
}

// A time column that may be NULL.
template <class Statement>
std::optional<core::TimePoint> time_or_null(const Statement& row, int column) {
  if (row.is_null(column)) {
    return std::nullopt;
  }
  return core::from_unix_ms(row.int64(column));
}

// BIGINT is signed; LIMIT takes any size_t the caller may pass.
inline std::int64_t sql_limit(std::size_t limit) {
  return static_cast<std::int64_t>(
      std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max()));
}

template <class Db>
core::Error corrupt(std::string_view what, const std::string& value) {
  return core::Error{
      core::ErrorCode::kInternal,
      std::string(Db::kName) + ": corrupt metadata: " + std::string(what) + " '" + value + "'",
      {}};
}

template <class Db>
Result<core::Digest> digest_of(const std::string& text) {
  auto digest = core::Digest::parse(text);
  if (!digest) {
    return std::unexpected(corrupt<Db>("digest", text));
  }
  return std::move(*digest);
}

template <class Db>
Result<core::RepositoryName> repository_of(const std::string& text) {
  auto name = core::RepositoryName::parse(text);
  if (!name) {
    return std::unexpected(corrupt<Db>("repository name", text));
  }
  return std::move(*name);
}

template <class Db, class Statement>
Result<core::Digest> column_digest(const Statement& row, int column) {
  return digest_of<Db>(row.text(column));
}

template <class Db, class Statement>
Result<core::RepositoryName> column_repository(const Statement& row, int column) {
  return repository_of<Db>(row.text(column));
}

}  // namespace berth::meta::sql
