// The open-file limit a server needs: every connection is a descriptor, and so are the
// database, the blobs being read or written and the upload files. A soft RLIMIT_NOFILE below
// http.max_connections (1024 is a common default) would make accept() fail before the limit is
// reached, where a refusal is no longer clean; so the soft limit is raised toward what
// max_connections needs, as far as the hard limit allows (Go servers do the same at start).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace berth::server {

// Descriptors kept beside the connections: database, blob files, upload files, logs.
inline constexpr std::size_t kSpareDescriptors = 1024;

// Raises the soft open-file limit to max_connections + kSpareDescriptors if it is lower (capped
// at the hard limit). Returns a warning for the operator when even that falls short.
[[nodiscard]] std::optional<std::string> raise_fd_limit(std::size_t max_connections);

}  // namespace berth::server
