// For contract suites over meta::Stores that reopen their database (what a restart does): a
// Backend names an Opener over a new, empty database, SQLite in a file or a schema of its own
// on the test PostgreSQL, and StoresContract is the suite's fixture. Test-only, header-only.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>

#include "meta/pg_stores.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "testing/pg_test_database.hpp"
#include "testing/temp_dir.hpp"

namespace berth::meta {

// Opens the stores over one database; every call opens the same database again.
using Opener = std::function<Result<Stores>()>;

struct Backend {
  std::string name;
  // An opener over a new, empty database; empty when the test was skipped (no PostgreSQL).
  std::function<Opener()> make;
};
inline void PrintTo(const Backend& backend, std::ostream* out) { *out << backend.name; }

inline Opener sqlite_file() {
  auto dir = std::make_shared<testing::TempDir>();
  return [dir] { return open_sqlite_stores(SqliteOptions{(dir->path() / "meta.db").string()}); };
}

inline Opener postgres() {
  std::shared_ptr<PgTestDatabase> database = PgTestDatabase::make_or_skip();
  if (database == nullptr) {
    return {};
  }
  return [database] { return open_pg_stores(database->options()); };
}

// A suite's fixture: stores_ over the Backend's database, open() to open it again.
class StoresContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    opener_ = GetParam().make();
    if (!opener_) {
      return;  // skipped: no PostgreSQL here
    }
    open();
  }
  void TearDown() override { stores_ = {}; }
  void open() {
    stores_ = {};
    auto stores = opener_();
    if (!stores) {
      throw std::runtime_error("cannot open the stores: " + stores.error().message);
    }
    stores_ = std::move(*stores);
  }

  Opener opener_;
  Stores stores_;
};

}  // namespace berth::meta
