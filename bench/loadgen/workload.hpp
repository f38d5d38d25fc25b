// Runs one operation many times over many keep-alive connections and measures it.
//
// `connections` coroutines, spread over `threads` threads (one io_context each), first open
// their connections and run `prepare` once on each, if given (not timed: signing in), then take
// operation numbers from one shared counter until `operations` are done or `duration` has passed,
// whichever is set (both: whichever comes first). Each operation's latency goes into the worker's
// histogram; the totals are summed when all have finished. The load generator's own CPU time
// (getrusage of this process) is measured over the timed part, so a report can show whether the
// client was the bottleneck.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "loadgen/histogram.hpp"
#include "loadgen/registry_client.hpp"

namespace berth::bench {

struct WorkloadSpec {
  std::size_t connections = 1;
  std::size_t threads = 1;
  // 0: no limit by count.
  std::uint64_t operations = 0;
  // 0: no limit by time.
  std::chrono::milliseconds duration{0};
  // With a duration: operations still running this long after it are cut off (their
  // connections closed; counted in WorkloadResult::cut_off, not as operations or errors). 0:
  // every operation started runs to its end.
  std::chrono::milliseconds cutoff{0};
  // Per request.
  std::chrono::seconds timeout{300};
  Verify verify = Verify::kSha256;
};

// Operation number `index` (0, 1, 2, ... across all workers), run by worker `worker`.
using Operation = std::function<asio::awaitable<OpResult>(RegistryClient&, std::uint64_t index,
                                                          std::size_t worker)>;

struct WorkloadResult {
  std::uint64_t operations = 0;
  std::uint64_t errors = 0;
  std::uint64_t cut_off = 0;
  std::uint64_t requests = 0;
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
  double seconds = 0;
  double client_cpu_seconds = 0;
  Histogram latency;
  std::vector<std::string> error_samples;

  void merge(const WorkloadResult& other);
};

// `prepare` gets the worker's number as both index and worker; its failures count as errors.
// `before_timed` is called between the preparation and the timed part (to read the server's CPU
// and reset its peak memory there, so that signing in is not measured).
WorkloadResult run_workload(const asio::ip::tcp::endpoint& endpoint, const WorkloadSpec& spec,
                            const Operation& operation, const Operation& prepare = {},
                            const std::function<void()>& before_timed = {});

// This process's user + system CPU seconds so far.
double process_cpu_seconds();

}  // namespace berth::bench
