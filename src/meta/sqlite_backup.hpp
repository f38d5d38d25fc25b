// Copying a whole SQLite metadata database while it is in use: what `berth backup` takes of the
// metadata and what `berth restore` puts back.
//
// The copy is made with SQLite's online backup API (sqlite3_backup_init/step/finish) in a
// single step, which reads the source inside one read transaction: in WAL mode that is one
// consistent snapshot, taken without blocking the server's writers (or being blocked by them),
// whatever other processes do meanwhile. The copy is then made self-contained and neutral:
//  - rollback-journal mode, so it is one file with nothing beside it (a server that opens it
//    turns WAL back on);
//  - no upload sessions, because their bytes are not part of a backup (a client resumes by
//    starting its upload again);
//  - no leases, because they name processes of the source's machine (the backup itself holds
//    the "gc" lease while it runs).
// Before it is trusted, the copy must pass SQLite's integrity_check.
#pragma once

#include <filesystem>
#include <string>

#include "core/error.hpp"

namespace berth::meta {

using core::Result;

// Removes a database file being made (and what SQLite keeps beside it) when it goes out of
// scope, unless keep() was called: a copy that failed half-way is never left to be trusted.
class RemoveUnlessKept {
 public:
  explicit RemoveUnlessKept(std::filesystem::path path) : path_(std::move(path)) {}
  RemoveUnlessKept(const RemoveUnlessKept&) = delete;
  RemoveUnlessKept& operator=(const RemoveUnlessKept&) = delete;
  ~RemoveUnlessKept() {
    if (!kept_) {
      std::error_code ignored;
      for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
        std::filesystem::remove(path_.string() + suffix, ignored);
      }
    }
  }
  void keep() { kept_ = true; }

 private:
  std::filesystem::path path_;
  bool kept_ = false;
};

struct DatabaseCopy {
  // PRAGMA user_version of the copy: its schema migration version.
  int schema_version = 0;
};

// Copies the database at `from` (which must exist) to `to`, a path that must not exist yet.
// On failure `to` is removed. kInternal with SQLite's message when a step fails; kUnavailable
// when the source stayed locked for longer than busy_timeout allows.
[[nodiscard]] Result<DatabaseCopy> copy_sqlite_database(const std::string& from,
                                                        const std::string& to);

// Turns the database file at `path` (closed by everyone else) back into one self-contained
// file: rollback-journal mode, WAL checkpointed into it. Opening a copy through
// open_sqlite_stores (to read it) leaves it in WAL mode.
[[nodiscard]] Result<void> leave_wal_mode(const std::string& path);

// The newest schema version this Berth can open (a copy with a larger one was made by a newer
// Berth).
[[nodiscard]] int latest_sqlite_schema_version();

}  // namespace berth::meta
