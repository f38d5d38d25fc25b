// run_backup, run_restore and the BACKUP file (backup.hpp).
#include "lifecycle/backup.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <ctime>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "lifecycle/blob_copy.hpp"
#include "lifecycle/maintenance_lease.hpp"
#include "meta/check_store.hpp"
#include "meta/metadata_transfer.hpp"
#include "meta/sqlite_backup.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "storage/fs_blob_store.hpp"

namespace berth::lifecycle {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using core::ErrorCode;

constexpr std::string_view kPartialDatabase = "berth.db.partial";
constexpr std::string_view kPartialManifest = "BACKUP.partial";
constexpr std::size_t kBackupPageSize = 1000;

core::Error io_error(std::string what, const fs::path& path, const std::error_code& ec) {
  return core::Error{ErrorCode::kInternal, what + " " + path.string() + ": " + ec.message(), {}};
}

// fsync of a file or directory: a backup is only worth its BACKUP file if what it describes
// survives a power cut.
core::Result<void> sync_path(const fs::path& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) {
    return std::unexpected(io_error("open", path, std::error_code(errno, std::system_category())));
  }
  int rc = 0;
  while ((rc = ::fsync(fd)) != 0 && errno == EINTR) {
  }
  const int error_number = errno;
  ::close(fd);
  if (rc != 0) {
    return std::unexpected(
        io_error("fsync", path, std::error_code(error_number, std::system_category())));
  }
  return {};
}

// Renames `from` onto `to` durably (both in the same directory).
core::Result<void> publish_file(const fs::path& from, const fs::path& to) {
  if (auto synced = sync_path(from, false); !synced) {
    return synced;
  }
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) {
    return std::unexpected(io_error("rename to " + to.string() + ":", from, ec));
  }
  return sync_path(to.parent_path(), true);
}

core::Result<void> remove_file(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec);
  if (ec) {
    return std::unexpected(io_error("remove", path, ec));
  }
  return {};
}

// A database file and what SQLite may keep beside it.
core::Result<void> remove_database_files(const fs::path& path) {
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
    if (auto removed = remove_file(path.string() + suffix); !removed) {
      return removed;
    }
  }
  return {};
}

// sha256 of a whole file, and its size.
core::Result<std::pair<std::string, std::uint64_t>> file_digest(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return core::fail(ErrorCode::kInternal, "cannot read " + path.string());
  }
  core::Hasher hasher;
  std::string buffer(std::size_t{1} << 20, '\0');
  std::uint64_t size = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    hasher.update(buffer.data(), n);
    size += n;
  }
  if (in.bad()) {
    return core::fail(ErrorCode::kInternal, "cannot read " + path.string());
  }
  return std::pair(hasher.digest().str(), size);
}

std::string rfc3339(core::TimePoint t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::optional<core::TimePoint> parse_rfc3339(const std::string& text) {
  std::tm utc{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  if (end == nullptr || *end != '\0') {
    return std::nullopt;
  }
  return std::chrono::system_clock::from_time_t(timegm(&utc));
}

std::string render_manifest(const BackupManifest& m) {
  json::array damaged;
  for (const auto& digest : m.damaged) {
    damaged.emplace_back(digest);
  }
  json::object object{
      {"format", m.format},
      {"berth_version", m.berth_version},
      {"started", rfc3339(m.started)},
      {"finished", rfc3339(m.finished)},
      {"schema_version", m.schema_version},
      {"repositories", m.repositories},
      {"manifests", m.manifests},
      {"tags", m.tags},
      {"blobs", m.blobs},
      {"blob_bytes", m.blob_bytes},
      {"database", json::object{{"file", kBackupDatabaseName},
                                {"bytes", m.database_bytes},
                                {"digest", m.database_digest}}},
      {"copied", m.copied},
      {"reused", m.reused},
      {"removed", m.removed},
      {"damaged", std::move(damaged)},
  };
  return json::serialize(object) + "\n";
}

core::Result<BackupManifest> parse_manifest(std::string_view text, const fs::path& path) {
  auto invalid = [&](std::string why) {
    return core::fail(ErrorCode::kInternal,
                      path.string() + " is not a Berth backup manifest: " + std::move(why));
  };
  boost::system::error_code ec;
  auto value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    return invalid("not a JSON object");
  }
  const auto& object = value.as_object();
  auto number = [&](std::string_view key) -> std::optional<std::uint64_t> {
    const auto* field = object.if_contains(key);
    if (field == nullptr || !field->is_number()) {
      return std::nullopt;
    }
    boost::system::error_code number_ec;
    auto n = field->to_number<std::uint64_t>(number_ec);
    return number_ec ? std::nullopt : std::optional(n);
  };
  auto text_field = [&](const json::object& from,
                        std::string_view key) -> std::optional<std::string> {
    const auto* field = from.if_contains(key);
    if (field == nullptr || !field->is_string()) {
      return std::nullopt;
    }
    return std::string(field->as_string());
  };
  BackupManifest m;
  auto format = number("format");
  if (!format) {
    return invalid("no format");
  }
  m.format = *format;
  if (m.format != kBackupFormat) {
    // Later fields may mean something else in another format: stop here.
    return m;
  }
  const auto* database = object.if_contains("database");
  if (database == nullptr || !database->is_object()) {
    return invalid("no database");
  }
  auto digest = text_field(database->as_object(), "digest");
  const auto* database_bytes = database->as_object().if_contains("bytes");
  auto started = text_field(object, "started");
  auto finished = text_field(object, "finished");
  if (!digest || database_bytes == nullptr || !database_bytes->is_number() || !started ||
      !finished) {
    return invalid("a field is missing");
  }
  boost::system::error_code number_ec;
  m.database_bytes = database_bytes->to_number<std::uint64_t>(number_ec);
  m.database_digest = *digest;
  m.berth_version = text_field(object, "berth_version").value_or("");
  auto started_at = parse_rfc3339(*started);
  auto finished_at = parse_rfc3339(*finished);
  if (number_ec || !started_at || !finished_at) {
    return invalid("a field is malformed");
  }
  m.started = *started_at;
  m.finished = *finished_at;
  const auto schema_version = number("schema_version").value_or(0);
  if (schema_version > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
    return invalid("schema_version " + std::to_string(schema_version) + " is out of range");
  }
  m.schema_version = static_cast<int>(schema_version);
  m.repositories = number("repositories").value_or(0);
  m.manifests = number("manifests").value_or(0);
  m.tags = number("tags").value_or(0);
  m.blobs = number("blobs").value_or(0);
  m.blob_bytes = number("blob_bytes").value_or(0);
  m.copied = number("copied").value_or(0);
  m.reused = number("reused").value_or(0);
  m.removed = number("removed").value_or(0);
  if (const auto* damaged = object.if_contains("damaged"); damaged && damaged->is_array()) {
    for (const auto& entry : damaged->as_array()) {
      if (entry.is_string()) {
        m.damaged.emplace_back(entry.as_string());
      }
    }
  }
  return m;
}

// What a directory may hold to be taken for a (possibly unfinished) backup.
bool is_backup_entry(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      kBackupManifestName, kPartialManifest, kBackupDatabaseName, "berth.db-journal",
      kPartialDatabase,    "blobs",          "uploads",           "tmp"};
  if (std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames)) {
    return true;
  }
  return name.starts_with(kPartialDatabase) &&
         (name.ends_with("-journal") || name.ends_with("-wal") || name.ends_with("-shm"));
}

bool same_directory(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec) && !ec;
}

core::Result<void> prepare_backup_dir(const fs::path& dir, const BackupSource& source) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return std::unexpected(io_error("create", dir, ec));
  }
  if (!fs::is_directory(dir, ec)) {
    return core::fail(ErrorCode::kInternal, dir.string() + " is not a directory");
  }
  for (const auto& live : source.live_dirs) {
    if (same_directory(dir, live)) {
      return core::fail(ErrorCode::kInternal,
                        dir.string() + " is the data directory itself; back up somewhere else");
    }
  }
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (!is_backup_entry(name)) {
      return core::fail(ErrorCode::kInternal,
                        dir.string() + " is neither empty nor a Berth backup (it holds '" + name +
                            "'); choose an empty or new directory");
    }
  }
  if (ec) {
    return std::unexpected(io_error("list", dir, ec));
  }
  return {};
}

// The snapshot's blob rows and counts. Opening it migrates nothing (it has the live schema)
// but leaves it in WAL mode; the caller turns that back.
struct SnapshotContents {
  meta::StoreCounts counts;
  std::vector<meta::StoredBlob> blobs;
};

core::Result<SnapshotContents> read_snapshot(const fs::path& path) {
  meta::SqliteOptions options;
  options.path = path.string();
  options.readers = 1;
  auto stores = meta::open_sqlite_stores(options);
  if (!stores) {
    return std::unexpected(stores.error());
  }
  SnapshotContents contents;
  auto counts = stores->check->counts();
  if (!counts) {
    return std::unexpected(counts.error());
  }
  contents.counts = *counts;
  std::string after;
  while (true) {
    auto page = stores->check->list_blobs(after, kBackupPageSize);
    if (!page) {
      return std::unexpected(page.error());
    }
    for (auto& blob : *page) {
      after = blob.digest.str();
      contents.blobs.push_back(std::move(blob));
    }
    if (page->size() < kBackupPageSize) {
      return contents;
    }
  }
}

struct CopyTotals {
  std::uint64_t copied = 0;
  std::uint64_t reused = 0;
  std::uint64_t bytes = 0;
  std::vector<std::string> damaged;
};

// Copies every blob into `to` on `threads` threads, keeping those `to` already holds whole.
// should_stop is asked between blobs (a lost lease); progress is told after each blob.
core::Result<CopyTotals> copy_blobs(storage::BlobStore& from, storage::BlobStore& to,
                                    const std::vector<meta::StoredBlob>& blobs, std::size_t threads,
                                    const std::function<std::optional<core::Error>()>& should_stop,
                                    const core::ProgressCallback& progress = {}) {
  CopyTotals totals;
  core::Progress done{.items_total = blobs.size()};
  for (const auto& blob : blobs) {
    done.bytes_total += blob.size;
  }
  // Under `mutex`, after a blob is done whatever became of it.
  auto tell = [&](std::uint64_t size) {
    ++done.items;
    done.bytes += size;
    if (progress) {
      progress(done);
    }
  };
  std::mutex mutex;  // guards totals and failure
  std::optional<core::Error> failure;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  auto fail_with = [&](core::Error error) {
    std::lock_guard lock(mutex);
    if (!failure) {
      failure = std::move(error);
    }
    stop = true;
  };
  auto copy_one = [&](const meta::StoredBlob& blob) {
    auto present = to.stat(blob.digest);
    if (!present) {
      return fail_with(present.error());
    }
    if (*present) {
      // Published there by an earlier run: complete (publishing is atomic) unless damaged
      // since, which the hash tells.
      auto hash = hash_blob(to, blob.digest);
      if (hash.state == BlobHash::State::kOk && hash.bytes == blob.size) {
        std::lock_guard lock(mutex);
        ++totals.reused;
        totals.bytes += blob.size;
        tell(blob.size);
        return;
      }
      if (auto removed = to.remove(blob.digest); !removed) {
        return fail_with(removed.error());
      }
    }
    auto copied = copy_blob(from, to, blob.digest, blob.size);
    if (!copied) {
      return fail_with(copied.error());
    }
    std::lock_guard lock(mutex);
    if (copied->copied) {
      ++totals.copied;
      totals.bytes += blob.size;
    } else {
      totals.damaged.push_back(blob.digest.str() + ": " + copied->detail);
    }
    tell(blob.size);
  };
  auto work = [&] {
    for (std::size_t i = next++; i < blobs.size() && !stop; i = next++) {
      if (should_stop) {
        if (auto stopped = should_stop()) {
          return fail_with(*stopped);
        }
      }
      copy_one(blobs[i]);
    }
  };
  {
    std::vector<std::jthread> pool;
    for (std::size_t i = 1; i < std::max<std::size_t>(threads, 1); ++i) {
      pool.emplace_back(work);
    }
    work();
  }
  if (failure) {
    return std::unexpected(*failure);
  }
  std::sort(totals.damaged.begin(), totals.damaged.end());
  return totals;
}

// The backup's database is the one BACKUP describes.
core::Result<void> verify_backup_database(const fs::path& database,
                                          const BackupManifest& manifest) {
  auto digest = file_digest(database);
  if (!digest) {
    return std::unexpected(digest.error());
  }
  if (digest->first != manifest.database_digest || digest->second != manifest.database_bytes) {
    return core::fail(ErrorCode::kInternal,
                      database.string() + " is not the database the backup wrote (it hashes to " +
                          digest->first + ", BACKUP says " + manifest.database_digest +
                          "); the backup is damaged");
  }
  return {};
}

// A restore never mixes two registries: the target holds no metadata (see backup.hpp).
core::Result<void> refuse_occupied_target(const RestoreTarget& target) {
  if (!target.postgres_url.empty()) {
    auto empty = meta::postgres_is_empty(target.postgres_url);
    if (!empty) {
      return std::unexpected(empty.error());
    }
    if (!*empty) {
      return core::fail(ErrorCode::kInternal,
                        "the PostgreSQL database holds metadata already; restore only into an "
                        "empty database");
    }
    return {};
  }
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-journal"}) {
    if (fs::exists(target.sqlite_path.string() + suffix, ec)) {
      return core::fail(ErrorCode::kInternal, "there is a database at " +
                                                  target.sqlite_path.string() +
                                                  " already; restore only into an empty data "
                                                  "directory");
    }
  }
  if (target.blobs == nullptr && fs::exists(target.storage_root, ec) &&
      !fs::is_empty(target.storage_root, ec)) {
    return core::fail(ErrorCode::kInternal,
                      target.storage_root.string() +
                          " is not empty; restore only into an empty (or new) data directory");
  }
  return {};
}

// A private directory under $TMPDIR, removed with what it holds.
class ScratchDirectory {
 public:
  static core::Result<ScratchDirectory> make() {
    std::string pattern = (fs::temp_directory_path() / "berth-restore-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return std::unexpected(
          io_error("create", pattern, std::error_code(errno, std::system_category())));
    }
    return ScratchDirectory(pattern);
  }
  ScratchDirectory(ScratchDirectory&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  ScratchDirectory& operator=(ScratchDirectory&&) = delete;
  ~ScratchDirectory() {
    if (!path_.empty()) {
      std::error_code ignored;
      fs::remove_all(path_, ignored);
    }
  }
  const fs::path& path() const { return path_; }

 private:
  explicit ScratchDirectory(fs::path path) : path_(std::move(path)) {}
  fs::path path_;
};

// Copies the backup's database to `restoring` and reads which blobs it records; refuses one of
// a newer Berth.
core::Result<SnapshotContents> copy_backup_database(const fs::path& database,
                                                    const fs::path& restoring) {
  auto copy = meta::copy_sqlite_database(database.string(), restoring.string());
  if (!copy) {
    return std::unexpected(copy.error());
  }
  if (copy->schema_version > meta::latest_sqlite_schema_version()) {
    (void)remove_database_files(restoring);
    return core::fail(ErrorCode::kInternal,
                      "the backup's database has schema version " +
                          std::to_string(copy->schema_version) + ", newer than this Berth's " +
                          std::to_string(meta::latest_sqlite_schema_version()) +
                          "; restore it with the Berth that made it");
  }
  return read_snapshot(restoring);
}

// The last step of a restore: the metadata in place.
core::Result<void> install_metadata(const fs::path& restoring, const RestoreTarget& target) {
  if (!target.postgres_url.empty()) {
    auto imported = meta::import_sqlite_into_postgres(restoring.string(), target.postgres_url);
    if (!imported) {
      return std::unexpected(imported.error());
    }
    return {};
  }
  BERTH_TRY(meta::leave_wal_mode(restoring.string()));
  return publish_file(restoring, target.sqlite_path);
}

}  // namespace

BackupSource sqlite_backup_source(const fs::path& sqlite_path, storage::BlobStore& blobs,
                                  const fs::path& storage_root, meta::GcStore& gc) {
  return BackupSource{[path = sqlite_path.string()](const std::string& to) {
                        return meta::copy_sqlite_database(path, to);
                      },
                      blobs,
                      {storage_root, sqlite_path.parent_path()},
                      gc};
}

core::Result<BackupManifest> run_backup(const BackupSource& source, const BackupOptions& options,
                                        const core::Clock& clock) {
  const fs::path& dir = options.dir;
  if (auto prepared = prepare_backup_dir(dir, source); !prepared) {
    return std::unexpected(prepared.error());
  }
  // From here until the new BACKUP is in place the directory is recognisably unfinished.
  if (auto removed = remove_file(dir / kBackupManifestName); !removed) {
    return std::unexpected(removed.error());
  }
  if (auto synced = sync_path(dir, true); !synced) {
    return std::unexpected(synced.error());
  }

  MaintenanceLease lease(source.gc, clock, options.holder, options.lease_ttl);
  if (auto acquired = lease.acquire(options.on_wait); !acquired) {
    return std::unexpected(acquired.error());
  }
  BackupManifest manifest;
  manifest.berth_version = options.berth_version;
  manifest.started = clock.now();

  const fs::path partial = dir / kPartialDatabase;
  if (auto removed = remove_database_files(partial); !removed) {
    return std::unexpected(removed.error());
  }
  auto copy = source.snapshot(partial.string());
  if (!copy) {
    return std::unexpected(copy.error());
  }
  manifest.schema_version = copy->schema_version;
  auto snapshot = read_snapshot(partial);
  if (!snapshot) {
    return std::unexpected(snapshot.error());
  }
  manifest.repositories = snapshot->counts.repositories;
  manifest.manifests = snapshot->counts.manifests;
  manifest.tags = snapshot->counts.tags;
  manifest.blobs = snapshot->counts.blobs;
  manifest.blob_bytes = snapshot->counts.blob_bytes;

  auto target = storage::open_fs_blob_store(dir);
  if (!target) {
    return std::unexpected(target.error());
  }
  // Uploads in DIR are only ever this command's copies in progress; an interrupted run leaves
  // them behind.
  auto leftovers = (*target)->list_uploads();
  if (!leftovers) {
    return std::unexpected(leftovers.error());
  }
  for (const auto& upload : *leftovers) {
    if (auto removed = (*target)->delete_upload(upload.id); !removed) {
      return std::unexpected(removed.error());
    }
  }
  auto totals = copy_blobs(
      source.blobs, **target, snapshot->blobs, options.threads,
      [&]() -> std::optional<core::Error> {
        if (lease.lost()) {
          return core::Error{ErrorCode::kUnavailable,
                             "lost the gc lease during the backup (was the "
                             "database unreachable?); run it again",
                             {}};
        }
        return std::nullopt;
      },
      options.progress);
  if (!totals) {
    return std::unexpected(totals.error());
  }
  manifest.copied = totals->copied;
  manifest.reused = totals->reused;
  manifest.damaged = std::move(totals->damaged);
  if (lease.lost()) {
    return core::fail(ErrorCode::kUnavailable, "lost the gc lease during the backup; run it again");
  }
  // Every recorded blob is copied: collection may run again.
  if (auto released = lease.release(); !released) {
    return std::unexpected(released.error());
  }

  // Blobs of an earlier backup that this snapshot does not record.
  std::set<core::Digest> recorded;
  for (const auto& blob : snapshot->blobs) {
    recorded.insert(blob.digest);
  }
  std::vector<core::Digest> stale;
  if (auto walked = (*target)->for_each_blob([&](const core::Digest& digest, std::uint64_t) {
        if (!recorded.contains(digest)) {
          stale.push_back(digest);
        }
      });
      !walked) {
    return std::unexpected(walked.error());
  }
  for (const auto& digest : stale) {
    if (auto removed = (*target)->remove(digest); !removed) {
      return std::unexpected(removed.error());
    }
  }
  manifest.removed = stale.size();

  if (auto left = meta::leave_wal_mode(partial.string()); !left) {
    return std::unexpected(left.error());
  }
  const fs::path database = dir / kBackupDatabaseName;
  if (auto published = publish_file(partial, database); !published) {
    return std::unexpected(published.error());
  }
  auto digest = file_digest(database);
  if (!digest) {
    return std::unexpected(digest.error());
  }
  manifest.database_digest = digest->first;
  manifest.database_bytes = digest->second;
  manifest.finished = clock.now();

  const fs::path manifest_partial = dir / kPartialManifest;
  {
    std::ofstream out(manifest_partial, std::ios::binary | std::ios::trunc);
    out << render_manifest(manifest);
    out.close();
    if (!out) {
      return core::fail(ErrorCode::kInternal, "cannot write " + manifest_partial.string());
    }
  }
  if (auto published = publish_file(manifest_partial, dir / kBackupManifestName); !published) {
    return std::unexpected(published.error());
  }
  return manifest;
}

core::Result<BackupManifest> read_backup_manifest(const fs::path& dir) {
  const fs::path path = dir / kBackupManifestName;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return core::fail(ErrorCode::kNotFound,
                      dir.string() + " holds no finished backup (there is no " +
                          std::string(kBackupManifestName) +
                          " file: the backup was interrupted or never made; run berth backup "
                          "again)");
  }
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    return core::fail(ErrorCode::kInternal, "cannot read " + path.string());
  }
  return parse_manifest(text, path);
}

core::Result<RestoreSummary> run_restore(const fs::path& dir, const RestoreTarget& target,
                                         std::size_t threads,
                                         const core::ProgressCallback& progress) {
  auto manifest = read_backup_manifest(dir);
  if (!manifest) {
    return std::unexpected(manifest.error());
  }
  if (manifest->format != kBackupFormat) {
    return core::fail(ErrorCode::kInternal,
                      dir.string() + " is a backup of format " + std::to_string(manifest->format) +
                          ", which this Berth does not know; restore it with a newer Berth");
  }
  const fs::path database = dir / kBackupDatabaseName;
  BERTH_TRY(verify_backup_database(database, *manifest));
  BERTH_TRY(refuse_occupied_target(target));

  // The database goes in first under a name no server opens (read to learn its blobs, and
  // migrated to this Berth's schema), and last as the target's metadata.
  std::optional<ScratchDirectory> scratch;
  fs::path restoring;
  if (target.postgres_url.empty()) {
    std::error_code ec;
    fs::create_directories(target.sqlite_path.parent_path(), ec);
    if (ec) {
      return std::unexpected(io_error("create", target.sqlite_path.parent_path(), ec));
    }
    restoring = target.sqlite_path.string() + ".restoring";
  } else {
    auto made = ScratchDirectory::make();
    if (!made) {
      return std::unexpected(made.error());
    }
    scratch.emplace(std::move(*made));
    restoring = scratch->path() / kBackupDatabaseName;
  }
  auto snapshot = copy_backup_database(database, restoring);
  if (!snapshot) {
    return std::unexpected(snapshot.error());
  }
  auto from = storage::open_fs_blob_store(dir);
  if (!from) {
    return std::unexpected(from.error());
  }
  std::unique_ptr<storage::BlobStore> owned;
  if (target.blobs == nullptr) {
    auto opened = storage::open_fs_blob_store(target.storage_root);
    if (!opened) {
      return std::unexpected(opened.error());
    }
    owned = std::move(*opened);
  }
  storage::BlobStore& to = target.blobs != nullptr ? *target.blobs : *owned;
  auto totals = copy_blobs(**from, to, snapshot->blobs, threads, {}, progress);
  if (!totals) {
    return std::unexpected(totals.error());
  }
  BERTH_TRY(install_metadata(restoring, target));
  RestoreSummary summary;
  summary.backup = std::move(*manifest);
  summary.blobs = totals->copied + totals->reused;
  summary.reused = totals->reused;
  summary.bytes = totals->bytes;
  summary.damaged = std::move(totals->damaged);
  return summary;
}

}  // namespace berth::lifecycle
