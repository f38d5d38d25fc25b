// Formatting of figures and the Markdown tables.
#include "driver/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>

namespace berth::bench {
std::string format(const char* pattern, ...) {
  char text[256];
  va_list args;
  va_start(args, pattern);
  std::vsnprintf(text, sizeof text, pattern, args);
  va_end(args);
  return text;
}

std::string rate_text(double value, Rate kind) {
  switch (kind) {
    case Rate::kBytes:
      return format(value < 10 ? "%.2f MB/s" : "%.0f MB/s", value);
    case Rate::kOperations:
      return format(value < 10 ? "%.2f ops/s" : "%.0f ops/s", value);
    case Rate::kRequests:
      return format(value < 10 ? "%.2f req/s" : "%.0f req/s", value);
  }
  return "";
}

std::string cpu_text(double value, Rate kind) {
  if (!std::isfinite(value)) {
    return "–";
  }
  switch (kind) {
    case Rate::kBytes:
      return format("%.3f s/GB", value);
    case Rate::kOperations:
      return format("%.2f ms/op", value * 1e3);
    case Rate::kRequests:
      // A bcrypt check per request (the Basic scenarios) is a quarter of a second.
      return value >= 0.01 ? format("%.1f ms/req", value * 1e3)
                           : format("%.1f µs/req", value * 1e6);
  }
  return "";
}

const char* cpu_label(Rate kind) {
  switch (kind) {
    case Rate::kBytes:
      return "server CPU per GB";
    case Rate::kOperations:
      return "server CPU per operation";
    case Rate::kRequests:
      return "server CPU per request";
  }
  return "";
}

std::string duration_text(std::chrono::nanoseconds value) {
  const double ns = static_cast<double>(value.count());
  if (ns < 1e6) {
    return format("%.0f µs", ns / 1e3);
  }
  if (ns < 1e9) {
    return format("%.2f ms", ns / 1e6);
  }
  return format("%.2f s", ns / 1e9);
}

std::string mib_text(std::uint64_t kib) {
  return format("%.1f MiB", static_cast<double>(kib) / 1024);
}

std::string ratio_text(double berth, double distribution) {
  if (distribution <= 0 || !std::isfinite(berth / distribution)) {
    return "–";
  }
  const double r = berth / distribution;
  return format(r < 0.1 ? "%.3f×" : "%.2f×", r);
}

namespace {

double percent_of_core(const Figures& f) {
  return f.load.seconds > 0 ? 100 * f.load.client_cpu_seconds / f.load.seconds : 0;
}

// "–" for a server that did not run the scenario (Distribution in the Berth-alone ones).
std::string if_run(const Figures& f, const std::string& text) {
  return f.rounds > 0 ? text : std::string("–");
}

std::string verdict(const TargetOutcome& outcome) {
  if (!outcome.known) {
    return outcome.target + ": not measured";
  }
  return outcome.target + " → " + outcome.figure + ": " + (outcome.met ? "met" : "**missed**");
}

}  // namespace

void Figures::add_round(const WorkloadResult& round, double cpu, std::uint64_t start_kib,
                        std::uint64_t peak_kib) {
  load.merge(round);
  server_cpu_seconds += cpu;
  start_rss_kib = std::max(start_rss_kib, start_kib);
  peak_rss_kib = std::max(peak_rss_kib, peak_kib);
  ++rounds;
}

double Figures::rate(Rate kind) const {
  if (load.seconds <= 0) {
    return 0;
  }
  switch (kind) {
    case Rate::kBytes:
      return static_cast<double>(load.bytes_up + load.bytes_down) / load.seconds / 1e6;
    case Rate::kOperations:
      return static_cast<double>(load.operations) / load.seconds;
    case Rate::kRequests:
      return static_cast<double>(load.requests) / load.seconds;
  }
  return 0;
}

double Figures::cpu_per_unit(Rate kind) const {
  double units = 0;
  switch (kind) {
    case Rate::kBytes:
      units = static_cast<double>(load.bytes_up + load.bytes_down) / 1e9;
      break;
    case Rate::kOperations:
      units = static_cast<double>(load.operations);
      break;
    case Rate::kRequests:
      units = static_cast<double>(load.requests);
      break;
  }
  return units > 0 ? server_cpu_seconds / units : NAN;
}

std::vector<TargetOutcome> evaluate_targets(const ScenarioFigures& figures,
                                            const MachineLimits& limits,
                                            const std::vector<ScenarioFigures>& earlier) {
  std::vector<TargetOutcome> out;
  const auto& s = *figures.scenario;
  const auto& b = figures.berth;
  const auto& d = figures.distribution;
  const bool clean = b.rounds > 0 && d.rounds > 0 && b.load.errors == 0 && d.load.errors == 0;
  for (const auto& target : s.targets) {
    TargetOutcome o{.scenario = s.id, .target = target.text};
    switch (target.kind) {
      case Target::Kind::kRateRatioAtLeast: {
        const double r = b.rate(s.rate) / d.rate(s.rate);
        o.figure = format("%.2f×", r);
        o.met = r >= target.value;
        o.known = clean && std::isfinite(r);
        break;
      }
      case Target::Kind::kCpuRatioAtMost: {
        const double r = b.cpu_per_unit(s.rate) / d.cpu_per_unit(s.rate);
        o.figure = format("%.3f× (1/%.1f)", r, 1 / r);
        o.met = r <= target.value;
        o.known = clean && std::isfinite(r);
        break;
      }
      case Target::Kind::kP99AtMostMs: {
        const auto p99 = b.load.latency.quantile(0.99);
        o.figure = duration_text(p99);
        o.met = p99 <= std::chrono::microseconds(static_cast<long>(target.value * 1000));
        o.known = b.rounds > 0 && b.load.errors == 0;
        break;
      }
      case Target::Kind::kPeakRssAtMostMiB: {
        o.figure = mib_text(b.peak_rss_kib);
        o.met = static_cast<double>(b.peak_rss_kib) <= target.value * 1024;
        o.known = b.rounds > 0;
        break;
      }
      case Target::Kind::kRateAtLeast: {
        o.figure = rate_text(b.rate(s.rate), s.rate);
        o.met = b.rate(s.rate) >= target.value;
        o.known = b.rounds > 0 && b.load.errors == 0;
        break;
      }
      case Target::Kind::kRateVsScenarioAtLeast: {
        const auto other =
            std::find_if(earlier.begin(), earlier.end(),
                         [&](const ScenarioFigures& f) { return f.scenario->id == target.limit; });
        if (other == earlier.end()) {
          o.known = false;
          break;
        }
        const auto& base = other->berth;
        const double r = b.rate(s.rate) / base.rate(s.rate);
        o.figure = format("%.2f× (%s of %s)", r, rate_text(b.rate(s.rate), s.rate).c_str(),
                          rate_text(base.rate(s.rate), s.rate).c_str());
        o.met = r >= target.value;
        o.known = b.rounds > 0 && b.load.errors == 0 && base.load.errors == 0 && std::isfinite(r);
        break;
      }
      case Target::Kind::kRateVsLimitAtLeast: {
        const auto& limit = target.limit == "disk" ? limits.disk_mb_s : limits.nginx_mb_s;
        if (!limit) {
          o.known = false;
          break;
        }
        const double r = b.rate(s.rate) / *limit;
        o.figure = format("%.2f× (%s of %s)", r, rate_text(b.rate(s.rate), s.rate).c_str(),
                          rate_text(*limit, Rate::kBytes).c_str());
        o.met = r >= target.value;
        o.known = b.rounds > 0 && b.load.errors == 0;
        break;
      }
    }
    out.push_back(std::move(o));
  }
  return out;
}

std::string scenario_table(const ScenarioFigures& figures, const MachineLimits& limits,
                           const std::vector<ScenarioFigures>& earlier) {
  const auto& s = *figures.scenario;
  const auto& b = figures.berth;
  const auto& d = figures.distribution;
  const auto outcomes = evaluate_targets(figures, limits, earlier);
  auto targets_for = [&](std::initializer_list<Target::Kind> kinds) {
    std::string text;
    for (std::size_t i = 0; i < s.targets.size(); ++i) {
      for (auto kind : kinds) {
        if (s.targets[i].kind == kind) {
          text += (text.empty() ? "" : "; ") + verdict(outcomes[i]);
        }
      }
    }
    return text;
  };
  std::string out;
  out += "#### " + s.id + ": " + s.title + "\n\n";
  if (s.berth_only.empty()) {
    out += format("%d rounds per server, interleaved; per round: ", b.rounds);
  } else {
    out += format("Berth alone (%s), %d rounds; per round: ", s.berth_only.c_str(), b.rounds);
  }
  if (s.spec.operations > 0) {
    out += std::to_string(s.spec.operations) + " × " + s.unit;
  } else {
    out += format("%.1f s of %s", s.spec.duration.count() / 1e3, s.unit.c_str());
  }
  out += "\n\n";
  out += "| figure | Berth | Distribution | Berth/Distribution | target |\n";
  out += "| --- | --- | --- | --- | --- |\n";
  auto row = [&](const std::string& name, const std::string& bv, const std::string& dv,
                 const std::string& ratio, const std::string& target) {
    out += "| " + name + " | " + bv + " | " + dv + " | " + ratio + " | " + target + " |\n";
  };
  row("throughput", rate_text(b.rate(s.rate), s.rate), if_run(d, rate_text(d.rate(s.rate), s.rate)),
      ratio_text(b.rate(s.rate), d.rate(s.rate)),
      targets_for({Target::Kind::kRateRatioAtLeast, Target::Kind::kRateVsLimitAtLeast,
                   Target::Kind::kRateAtLeast, Target::Kind::kRateVsScenarioAtLeast}));
  if (s.rate != Rate::kBytes) {
    row("data", rate_text(b.rate(Rate::kBytes), Rate::kBytes),
        if_run(d, rate_text(d.rate(Rate::kBytes), Rate::kBytes)),
        ratio_text(b.rate(Rate::kBytes), d.rate(Rate::kBytes)), "");
  }
  auto ops = [&](const Figures& f) {
    auto text = format("%llu %s in %.2f s (%llu requests)",
                       static_cast<unsigned long long>(f.load.operations), s.unit.c_str(),
                       f.load.seconds, static_cast<unsigned long long>(f.load.requests));
    if (f.load.cut_off > 0) {
      text += format("; %llu still running, cut off %.0f s after the end",
                     static_cast<unsigned long long>(f.load.cut_off), s.spec.cutoff.count() / 1e3);
    }
    return text;
  };
  row("operations", ops(b), if_run(d, ops(d)), "", "");
  for (const double q : {0.5, 0.99}) {
    const auto bq = b.load.latency.quantile(q);
    const auto dq = d.load.latency.quantile(q);
    row(format("latency p%.0f per %s", q * 100, s.unit.c_str()), duration_text(bq),
        if_run(d, duration_text(dq)),
        ratio_text(static_cast<double>(bq.count()), static_cast<double>(dq.count())),
        q > 0.5 ? targets_for({Target::Kind::kP99AtMostMs}) : "");
  }
  row(cpu_label(s.rate), cpu_text(b.cpu_per_unit(s.rate), s.rate),
      if_run(d, cpu_text(d.cpu_per_unit(s.rate), s.rate)),
      ratio_text(b.cpu_per_unit(s.rate), d.cpu_per_unit(s.rate)),
      targets_for({Target::Kind::kCpuRatioAtMost}));
  row("server CPU seconds", format("%.2f", b.server_cpu_seconds),
      if_run(d, format("%.2f", d.server_cpu_seconds)), "", "");
  row("peak RSS (VmHWM)", mib_text(b.peak_rss_kib), if_run(d, mib_text(d.peak_rss_kib)),
      ratio_text(static_cast<double>(b.peak_rss_kib), static_cast<double>(d.peak_rss_kib)),
      targets_for({Target::Kind::kPeakRssAtMostMiB}));
  row("RSS at the start of a round", mib_text(b.start_rss_kib),
      if_run(d, mib_text(d.start_rss_kib)), "", "");
  row("errors", std::to_string(b.load.errors), if_run(d, std::to_string(d.load.errors)), "", "");
  // A loadgen thread near 100 % of its core may be what limits the rate.
  auto client = [&](const Figures& f) {
    const double percent = percent_of_core(f);
    const double threads = static_cast<double>(std::min(s.spec.threads, s.spec.connections));
    return format("%.0f %%%s", percent, percent >= 85 * threads ? " (client-bound?)" : "");
  };
  row("loadgen CPU (% of one core)", client(b), if_run(d, client(d)), "", "");
  if (s.nginx_image && limits.nginx.rounds > 0) {
    out +=
        format("\nnginx in the same rounds: %s, p50 %s, CPU %s, loadgen CPU %.0f %% of one core\n",
               rate_text(limits.nginx.rate(Rate::kBytes), Rate::kBytes).c_str(),
               duration_text(limits.nginx.load.latency.quantile(0.5)).c_str(),
               cpu_text(limits.nginx.cpu_per_unit(Rate::kBytes), Rate::kBytes).c_str(),
               percent_of_core(limits.nginx));
  }
  if (s.with_disk_limit && limits.disk_mb_s) {
    out += "\ndd conv=fsync of the same size in the same rounds: " +
           rate_text(*limits.disk_mb_s, Rate::kBytes) + "\n";
  }
  for (const auto* f : {&b, &d}) {
    for (const auto& sample : f->load.error_samples) {
      out += "\n> " + std::string(f == &b ? "Berth" : "Distribution") + " error: " + sample;
    }
  }
  out += "\n";
  return out;
}

std::string limits_table(const MachineLimits& limits) {
  std::string out = "| machine limit | figure |\n| --- | --- |\n";
  auto opt = [](const std::optional<double>& v) {
    return v ? rate_text(*v, Rate::kBytes) : std::string("not measured");
  };
  out += "| SHA-256, one core (`openssl speed -evp sha256`, 16 KiB blocks) | " +
         opt(limits.sha256_mb_s) + " |\n";
  out += format(
             "| disk: %.0f MiB of random data, `dd bs=1M conv=fsync`, interleaved with the "
             "registries in push-1G | ",
             static_cast<double>(limits.big_size) / (1024 * 1024)) +
         opt(limits.disk_mb_s) + " |\n";
  out += format(
             "| nginx `sendfile on`, GET of the same %.0f MiB blob by this loadgen, "
             "interleaved with the registries in pull-blob-1G | ",
             static_cast<double>(limits.big_size) / (1024 * 1024)) +
         opt(limits.nginx_mb_s) + " |\n";
  if (limits.nginx.rounds > 0) {
    out += "| nginx CPU per GB | " +
           cpu_text(limits.nginx.cpu_per_unit(Rate::kBytes), Rate::kBytes) + " |\n";
    out += format("| loadgen CPU during the nginx pull | %.0f %% of one core |\n",
                  percent_of_core(limits.nginx));
  }
  if (!limits.notes.empty()) {
    out += "\n" + limits.notes + "\n";
  }
  return out;
}

std::string memory_table(const MemoryFigures& m) {
  std::string out =
      "| resident memory (VmRSS) | Berth | Distribution | Berth/Distribution | target |\n";
  out += "| --- | --- | --- | --- | --- |\n";
  const bool met = static_cast<double>(m.berth_idle_kib) <= 8 * 1024;
  out += "| idle, after start | " + mib_text(m.berth_idle_kib) + " | " +
         mib_text(m.distribution_idle_kib) + " | " +
         ratio_text(static_cast<double>(m.berth_idle_kib),
                    static_cast<double>(m.distribution_idle_kib)) +
         " | ≤ 8 MB → " + mib_text(m.berth_idle_kib) + ": " + (met ? "met" : "**missed**") + " |\n";
  out += format("| with %zu idle keep-alive connections | ", m.connections) +
         mib_text(m.berth_connections_kib) + " | " + mib_text(m.distribution_connections_kib) +
         " | " +
         ratio_text(static_cast<double>(m.berth_connections_kib),
                    static_cast<double>(m.distribution_connections_kib)) +
         " | |\n";
  if (m.berth_after_kib > 0) {
    out += "| idle, after every scenario | " + mib_text(m.berth_after_kib) + " | " +
           mib_text(m.distribution_after_kib) + " | " +
           ratio_text(static_cast<double>(m.berth_after_kib),
                      static_cast<double>(m.distribution_after_kib)) +
           " | |\n";
  }
  return out;
}

std::string summary_table(const std::vector<ScenarioFigures>& all) {
  std::string out =
      "| scenario | Berth | Distribution | ratio | Berth CPU | Distribution CPU | CPU ratio | "
      "Berth p99 | Distribution p99 | Berth peak RSS | Distribution peak RSS | errors |\n";
  out += "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& f : all) {
    const auto& s = *f.scenario;
    const auto& b = f.berth;
    const auto& d = f.distribution;
    out += "| " + s.id + " | " + rate_text(b.rate(s.rate), s.rate) + " | " +
           if_run(d, rate_text(d.rate(s.rate), s.rate)) + " | " +
           ratio_text(b.rate(s.rate), d.rate(s.rate)) + " | " +
           cpu_text(b.cpu_per_unit(s.rate), s.rate) + " | " +
           if_run(d, cpu_text(d.cpu_per_unit(s.rate), s.rate)) + " | " +
           ratio_text(b.cpu_per_unit(s.rate), d.cpu_per_unit(s.rate)) + " | " +
           duration_text(b.load.latency.quantile(0.99)) + " | " +
           if_run(d, duration_text(d.load.latency.quantile(0.99))) + " | " +
           mib_text(b.peak_rss_kib) + " | " + if_run(d, mib_text(d.peak_rss_kib)) + " | " +
           std::to_string(b.load.errors + d.load.errors) + " |\n";
  }
  return out;
}

std::string targets_table(const std::vector<TargetOutcome>& outcomes) {
  std::string out = "| scenario | target | measured | verdict |\n| --- | --- | --- | --- |\n";
  for (const auto& o : outcomes) {
    out += "| " + o.scenario + " | " + o.target + " | " + (o.known ? o.figure : "–") + " | " +
           (!o.known ? "not measured"
            : o.met  ? "met"
                     : "**missed**") +
           " |\n";
  }
  return out;
}

}  // namespace berth::bench
