// `berth backup DIR` and `berth restore DIR`: a consistent copy of a running registry, and
// putting one back into an empty data directory.
//
// A backup is, in DIR:
//
//   DIR/
//   ├── berth.db        the metadata: one SQLite snapshot (meta/sqlite_backup.hpp)
//   ├── blobs/...       the bytes of every blob that snapshot records, in the storage layout
//   │                   of storage/layout.hpp, each verified against its digest while copied
//   └── BACKUP          written last: format, time, counts, bytes, the database's digest
//
// Consistency while pushes go on: the backup first takes the "gc" lease (waiting while a
// collection runs), then snapshots the database, then copies the blobs the snapshot records,
// renewing the lease until the last byte is copied. Bytes are published before their rows are
// written and only a collection deletes them, so with collection held off every blob of the
// snapshot stays readable until it is copied. Pushes after the snapshot are not in the backup;
// what is in it is complete.
//
// Blobs are copied, not hard-linked, although a link would be faster on the same file system:
// a backup must not share its bytes with the store it protects. With a link, damage to a blob
// file (a bad sector, a stray write, an operator's mistake) would be in the backup too, and
// the usual reason to back up is that the backup lives on other disks anyway.
//
// An interrupted backup has no BACKUP file. Running the backup again into the same DIR
// resumes it: blobs already there are verified and kept, the snapshot is taken afresh, and
// blobs the new snapshot does not record are removed. The same holds for refreshing an old
// backup: BACKUP is removed first, so a refresh cut short is recognisable too.
//
// Restore copies into a data directory that is empty (or does not exist): every blob of the
// backup's database is verified while copied, then the database goes in last, under its final
// name only when everything else is there.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "meta/gc_store.hpp"
#include "storage/blob_store.hpp"

namespace berth::lifecycle {

// The names of the parts of a backup inside DIR.
inline constexpr std::string_view kBackupManifestName = "BACKUP";
inline constexpr std::string_view kBackupDatabaseName = "berth.db";
// The version of what BACKUP describes; restore refuses others.
inline constexpr std::uint64_t kBackupFormat = 1;

// The BACKUP file.
struct BackupManifest {
  // As written: a format this Berth does not know may be any number.
  std::uint64_t format = kBackupFormat;
  std::string berth_version;
  core::TimePoint started;
  core::TimePoint finished;
  int schema_version = 0;
  std::uint64_t repositories = 0;
  std::uint64_t manifests = 0;
  std::uint64_t tags = 0;
  std::uint64_t blobs = 0;
  std::uint64_t blob_bytes = 0;
  std::uint64_t database_bytes = 0;
  // "sha256:<hex>" of berth.db.
  std::string database_digest;
  // Blobs copied by this run, kept from an earlier (interrupted) run, and removed because the
  // snapshot no longer records them.
  std::uint64_t copied = 0;
  std::uint64_t reused = 0;
  std::uint64_t removed = 0;
  // Blobs the snapshot records whose bytes were missing or corrupt in the source: they are
  // not in the backup either (`berth check` on the source says what they belong to).
  std::vector<std::string> damaged;
};

struct BackupSource {
  // The live database file (the server keeps using it meanwhile).
  std::filesystem::path sqlite_path;
  // The live blob storage, and the directory it lives in (a backup is never written there).
  storage::BlobStore& blobs;
  std::filesystem::path storage_root;
  // The live database's GcStore, for the lease.
  meta::GcStore& gc;
};

struct BackupOptions {
  std::filesystem::path dir;
  std::string berth_version;
  // Lease holder name (lease_holder_name("backup")).
  std::string holder;
  std::chrono::seconds lease_ttl{60};
  // Threads copying blobs.
  std::size_t threads = 4;
  // Called once if a collection holds the lease and the backup waits for it.
  std::function<void()> on_wait;
};

// Takes a backup (see the top). Errors: DIR unusable (not empty and not a backup, or the data
// directory itself), the database or a disk failing. Missing or corrupt blobs of the source are
// not errors: they are listed in BackupManifest::damaged.
[[nodiscard]] core::Result<BackupManifest> run_backup(const BackupSource& source,
                                                      const BackupOptions& options,
                                                      const core::Clock& clock);

// Reads DIR/BACKUP. kNotFound when there is none: the backup did not finish.
[[nodiscard]] core::Result<BackupManifest> read_backup_manifest(const std::filesystem::path& dir);

struct RestoreTarget {
  std::filesystem::path storage_root;
  std::filesystem::path sqlite_path;
};

struct RestoreSummary {
  BackupManifest backup;
  std::uint64_t blobs = 0;
  std::uint64_t bytes = 0;
  // Blobs of the backup's database that could not be restored (missing or corrupt in the
  // backup), including those the backup already listed as damaged.
  std::vector<std::string> damaged;
};

// Restores the finished backup in `dir` into target, which must be empty: the storage root
// empty or absent, no database file. Errors: the backup unfinished or of an unknown format,
// its database not matching BACKUP's digest or from a newer Berth, target not empty, a disk
// failing.
[[nodiscard]] core::Result<RestoreSummary> run_restore(const std::filesystem::path& dir,
                                                       const RestoreTarget& target,
                                                       std::size_t threads = 4);

}  // namespace berth::lifecycle
