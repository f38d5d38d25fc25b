// Turns measured figures into the bench's Markdown tables: one per scenario (Berth,
// Distribution, their ratio, and the target with met / missed), the machine limits,
// memory, and a summary of every target. The same text goes to the terminal and the report
// file, so BENCHMARKS.md can quote a run as printed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "driver/scenarios.hpp"
#include "loadgen/workload.hpp"

namespace berth::bench {

// One server's figures in one scenario, summed over its rounds.
struct Figures {
  WorkloadResult load;
  double server_cpu_seconds = 0;
  std::uint64_t peak_rss_kib = 0;
  // The largest RSS at the start of a round: VmHWM cannot be reset below it, so a peak near it
  // is memory kept from earlier scenarios rather than taken by this one.
  std::uint64_t start_rss_kib = 0;
  int rounds = 0;

  void add_round(const WorkloadResult& round, double cpu, std::uint64_t start_kib,
                 std::uint64_t peak_kib);
  // In the scenario's unit: MB/s, operations/s or requests/s.
  double rate(Rate kind) const;
  // Server CPU seconds per GB, per operation or per request.
  double cpu_per_unit(Rate kind) const;
};

struct ScenarioFigures {
  const Scenario* scenario = nullptr;
  Figures berth = {};
  Figures distribution = {};
};

struct MachineLimits {
  std::optional<double> sha256_mb_s;  // openssl speed -evp sha256, 16 KiB blocks, one core
  std::optional<double> disk_mb_s;    // dd conv=fsync of the big blob
  std::optional<double> nginx_mb_s;   // nginx sendfile of the big blob, read by this loadgen
  Figures nginx;
  std::uint64_t big_size = 0;
  std::filesystem::path big_file;  // the big blob as a file: nginx serves it, dd copies it
  std::string notes;
};

struct MemoryFigures {
  std::size_t connections = 0;
  std::uint64_t berth_idle_kib = 0;
  std::uint64_t distribution_idle_kib = 0;
  std::uint64_t berth_connections_kib = 0;
  std::uint64_t distribution_connections_kib = 0;
  std::uint64_t berth_after_kib = 0;
  std::uint64_t distribution_after_kib = 0;
};

struct TargetOutcome {
  std::string scenario;
  std::string target;
  std::string figure = {};  // what was measured, e.g. "21.3×"
  bool met = false;
  bool known = true;  // false when a figure needed is missing (limit skipped, errors)
};

// Text of figures as the tables print them.
std::string format(const char* pattern, ...) __attribute__((format(printf, 1, 2)));
std::string rate_text(double value, Rate kind);
// Server CPU seconds per unit (GB, operation, request).
std::string cpu_text(double value, Rate kind);
std::string duration_text(std::chrono::nanoseconds value);
std::string mib_text(std::uint64_t kib);
// a / b as "1.23×", or "–" when it has no meaning.
std::string ratio_text(double a, double b);

// `earlier`: the scenarios measured before, which kRateVsScenarioAtLeast refers to.
std::vector<TargetOutcome> evaluate_targets(const ScenarioFigures& figures,
                                            const MachineLimits& limits,
                                            const std::vector<ScenarioFigures>& earlier = {});

std::string scenario_table(const ScenarioFigures& figures, const MachineLimits& limits,
                           const std::vector<ScenarioFigures>& earlier = {});
std::string limits_table(const MachineLimits& limits);
std::string memory_table(const MemoryFigures& memory);
std::string summary_table(const std::vector<ScenarioFigures>& all);
std::string targets_table(const std::vector<TargetOutcome>& outcomes);

}  // namespace berth::bench
