// What both ways of running the bench (the filesystem comparison in main.cpp and the S3 shape
// in s3_shape.cpp) need around the servers: progress lines, the load average, waiting until a
// server answers, and choosing scenarios.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <string>

#include "driver/server_under_test.hpp"
#include "loadgen/registry_client.hpp"

namespace berth::bench {

// The options both `berth-bench run` and `berth-bench s3` take.
struct CommonOptions {
  std::string berth;
  std::string distribution = "docker-registry";
  std::string nginx = "nginx";
  std::string scale = "small";
  int rounds = 0;  // 0: the scale's
  std::string work;
  std::string only;
  std::size_t client_threads = 1;
  std::string verify = "sha256";
  std::string report;
};

std::string now_text();
// /proc/loadavg's first three fields.
std::string load_average();
// A line on stderr, stamped with the time.
void progress(const std::string& line);
boost::asio::ip::tcp::endpoint loopback(unsigned short port);
// The last 2,000 characters of a log file.
std::string tail_of(const std::filesystem::path& log);
// Blocks until GET `target` answers `status` (401: a registry with access control on), or throws
// after 30 s or if the process exits.
void wait_until_ready(ServerUnderTest& server, const std::string& target, unsigned status = 200);
// Waits up to 30 s for `port_file` (berth serve --port-file) and returns the port; throws if
// the process exits first.
unsigned short wait_for_port_file(const ServerProcess& process,
                                  const std::filesystem::path& port_file);
// Whether scenario `id` is one of --only's comma-separated ids or id prefixes (all if empty).
bool selected(const std::string& only, const std::string& id);
void raise_file_limit();
Verify verify_named(const std::string& name);

}  // namespace berth::bench
