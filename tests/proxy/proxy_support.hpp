// What the proxy black-box tests need besides a berth: an upstream Distribution registry
// (Debian's docker-registry) with htpasswd auth that the test starts, kills and restarts, and a
// count of the requests it served, read from its access log.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "berth_process.hpp"
#include "registry_client.hpp"

namespace berth::testing {

inline constexpr const char* kUpstreamUser = "upstream";
inline constexpr const char* kUpstreamPassword = "upstream-secret";

// "Basic base64(user:password)".
std::string basic_header(const std::string& user, const std::string& password);

class DistributionProcess {
 public:
  // Starts docker-registry on 127.0.0.1 with htpasswd auth (kUpstreamUser) and waits until it
  // answers. It listens on a port the kernel picks (port 0), read from its log, so that tests
  // running at once never race for one.
  DistributionProcess();
  ~DistributionProcess();

  unsigned short port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // SIGKILL, as a crash.
  void kill();
  // Starts it again on the same port and storage. Throws if the port was taken meanwhile (by
  // a process that bound port 0 in the moment it was free), rather than let the test talk to
  // another server.
  void start();
  // Requests served so far whose request line is exactly "METHOD PATH" (from the access log),
  // and, when `status` is given, that were answered with it.
  int count(const std::string& method, const std::string& path,
            const std::string& status = "") const;
  std::string log() const;

 private:
  void write_config() const;

  TempDir dir_;
  // 0 until the first start has picked one.
  unsigned short port_ = 0;
  pid_t pid_ = -1;
};

// Writes a berth config file with one proxy project and returns its path.
std::filesystem::path write_proxy_config(const std::filesystem::path& dir,
                                         const std::string& project, const std::string& upstream,
                                         const std::string& extra_proxy_keys = "",
                                         const std::string& user = kUpstreamUser,
                                         const std::string& password = kUpstreamPassword);

// Pushes an image (a config and `layers` random layers) to the upstream with its credentials.
PushedImage push_upstream(DistributionProcess& upstream, const std::string& repo,
                          const std::string& tag, std::size_t layers = 1,
                          std::size_t layer_size = 64 * 1024);

}  // namespace berth::testing
