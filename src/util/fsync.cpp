#include "util/fsync.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "util/unique_fd.hpp"

namespace berth::util {

std::error_code fsync_fd(int fd) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) {
      return {errno, std::system_category()};
    }
  }
  return {};
}

std::error_code fsync_path(const std::filesystem::path& path, bool directory) {
  const int flags = (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC;
  UniqueFd fd;
  while (!fd.valid()) {
    fd = UniqueFd(::open(path.c_str(), flags));
    if (!fd.valid() && errno != EINTR) {
      return {errno, std::system_category()};
    }
  }
  return fsync_fd(fd.get());
}

std::error_code fsync_parent(const std::filesystem::path& path) {
  return fsync_path(path.has_parent_path() ? path.parent_path() : ".", true);
}

}  // namespace berth::util
