// Small helpers every SQL store's methods use, for any database whose connection has
// query(sql, purpose, args...) -> Result<Statement> and changes(), and whose Statement has
// step() -> Result<bool>, run(), int64(column): sqlite::Connection and pg::Connection. Internal
// to meta/.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

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

}  // namespace berth::meta::sql
