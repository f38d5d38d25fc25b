// Raising the open-file limit (fd_limit.hpp).
#include "server/fd_limit.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace berth::server {

std::optional<std::string> raise_fd_limit(std::size_t max_connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return std::string("cannot read the open-file limit: ") + std::strerror(errno);
  }
  const auto wanted = static_cast<rlim_t>(max_connections + kSpareDescriptors);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      limit = raised;
    }
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    return "the open-file limit is " + std::to_string(limit.rlim_cur) + ", below the " +
           std::to_string(wanted) + " that http.max_connections (" +
           std::to_string(max_connections) +
           ") needs: connections past the limit will fail at accept instead of getting 503. "
           "Raise it (ulimit -n, systemd LimitNOFILE=) or lower http.max_connections";
  }
  return std::nullopt;
}

}  // namespace berth::server
