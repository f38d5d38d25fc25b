// Making files and directory entries durable: fsync(2), retried on EINTR, with the error as a
// std::error_code for callers to word in their own errors.
#pragma once

#include <filesystem>
#include <system_error>

namespace berth::util {

// fsync(fd); an empty error_code on success.
[[nodiscard]] std::error_code fsync_fd(int fd);

// Opens path (a directory when `directory`) read-only and fsyncs it: for a directory, that makes
// its entries (a rename into it, a file created in it) durable. fsync through a read-only fd
// flushes a file's data all the same on Linux.
[[nodiscard]] std::error_code fsync_path(const std::filesystem::path& path, bool directory);

// fsync_path of the directory holding path ("." for a bare name).
[[nodiscard]] std::error_code fsync_parent(const std::filesystem::path& path);

}  // namespace berth::util
