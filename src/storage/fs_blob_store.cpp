// The filesystem BlobStore. Bytes become visible only by rename(2), which POSIX makes atomic:
// put() writes a fresh file in tmp/, commit_upload() takes the upload's own file, and either is
// fsync'ed before it is renamed into blobs/ and its new directory entry fsync'ed after, so a
// crash at any instant leaves no blob or the whole blob. Blobs are never written in place.
//
// Plain POSIX calls rather than std::filesystem/fstream: we need O_CLOEXEC (the server may
// fork helpers), fsync of files and directories, pread for concurrent readers, and an fd that
// the HTTP layer can hand to sendfile(2). errno turns into a core::Error in posix_error() and
// nowhere else.
//
// The store keeps no mutable state of its own: concurrency is the kernel's business, and
// every method is safe from any thread.
#include "storage/fs_blob_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "storage/layout.hpp"
#include "util/fsync.hpp"
#include "util/unique_fd.hpp"

namespace berth::storage {
namespace {

namespace fs = std::filesystem;
using core::ErrorCode;

// put() temporary files older than this are leftovers of a crash (see remove_stale_tmp_files).
constexpr std::chrono::hours kStaleTmpAge{1};
// One write(2) never moves more than this; Linux caps a call just below 2 GiB anyway.
constexpr std::size_t kMaxWriteChunk = std::size_t{1} << 30;

// The one place errno becomes a core::Error (like LevelDB's PosixError). The message names
// the operation and the path so an operator can act on a log line. ENOENT maps to if_absent
// where absence means something to the caller (BLOB_UNKNOWN, BLOB_UPLOAD_UNKNOWN); that
// message names only the file, a digest's hex or an upload id the client already knows, since
// it may reach the client. Elsewhere a missing file is a failure like any other.
core::Error posix_error(std::string_view operation, const fs::path& path, int error_number,
                        ErrorCode if_absent = ErrorCode::kInternal) {
  std::string message(operation);
  if (error_number == ENOENT && if_absent != ErrorCode::kInternal) {
    message.append(" ").append(path.filename().string()).append(": not found");
    return core::Error{if_absent, std::move(message), {}};
  }
  message.append(" ").append(path.string()).append(": ");
  message.append(std::system_category().message(error_number));
  if (error_number == ENOSPC || error_number == EDQUOT) {
    // Not our bug and not permanent: 503 tells the client to retry later.
    return core::Error{ErrorCode::kUnavailable,
                       "disk full: " + message,
                       {},
                       std::nullopt,
                       core::ErrorReason::kDiskFull};
  }
  return core::Error{ErrorCode::kInternal, std::move(message), {}};
}

std::unexpected<core::Error> fail_posix(std::string_view operation, const fs::path& path,
                                        int error_number,
                                        ErrorCode if_absent = ErrorCode::kInternal) {
  return std::unexpected(posix_error(operation, path, error_number, if_absent));
}

using Fd = util::UniqueFd;

Result<Fd> open_file(const fs::path& path, int flags, std::string_view operation,
                     ErrorCode if_absent = ErrorCode::kInternal) {
  while (true) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
    if (fd >= 0) {
      return Fd(fd);
    }
    if (errno != EINTR) {
      return fail_posix(operation, path, errno, if_absent);
    }
  }
}

// Writes all of bytes, looping on short writes and EINTR, straight from the caller's buffer.
// written counts what reached the file, also when it fails halfway.
Result<void> write_all(int fd, std::span<const std::byte> bytes, const fs::path& path,
                       std::uint64_t& written) {
  while (!bytes.empty()) {
    std::size_t chunk = std::min(bytes.size(), kMaxWriteChunk);
    ssize_t n = ::write(fd, bytes.data(), chunk);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail_posix("write", path, errno);
    }
    written += static_cast<std::uint64_t>(n);
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return {};
}

Result<void> sync_fd(int fd, const fs::path& path) {
  if (const auto synced = util::fsync_fd(fd)) {
    return fail_posix("fsync", path, synced.value());
  }
  return {};
}

// Makes a directory's entries (a rename into it, a file or directory created in it) durable.
Result<void> sync_dir(const fs::path& dir) {
  const fs::path target = dir.empty() ? fs::path(".") : dir;
  auto fd = open_file(target, O_RDONLY | O_DIRECTORY, "open directory");
  if (!fd) {
    return std::unexpected(std::move(fd).error());
  }
  return sync_fd(fd->get(), target);
}

// mkdir -p (owner-only: blobs of private projects are nobody else's), fsync'ing the parent of
// every directory it creates so that a blob renamed into a new fan-out directory cannot vanish
// with that directory in a crash.
Result<void> ensure_dir(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0) {
    return sync_dir(dir.parent_path());
  }
  int error_number = errno;
  if (error_number == ENOENT && dir.has_parent_path() && dir.parent_path() != dir) {
    if (auto parent = ensure_dir(dir.parent_path()); !parent) {
      return parent;
    }
    if (::mkdir(dir.c_str(), 0700) == 0) {
      return sync_dir(dir.parent_path());
    }
    error_number = errno;
  }
  if (error_number == EEXIST) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
      return fail_posix("stat", dir, errno);
    }
    if (!S_ISDIR(st.st_mode)) {
      return fail_posix("create directory", dir, ENOTDIR);
    }
    return {};
  }
  return fail_posix("create directory", dir, error_number);
}

// stat(2) of a path whose absence is an answer, not an error.
Result<std::optional<struct stat>> stat_if_present(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    return fail_posix("stat", path, errno);
  }
  return st;
}

Result<std::uint64_t> fd_size(int fd, const fs::path& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return fail_posix("fstat", path, errno);
  }
  return static_cast<std::uint64_t>(st.st_size);
}

core::TimePoint modification_time(const struct stat& st) {
  auto since_epoch =
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec);
  return core::TimePoint(std::chrono::duration_cast<core::TimePoint::duration>(since_epoch));
}

// Calls fn with the name of every entry of dir but "." and "..", stopping at fn's first error.
// With nested, a dir that vanished or is not a directory is empty (stray files in the blob
// tree are skipped, not fatal).
Result<void> list_dir(const fs::path& dir, bool nested,
                      const std::function<Result<void>(std::string_view name)>& fn) {
  std::unique_ptr<DIR, int (*)(DIR*)> handle(::opendir(dir.c_str()), &::closedir);
  if (!handle) {
    if (nested && (errno == ENOENT || errno == ENOTDIR)) {
      return {};
    }
    return fail_posix("open directory", dir, errno);
  }
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(handle.get());
    if (entry == nullptr) {
      if (errno != 0) {
        return fail_posix("read directory", dir, errno);
      }
      return {};
    }
    std::string_view name(entry->d_name);
    if (name == "." || name == "..") {
      continue;
    }
    if (auto result = fn(name); !result) {
      return result;
    }
  }
}

// Removes an unpublished temporary file when the operation that made it fails.
class UnlinkUnlessReleased {
 public:
  explicit UnlinkUnlessReleased(fs::path path) : path_(std::move(path)) {}
  UnlinkUnlessReleased(const UnlinkUnlessReleased&) = delete;
  UnlinkUnlessReleased& operator=(const UnlinkUnlessReleased&) = delete;
  ~UnlinkUnlessReleased() {
    if (armed_) {
      // Best effort: the failure being reported matters more, and open() sweeps leftovers.
      ::unlink(path_.c_str());
    }
  }
  void release() { armed_ = false; }

 private:
  fs::path path_;
  bool armed_ = true;
};

// Reads a file through pread, so that one fd could serve any offset in any order; the size is
// the file's at open, which for a blob is its size for good.
class FsBlobReader final : public BlobReader {
 public:
  FsBlobReader(Fd fd, std::uint64_t size, fs::path path)
      : fd_(std::move(fd)), size_(size), path_(std::move(path)) {}

  std::uint64_t size() const override { return size_; }

  Result<std::size_t> read_at(std::uint64_t offset, std::span<std::byte> out) override {
    if (offset >= size_) {
      return 0;
    }
    std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size_ - offset));
    std::size_t done = 0;
    while (done < want) {
      ssize_t n =
          ::pread(fd_.get(), out.data() + done, want - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return fail_posix("read", path_, errno);
      }
      if (n == 0) {
        // Shorter than at open: someone truncated it underneath us. Return what there is;
        // `berth check` is what finds damaged blobs.
        break;
      }
      done += static_cast<std::size_t>(n);
    }
    return done;
  }

  int native_fd() const override { return fd_.get(); }

 private:
  Fd fd_;
  std::uint64_t size_;
  fs::path path_;
};

// Appends through O_APPEND. The registry hands an upload to one request at a time, so the
// size counted from fstat at open plus what we wrote is the file's size.
class FsUploadWriter final : public UploadWriter {
 public:
  FsUploadWriter(Fd fd, std::uint64_t size, fs::path path)
      : fd_(std::move(fd)), size_(size), path_(std::move(path)) {}

  std::uint64_t size() const override { return size_; }

  Result<void> append(std::span<const std::byte> bytes) override {
    return write_all(fd_.get(), bytes, path_, size_);
  }

  Result<void> truncate(std::uint64_t size) override {
    const auto length = std::min(size, size_);
    while (::ftruncate(fd_.get(), static_cast<off_t>(length)) != 0) {
      if (errno != EINTR) {
        return fail_posix("truncate", path_, errno);
      }
    }
    size_ = length;
    return {};
  }

 private:
  Fd fd_;
  std::uint64_t size_;
  fs::path path_;
};

class FsBlobStore final : public BlobStore {
 public:
  explicit FsBlobStore(fs::path root) : root_(std::move(root)) {}

  Result<std::optional<std::uint64_t>> stat(const core::Digest& digest) override {
    auto st = stat_if_present(path_of(layout::blob_key(digest)));
    if (!st) {
      return std::unexpected(std::move(st).error());
    }
    if (!*st) {
      return std::nullopt;
    }
    return static_cast<std::uint64_t>((*st)->st_size);
  }

  Result<std::unique_ptr<BlobReader>> open(const core::Digest& digest) override {
    return open_reader(path_of(layout::blob_key(digest)), "open blob", ErrorCode::kBlobUnknown);
  }

  Result<void> put(const core::Digest& digest, std::string_view bytes) override {
    const fs::path blob = path_of(layout::blob_key(digest));
    auto existing = stat_if_present(blob);
    if (!existing) {
      return std::unexpected(std::move(existing).error());
    }
    if (*existing) {
      return {};
    }
    const fs::path tmp = path_of(layout::new_tmp_key());
    auto fd = open_file(tmp, O_WRONLY | O_CREAT | O_EXCL, "create temporary file");
    if (!fd) {
      return std::unexpected(std::move(fd).error());
    }
    UnlinkUnlessReleased cleanup(tmp);
    std::uint64_t written = 0;
    if (auto r = write_all(fd->get(), std::as_bytes(std::span(bytes)), tmp, written); !r) {
      return r;
    }
    if (auto r = sync_fd(fd->get(), tmp); !r) {
      return r;
    }
    if (int error_number = fd->close_checked(); error_number != 0) {
      return fail_posix("close", tmp, error_number);
    }
    if (auto r = publish(tmp, digest, ErrorCode::kInternal); !r) {
      // If it failed after the rename, the unlink finds nothing: the blob is published, only
      // not yet durably, and a retried put() finds it present.
      return r;
    }
    cleanup.release();
    return {};
  }

  Result<void> remove(const core::Digest& digest) override {
    // No directory fsync: if a crash undoes the unlink, the blob is merely unreferenced
    // again and the next GC removes it again.
    const fs::path blob = path_of(layout::blob_key(digest));
    if (::unlink(blob.c_str()) != 0 && errno != ENOENT) {
      return fail_posix("remove blob", blob, errno);
    }
    return {};
  }

  Result<std::optional<core::TimePoint>> modified(const core::Digest& digest) override {
    auto st = stat_if_present(path_of(layout::blob_key(digest)));
    if (!st) {
      return std::unexpected(std::move(st).error());
    }
    if (!*st) {
      return std::nullopt;
    }
    // rename(2) keeps the mtime: for a committed upload it is when its last byte arrived.
    return modification_time(**st);
  }

  Result<void> for_each_blob(
      const std::function<void(const core::Digest&, std::uint64_t size)>& fn) override {
    return walk_blobs(std::string(layout::kBlobsDir), 0,
                      [&](const BlobEntry& entry) { fn(entry.digest, entry.size); });
  }

  Result<void> for_each_blob_entry(const std::function<void(const BlobEntry&)>& fn) override {
    return walk_blobs(std::string(layout::kBlobsDir), 0, fn);
  }

  Result<void> create_upload(const core::UploadId& id) override {
    const fs::path upload = path_of(layout::upload_key(id));
    auto fd = open_file(upload, O_WRONLY | O_CREAT | O_EXCL, "create upload");
    if (!fd) {
      return std::unexpected(std::move(fd).error());
    }
    if (int error_number = fd->close_checked(); error_number != 0) {
      return fail_posix("close", upload, error_number);
    }
    return {};
  }

  Result<std::unique_ptr<UploadWriter>> append_upload(const core::UploadId& id) override {
    const fs::path upload = path_of(layout::upload_key(id));
    auto fd = open_file(upload, O_WRONLY | O_APPEND, "open upload", ErrorCode::kBlobUploadUnknown);
    if (!fd) {
      return std::unexpected(std::move(fd).error());
    }
    // A published upload is a hard link of its blob (publish_upload): appending would write
    // into the blob. In one process the registry never leases it again, but a crash between
    // publishing and deleting the upload leaves it behind for a client to resume.
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) {
      return fail_posix("stat upload", upload, errno);
    }
    if (st.st_nlink > 1) {
      return core::fail(ErrorCode::kBlobUploadInvalid,
                        "upload " + id.str() +
                            " was already published as a blob and takes no more bytes; start a "
                            "new upload");
    }
    auto size = fd_size(fd->get(), upload);
    if (!size) {
      return std::unexpected(std::move(size).error());
    }
    return std::make_unique<FsUploadWriter>(*std::move(fd), *size, upload);
  }

  Result<std::unique_ptr<BlobReader>> read_upload(const core::UploadId& id) override {
    return open_reader(path_of(layout::upload_key(id)), "open upload",
                       ErrorCode::kBlobUploadUnknown);
  }

  Result<void> commit_upload(const core::UploadId& id, const core::Digest& digest) override {
    const fs::path upload = path_of(layout::upload_key(id));
    auto fd = open_file(upload, O_RDONLY, "open upload", ErrorCode::kBlobUploadUnknown);
    if (!fd) {
      return std::unexpected(std::move(fd).error());
    }
    auto existing = stat_if_present(path_of(layout::blob_key(digest)));
    if (!existing) {
      return std::unexpected(std::move(existing).error());
    }
    if (*existing) {
      // Same digest, same bytes: keep the published file (readers may hold it open) and
      // drop ours.
      return delete_upload(id);
    }
    // fsync through a read-only fd flushes the file's data all the same on Linux.
    if (auto r = sync_fd(fd->get(), upload); !r) {
      return r;
    }
    // On failure the upload stays where it is, whole, and the registry may retry.
    if (auto r = publish(upload, digest, ErrorCode::kBlobUploadUnknown); !r) {
      return r;
    }
    // Make the upload's name going away durable as well, so that a crash cannot bring the
    // upload back beside the blob it became.
    return sync_dir(path_of(layout::kUploadsDir));
  }

  Result<void> publish_upload(const core::UploadId& id, const core::Digest& digest) override {
    const fs::path upload = path_of(layout::upload_key(id));
    auto fd = open_file(upload, O_RDONLY, "open upload", ErrorCode::kBlobUploadUnknown);
    if (!fd) {
      return std::unexpected(std::move(fd).error());
    }
    if (auto r = sync_fd(fd->get(), upload); !r) {
      return r;
    }
    // Stamped before the blob name can appear, so the name never shows an old time to the
    // sweep (which spares files younger than its grace). The upload is ours, so a read-only
    // fd may set its times.
    if (::futimens(fd->get(), nullptr) != 0) {
      return fail_posix("touch upload", upload, errno);
    }
    const fs::path fanout = path_of(layout::blob_fanout_dir(digest));
    if (auto r = ensure_dir(fanout); !r) {
      return r;
    }
    const fs::path blob = path_of(layout::blob_key(digest));
    // A hard link publishes atomically without copying, and the upload keeps its own name.
    // Racing a collection that unlinks the existing blob, link and touch may each find the
    // other state; a few rounds settle it.
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (::link(upload.c_str(), blob.c_str()) == 0) {
        return sync_dir(fanout);
      }
      const int error_number = errno;
      if (error_number == EEXIST) {
        // Same digest, same bytes: keep the published file (readers may hold it open).
        if (::utimensat(AT_FDCWD, blob.c_str(), nullptr, 0) == 0) {
          return {};
        }
        if (errno != ENOENT) {
          return fail_posix("touch blob", blob, errno);
        }
        continue;
      }
      if (error_number == EPERM || error_number == EOPNOTSUPP || error_number == EXDEV ||
          error_number == EMLINK) {
        // No hard links here (some FUSE and network file systems): publish a copy.
        return publish_copy(fd->get(), upload, digest);
      }
      return fail_posix("publish blob", upload, error_number, ErrorCode::kBlobUploadUnknown);
    }
    return fail_posix("publish blob", blob, EAGAIN);
  }

  Result<void> delete_upload(const core::UploadId& id) override {
    const fs::path upload = path_of(layout::upload_key(id));
    if (::unlink(upload.c_str()) != 0 && errno != ENOENT) {
      return fail_posix("delete upload", upload, errno);
    }
    return {};
  }

  Result<std::optional<std::uint64_t>> free_bytes() override {
    struct statvfs st {};
    while (::statvfs(path_of(layout::kUploadsDir).c_str(), &st) != 0) {
      if (errno != EINTR) {
        return fail_posix("statvfs", path_of(layout::kUploadsDir), errno);
      }
    }
    // What an unprivileged writer may use: f_bavail, not f_bfree (root's reserve).
    return static_cast<std::uint64_t>(st.f_bavail) * static_cast<std::uint64_t>(st.f_frsize);
  }

  Result<std::vector<UploadEntry>> list_uploads() override {
    std::vector<UploadEntry> uploads;
    const fs::path dir = path_of(layout::kUploadsDir);
    auto listed = list_dir(dir, false, [&](std::string_view name) -> Result<void> {
      auto id = layout::parse_upload_name(name);
      if (!id) {
        return {};
      }
      auto st = stat_if_present(path_of(layout::upload_key(*id)));
      if (!st) {
        return std::unexpected(std::move(st).error());
      }
      if (*st && S_ISREG((*st)->st_mode)) {
        uploads.push_back(UploadEntry{*std::move(id), modification_time(**st)});
      }
      return {};
    });
    if (!listed) {
      return std::unexpected(std::move(listed).error());
    }
    return uploads;
  }

 private:
  fs::path path_of(std::string_view key) const { return root_ / key; }

  Result<std::unique_ptr<BlobReader>> open_reader(const fs::path& path, std::string_view operation,
                                                  ErrorCode if_absent) {
    auto fd = open_file(path, O_RDONLY, operation, if_absent);
    if (!fd) {
      return std::unexpected(std::move(fd).error());
    }
    auto size = fd_size(fd->get(), path);
    if (!size) {
      return std::unexpected(std::move(size).error());
    }
    return std::make_unique<FsBlobReader>(*std::move(fd), *size, path);
  }

  // publish_upload() where hard links are not supported: the upload's bytes are copied to a
  // temporary file, which is fsync'ed and renamed onto the blob's path as put() does.
  Result<void> publish_copy(int upload_fd, const fs::path& upload, const core::Digest& digest) {
    const fs::path tmp = path_of(layout::new_tmp_key());
    auto out = open_file(tmp, O_WRONLY | O_CREAT | O_EXCL, "create temporary file");
    if (!out) {
      return std::unexpected(std::move(out).error());
    }
    UnlinkUnlessReleased cleanup(tmp);
    std::vector<std::byte> buffer(1 << 20);
    std::uint64_t offset = 0;
    std::uint64_t written = 0;
    while (true) {
      ssize_t n = ::pread(upload_fd, buffer.data(), buffer.size(), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return fail_posix("read", upload, errno);
      }
      if (n == 0) {
        break;
      }
      offset += static_cast<std::uint64_t>(n);
      if (auto r = write_all(out->get(), std::span(buffer.data(), static_cast<std::size_t>(n)), tmp,
                             written);
          !r) {
        return r;
      }
    }
    if (auto r = sync_fd(out->get(), tmp); !r) {
      return r;
    }
    if (int error_number = out->close_checked(); error_number != 0) {
      return fail_posix("close", tmp, error_number);
    }
    if (auto r = publish(tmp, digest, ErrorCode::kInternal); !r) {
      return r;
    }
    cleanup.release();
    return {};
  }

  // Renames the fsync'ed file `from` onto the blob's path and makes the new entry durable.
  // if_absent is what a vanished `from` means to the caller.
  Result<void> publish(const fs::path& from, const core::Digest& digest, ErrorCode if_absent) {
    const fs::path fanout = path_of(layout::blob_fanout_dir(digest));
    if (auto r = ensure_dir(fanout); !r) {
      return r;
    }
    const fs::path blob = path_of(layout::blob_key(digest));
    // Replaces a blob published meanwhile by a concurrent writer of the same digest; the bytes
    // are equal and readers that opened the old file keep reading it.
    if (::rename(from.c_str(), blob.c_str()) != 0) {
      return fail_posix("publish blob", from, errno, if_absent);
    }
    return sync_dir(fanout);
  }

  // Depth 0 is blobs/, 1 an algorithm directory, 2 a fan-out directory whose entries are
  // blobs. Names are checked by layout::parse_blob_key only at the end, so anything it would
  // not have made is skipped whatever its level.
  Result<void> walk_blobs(const std::string& key, int depth,
                          const std::function<void(const BlobEntry&)>& fn) {
    return list_dir(path_of(key), depth > 0, [&](std::string_view name) -> Result<void> {
      std::string child = key;
      child.append("/").append(name);
      if (depth < 2) {
        return walk_blobs(child, depth + 1, fn);
      }
      auto digest = layout::parse_blob_key(child);
      if (!digest) {
        return {};
      }
      auto st = stat_if_present(path_of(child));
      if (!st) {
        return std::unexpected(std::move(st).error());
      }
      // Absent now means removed since readdir (GC running alongside): not a blob any more.
      if (*st && S_ISREG((*st)->st_mode)) {
        fn(BlobEntry{*std::move(digest), static_cast<std::uint64_t>((*st)->st_size),
                     modification_time(**st)});
      }
      return {};
    });
  }

  const fs::path root_;
};

// Deletes put() temporary files left by a crash. put() never resumes one (a retried put
// starts a new file), so any tmp file not being written right now is garbage. "Right now"
// is what the age limit is for: another process on the same data directory (`berth check`
// or `berth gc` beside a running server) opens the store too, and must not pull a file out
// from under the server's in-flight put(). Uses the real time, like the files' mtimes.
Result<void> remove_stale_tmp_files(const fs::path& tmp_dir) {
  const auto now = std::chrono::system_clock::now();
  return list_dir(tmp_dir, false, [&](std::string_view name) -> Result<void> {
    const fs::path file = tmp_dir / name;
    auto st = stat_if_present(file);
    if (!st) {
      return std::unexpected(std::move(st).error());
    }
    if (*st && S_ISREG((*st)->st_mode) && now - modification_time(**st) > kStaleTmpAge) {
      if (::unlink(file.c_str()) != 0 && errno != ENOENT) {
        return fail_posix("remove stale temporary file", file, errno);
      }
    }
    return {};
  });
}

// Creates and removes one file in tmp/, so that a read-only or foreign-owned data directory
// fails at start rather than at the first push.
Result<void> probe_writable(const fs::path& root) {
  const fs::path probe = root / layout::new_tmp_key();
  auto fd = open_file(probe, O_WRONLY | O_CREAT | O_EXCL, "create temporary file");
  if (!fd) {
    return std::unexpected(std::move(fd).error());
  }
  UnlinkUnlessReleased cleanup(probe);
  return {};
}

}  // namespace

Result<std::unique_ptr<BlobStore>> open_fs_blob_store(const fs::path& root) {
  for (std::string_view dir : {layout::kBlobsDir, layout::kUploadsDir, layout::kTmpDir}) {
    if (auto r = ensure_dir(root / dir); !r) {
      return std::unexpected(std::move(r).error());
    }
  }
  if (auto r = remove_stale_tmp_files(root / layout::kTmpDir); !r) {
    return std::unexpected(std::move(r).error());
  }
  if (auto r = probe_writable(root); !r) {
    return std::unexpected(std::move(r).error());
  }
  return std::make_unique<FsBlobStore>(root);
}

}  // namespace berth::storage
