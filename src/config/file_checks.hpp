// The files a configuration names, checked before a server is started on it
// (`berth config check`): validate() looks at values only, so a certificate path with a typo
// would pass it and fail only at start-up.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace berth::config {

struct FileProblems {
  // Files that must be there and readable: the server cannot start (or serve TLS, or reach an
  // upstream) without them. "tls.certificate: /etc/berth/cert.pem does not exist".
  std::vector<std::string> errors;
  // Files whose absence the server tolerates but that are probably a mistake (an htpasswd
  // file that is missing means no htpasswd users).
  std::vector<std::string> warnings;
};

[[nodiscard]] FileProblems check_files(const Config& config);

}  // namespace berth::config
