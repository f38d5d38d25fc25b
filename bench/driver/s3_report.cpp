// Markdown of the S3 shape (s3_report.hpp).
#include "driver/s3_report.hpp"

#include <unistd.h>

namespace berth::bench {
namespace {

const Figures& of(const S3ScenarioFigures& s, std::size_t i) { return s.per.at(i).figures; }

std::string rate_of(const S3ScenarioFigures& s, std::size_t i) {
  return rate_text(of(s, i).rate(s.scenario->rate), s.scenario->rate);
}

std::string ratio_of(const S3ScenarioFigures& s, std::size_t a, std::size_t b) {
  const auto kind = s.scenario->rate;
  return ratio_text(of(s, a).rate(kind), of(s, b).rate(kind));
}

std::string p99_of(const S3ScenarioFigures& s, std::size_t i) {
  return duration_text(of(s, i).load.latency.quantile(0.99));
}

double cores() { return static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN)); }

std::string summary(const S3Report& report) {
  std::string out =
      "| scenario | Berth ×1 | Berth ×3 | Distribution | ×1 / Distribution | ×3 / Distribution "
      "| ×3 / ×1 | p99 ×1 | p99 ×3 | p99 Distribution | registry CPU ×1 | registry CPU ×3 | "
      "registry CPU Distribution | errors | load before → after |\n"
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
      "|\n";
  for (const auto& s : report.scenarios) {
    const auto kind = s.scenario->rate;
    std::uint64_t errors = 0;
    for (const auto& p : s.per) {
      errors += p.figures.load.errors;
    }
    out += "| " + s.scenario->id + " | " + rate_of(s, 0) + " | " + rate_of(s, 1) + " | " +
           rate_of(s, 2) + " | " + ratio_of(s, 0, 2) + " | " + ratio_of(s, 1, 2) + " | " +
           ratio_of(s, 1, 0) + " | " + p99_of(s, 0) + " | " + p99_of(s, 1) + " | " + p99_of(s, 2) +
           " | " + cpu_text(of(s, 0).cpu_per_unit(kind), kind) + " | " +
           cpu_text(of(s, 1).cpu_per_unit(kind), kind) + " | " +
           cpu_text(of(s, 2).cpu_per_unit(kind), kind) + " | " + std::to_string(errors) + " | " +
           s.load_before + " → " + s.load_after + " |\n";
  }
  return out;
}

std::string targets(const S3Report& report) {
  std::string out =
      "| scenario | target | Berth ×1 | verdict ×1 | Berth ×3 | verdict ×3 |\n"
      "| --- | --- | --- | --- | --- | --- |\n";
  auto verdict = [](const TargetOutcome& o) {
    return !o.known ? std::string("not measured") : o.met ? "met" : "**missed**";
  };
  for (const auto& s : report.scenarios) {
    const auto one =
        evaluate_targets({.scenario = s.scenario, .berth = of(s, 0), .distribution = of(s, 2)}, {});
    const auto three =
        evaluate_targets({.scenario = s.scenario, .berth = of(s, 1), .distribution = of(s, 2)}, {});
    for (std::size_t i = 0; i < one.size(); ++i) {
      out += "| " + s.scenario->id + " | " + one[i].target + " | " + one[i].figure + " | " +
             verdict(one[i]) + " | " + three[i].figure + " | " + verdict(three[i]) + " |\n";
    }
  }
  return out;
}

// CPU seconds of each group in the rounds of one deployment, and what is left of the machine.
std::string cpu_row(const std::string& head, const CpuSample& cpu,
                    const std::vector<std::string>& groups) {
  double named = 0;
  std::string out = "| " + head +
                    format(" | %.1f | %.0f %%", cpu.wall,
                           cpu.wall > 0 ? 100 * cpu.machine / (cpu.wall * cores()) : 0.0);
  for (const auto& g : groups) {
    const auto it = cpu.groups.find(g);
    const double v = it == cpu.groups.end() ? 0 : it->second;
    named += v;
    out += format(" | %.2f", v);
  }
  return out + format(" | %.2f |\n", cpu.machine - named);
}

std::string cpu_header(const std::string& first, const std::vector<std::string>& groups) {
  std::string out =
      "| " + first + " | wall s | machine busy (of " + format("%.0f", cores()) + " cores)";
  std::string rule = "| --- | --- | --- |";
  for (const auto& g : groups) {
    out += " | " + g + " CPU s";
    rule += " --- |";
  }
  return out + " | rest of the machine CPU s |\n" + rule + " --- |\n";
}

std::string cpu_table(const S3Report& report, const std::vector<std::string>& groups) {
  std::string out = cpu_header("scenario, deployment", groups);
  for (const auto& s : report.scenarios) {
    for (std::size_t i = 0; i < s.per.size(); ++i) {
      out += cpu_row(s.scenario->id + ", " + kDeploymentNames[i], s.per[i].cpu, groups);
    }
  }
  return out;
}

std::string gc_table(const S3Report& report, const std::vector<std::string>& groups) {
  std::string out =
      std::to_string(report.gc_images) +
      " images (a 4 KiB layer, a config, a manifest) pushed to gc/images (on fresh buckets when "
      "run alone, --only gc), the "
      "manifests of every other one deleted through the API, then one collection, timed from "
      "start to exit. Berth: `berth gc --grace 0` with the server's configuration (online: the "
      "server keeps running); Distribution: `docker-registry garbage-collect` on its "
      "configuration (offline: its server idle meanwhile).\n\n";
  out +=
      "| collection | wall time | CPU of the collecting process | time / Berth's | what it said | "
      "load before → after |\n| --- | --- | --- | --- | --- | --- |\n";
  for (const auto& g : report.gc) {
    out +=
        "| " + g.who + format(" | %.2f s | %.2f s | ", g.cpu.wall, g.tool_cpu) +
        (g.who == report.gc.front().who ? "" : ratio_text(g.cpu.wall, report.gc.front().cpu.wall)) +
        " | " + (g.ok ? "" : "**failed**: ") + g.summary + " | " + g.load_before + " → " +
        g.load_after + " |\n";
  }
  out += "\n" + cpu_header("collection", groups);
  for (const auto& g : report.gc) {
    out += cpu_row(g.who, g.cpu, groups);
  }
  return out;
}

}  // namespace

std::string s3_scenario_line(const S3ScenarioFigures& s) {
  return s.scenario->id + ": Berth ×1 " + rate_of(s, 0) + ", Berth ×3 " + rate_of(s, 1) +
         ", Distribution " + rate_of(s, 2) + " (×1/D " + ratio_of(s, 0, 2) + ", ×3/D " +
         ratio_of(s, 1, 2) + "); load " + s.load_before + " → " + s.load_after + "\n";
}

std::string s3_report_text(const S3Report& report, const std::vector<std::string>& groups) {
  std::string out = "## Berth on S3 + PostgreSQL against Distribution on S3: scale " +
                    report.scale + ", " + report.started + "\n\n";
  out += format(
      "%d rounds per deployment, interleaved (×1, ×3, Distribution, then the reverse). "
      "Load average before: %s; after: %s.\n\n",
      report.rounds, report.load_before.c_str(), report.load_after.c_str());
  if (!report.scenarios.empty()) {
    out += "### Scenarios\n\n" + summary(report) + "\n";
    out += "### Targets\n\n" + targets(report) + "\n";
    out += "### Where the CPU went (all rounds of each deployment)\n\n" +
           cpu_table(report, groups) + "\n";
  }
  if (!report.gc.empty()) {
    out += "### Garbage collection\n\n" + gc_table(report, groups) + "\n";
  }
  return out;
}

}  // namespace berth::bench
