#include "data_dir_query.hpp"

#include <sqlite3.h>

#include <stdexcept>

namespace berth::testing {

std::int64_t query_number(const std::filesystem::path& data, const std::string& sql) {
  sqlite3* db = nullptr;
  const auto path = (data / "berth.db").string();
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + path);
  }
  sqlite3_busy_timeout(db, 30000);
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK ||
      sqlite3_step(statement) != SQLITE_ROW) {
    const std::string message = sqlite3_errmsg(db);
    sqlite3_finalize(statement);
    sqlite3_close(db);
    throw std::runtime_error(sql + " on " + path + ": " + message);
  }
  const std::int64_t number = sqlite3_column_int64(statement, 0);
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return number;
}

}  // namespace berth::testing
