// The tables of the S3 shape (s3_shape.hpp): the three deployments side by side, the issue's
// targets for Berth ×1 and ×3, where the CPU went in every round, and the garbage collection.
#pragma once

#include <string>
#include <vector>

#include "driver/cpu_watch.hpp"
#include "driver/report.hpp"

namespace berth::bench {

// One deployment's figures in one scenario, over its rounds.
struct S3Figures {
  Figures figures;
  CpuSample cpu;  // every group's CPU during this deployment's rounds, summed
};

struct S3ScenarioFigures {
  const Scenario* scenario = nullptr;
  std::vector<S3Figures> per = {};  // Berth ×1, Berth ×3, Distribution
  std::string load_before = {};
  std::string load_after = {};
};

struct GcFigures {
  std::string who;
  CpuSample cpu = {};   // wall time and every group's CPU while the collection ran
  double tool_cpu = 0;  // the collecting process itself (berth gc, docker-registry)
  bool ok = false;
  std::string summary = {};  // the tool's last line
  std::string load_before = {};
  std::string load_after = {};
};

struct S3Report {
  std::string scale;
  int rounds = 0;
  std::string started = {};
  std::string load_before = {};
  std::string load_after = {};
  std::vector<std::string> groups = {};
  std::vector<S3ScenarioFigures> scenarios = {};
  std::uint64_t gc_images = 0;
  std::vector<GcFigures> gc = {};
};

inline const char* const kDeploymentNames[] = {"Berth ×1", "Berth ×3", "Distribution"};

// One line per scenario as it finishes.
std::string s3_scenario_line(const S3ScenarioFigures& figures);
std::string s3_report_text(const S3Report& report, const std::vector<std::string>& groups);

}  // namespace berth::bench
