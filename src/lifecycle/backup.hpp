// `berth backup DIR` and `berth restore DIR`: a consistent copy of a running registry, and
// putting one back into an empty registry, of either shape (filesystem + SQLite, or S3 +
// PostgreSQL: the backup is the same, so a backup of one restores into the other).
//
// A backup is, in DIR:
//
//   DIR/
//   ├── berth.db        the metadata: one SQLite database, whatever database the registry runs
//   │                   on (meta/sqlite_backup.hpp takes SQLite's; meta/metadata_transfer.hpp
//   │                   exports PostgreSQL's into the same schema, table by table)
//   ├── blobs/...       the bytes of every blob that database records, in the storage layout
//   │                   of storage/layout.hpp, streamed from the registry's blob store (any
//   │                   driver) and verified against their digests while copied
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
// Restore copies every blob of the backup's database into the target's blob store, verified
// while copied, and puts the metadata in last: a SQLite target gets the database under its
// final name only when everything else is there; a PostgreSQL target gets every row in one
// transaction. Until then the target holds no metadata, which is what a restore insists on.
// Into the embedded shape the whole data directory must be empty, as for any first start; into
// a blob store given by the configuration (S3) blobs already there are verified and kept, so a
// restore cut short is simply run again.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/progress.hpp"
#include "meta/gc_store.hpp"
#include "meta/sqlite_backup.hpp"
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
  // Writes a consistent snapshot of the live metadata (the server keeps using it meanwhile) as
  // a Berth SQLite database at `to`, a path that does not exist yet.
  std::function<core::Result<meta::DatabaseCopy>(const std::string& to)> snapshot;
  // The live blob storage (any driver).
  storage::BlobStore& blobs;
  // Directories a backup is never written into: the data directory, the storage root.
  std::vector<std::filesystem::path> live_dirs;
  // The live database's GcStore, for the lease.
  meta::GcStore& gc;
};

// The source of the embedded shape: the SQLite database file at sqlite_path, beside
// storage_root.
[[nodiscard]] BackupSource sqlite_backup_source(const std::filesystem::path& sqlite_path,
                                                storage::BlobStore& blobs,
                                                const std::filesystem::path& storage_root,
                                                meta::GcStore& gc);

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
  // Told of the blobs copied so far (of all, with their bytes); from the copying threads, one
  // call at a time.
  core::ProgressCallback progress{};
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
  // Without `blobs`: the filesystem store at storage_root, which must be empty (or absent).
  std::filesystem::path storage_root = {};
  // The SQLite database to create (ignored when postgres_url is set); it must not exist.
  std::filesystem::path sqlite_path = {};
  // Non-empty: the metadata goes into this PostgreSQL database, which must hold none.
  std::string postgres_url = {};
  // The blob store to fill, when the configuration names one (S3): blobs already in it are
  // verified and kept.
  storage::BlobStore* blobs = nullptr;
};

struct RestoreSummary {
  BackupManifest backup;
  // Blobs in the target afterwards: copied, or (a restore run again) found there whole.
  std::uint64_t blobs = 0;
  std::uint64_t reused = 0;
  std::uint64_t bytes = 0;
  // Blobs of the backup's database that could not be restored (missing or corrupt in the
  // backup), including those the backup already listed as damaged.
  std::vector<std::string> damaged;
};

// Restores the finished backup in `dir` into target, which must hold no metadata (see the top
// for the blobs). Errors: the backup unfinished or of an unknown format,
// its database not matching BACKUP's digest or from a newer Berth, target not empty, a disk
// failing.
[[nodiscard]] core::Result<RestoreSummary> run_restore(const std::filesystem::path& dir,
                                                       const RestoreTarget& target,
                                                       std::size_t threads = 4,
                                                       const core::ProgressCallback& progress = {});

}  // namespace berth::lifecycle
