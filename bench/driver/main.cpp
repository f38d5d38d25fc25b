// berth-bench: Berth against CNCF Distribution, side by side (issue 3). See BENCHMARKS.md.
//
//   berth-bench run --berth build/bench/berth --scale full
//       starts nginx (for the limits), Berth and Distribution on loopback, each with its own
//       data directory under --work, and runs every scenario against both, interleaved
//       (Berth, Distribution, Distribution, Berth, ...), printing a table per scenario.
//   berth-bench load --target 127.0.0.1:5000 --scenario manifest-get --scale small
//       one scenario against a registry that is already running (for perf and callgrind).
//   berth-bench list
//       the scenario ids.
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <thread>

#include "driver/report.hpp"
#include "driver/run_support.hpp"
#include "driver/s3_shape.hpp"
#include "driver/scenarios.hpp"
#include "driver/server_under_test.hpp"
#include "driver/servers.hpp"

namespace berth::bench {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct RunOptions : CommonOptions {
  RunOptions() { work = "build/bench/work"; }
  bool skip_limits = false;
  bool access_log = false;
};

ServerSettings server_settings(const RunOptions& options) {
  return {.berth = options.berth,
          .distribution = options.distribution,
          .access_log = options.access_log};
}

ServerUnderTest start_nginx(const RunOptions& options, const fs::path& work) {
  ServerUnderTest server{.name = "nginx", .data = work / "nginx"};
  const auto port = pick_free_port();
  server.endpoint = loopback(port);
  fs::create_directories(server.data / "temp");
  const auto config = server.data / "nginx.conf";
  const auto d = server.data.string();
  std::ofstream(config) << "daemon off;\nmaster_process off;\nworker_processes 1;\n"
                        << "pid " << d << "/nginx.pid;\nerror_log " << d << "/error.log warn;\n"
                        << "events { worker_connections 1024; }\n"
                        << "http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n"
                        << "  default_type application/octet-stream;\n"
                        << "  client_body_temp_path " << d << "/temp/body;\n"
                        << "  proxy_temp_path " << d << "/temp/proxy;\n"
                        << "  fastcgi_temp_path " << d << "/temp/fastcgi;\n"
                        << "  uwsgi_temp_path " << d << "/temp/uwsgi;\n"
                        << "  scgi_temp_path " << d << "/temp/scgi;\n"
                        << "  server {\n    listen 127.0.0.1:" << port << ";\n"
                        << "    root " << d << "/www;\n"
                        << "    location = /ready { return 200 \"ready\\n\"; }\n  }\n}\n";
  server.process = std::make_unique<ServerProcess>(
      "nginx",
      std::vector<std::string>{options.nginx, "-p", d, "-e", d + "/error.log", "-c",
                               config.string()},
      std::map<std::string, std::string>{}, work / "nginx.log");
  wait_until_ready(server, "/ready");
  return server;
}

// One measured round of a scenario on one server.
void measure_round(ServerUnderTest& server, const Scenario& scenario, Figures& figures) {
  ::sync();  // no dirty pages left over from the previous round to flush during this one
  ProcessStats before;
  const auto load =
      run_workload(server.endpoint, scenario.spec, scenario.operation, scenario.prepare, [&] {
        server.process->reset_peak();
        before = server.process->stats();
      });
  const auto after = server.process->stats();
  if (!server.process->running()) {
    throw std::runtime_error(server.name + " died during " + scenario.id + "; its log:\n" +
                             tail_of(server.process->log()));
  }
  figures.add_round(load, after.cpu_seconds - before.cpu_seconds, before.rss_kib,
                    after.peak_rss_kib);
  char line[256];
  std::snprintf(
      line, sizeof line,
      "%s %s: %llu ops, %llu errors, %llu cut off in %.2f s; server CPU %.2f s, peak RSS %.1f "
      "MiB; loadgen CPU %.2f s",
      scenario.id.c_str(), server.name.c_str(), static_cast<unsigned long long>(load.operations),
      static_cast<unsigned long long>(load.errors), static_cast<unsigned long long>(load.cut_off),
      load.seconds, after.cpu_seconds - before.cpu_seconds, after.peak_rss_kib / 1024.0,
      load.client_cpu_seconds);
  progress(line);
}

// ---- machine limits

std::optional<double> measure_sha256() {
  const auto out =
      run_command({"openssl", "speed", "-evp", "sha256", "-bytes", "16384", "-seconds", "3"});
  // The last line: "sha256   1234567.89k" (thousands of bytes per second).
  std::smatch match;
  static const std::regex kLine(R"(sha256\s+([0-9.]+)k\s*$)");
  if (out.status == 0 && std::regex_search(out.output, match, kLine)) {
    return std::stod(match[1]) * 1000 / 1e6;
  }
  progress("openssl speed gave no figure: " + out.output);
  return std::nullopt;
}

// Writes a blob's bytes to `path`.
void write_blob(const fs::path& path, const Blob& blob) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(blob.head.data()),
            static_cast<std::streamsize>(blob.head.size()));
  out.write(reinterpret_cast<const char*>(blob.tail.data()),
            static_cast<std::streamsize>(blob.tail_size));
  if (!out) {
    throw std::runtime_error("cannot write " + path.string());
  }
}

// One fsync'd write of `size` bytes of `source` with dd: bytes and seconds.
std::optional<std::pair<double, double>> run_dd(const fs::path& source, const fs::path& work,
                                                std::uint64_t size) {
  ::sync();
  const auto target = work / "dd-test";
  const auto out = run_command({"dd", "if=" + source.string(), "of=" + target.string(), "bs=1M",
                                "count=" + std::to_string(size / kMiB), "conv=fsync"});
  fs::remove(target);
  // "1073741824 bytes (1.1 GB, 1.0 GiB) copied, 1.23456 s, 870 MB/s"
  std::smatch match;
  static const std::regex kLine(R"(([0-9]+) bytes .* copied, ([0-9.]+) s)");
  if (out.status == 0 && std::regex_search(out.output, match, kLine)) {
    progress("dd: " + match[0].str());
    return std::pair(std::stod(match[1]), std::stod(match[2]));
  }
  progress("dd gave no figure: " + out.output);
  return std::nullopt;
}

// SHA-256. The disk and nginx are measured inside the big blob push and pull scenarios,
// interleaved with the registries; this writes the big blob where nginx serves it, and dd
// copies that file.
MachineLimits measure_limits(const Scale& scale, const Scenario* big_pull, const fs::path& work) {
  MachineLimits limits;
  limits.big_size = scale.big_size;
  progress("limits: openssl speed -evp sha256");
  limits.sha256_mb_s = measure_sha256();
  if (big_pull == nullptr) {
    return limits;
  }
  const auto& image = *big_pull->nginx_image;
  const auto& blob = image.layers.at(0);
  const auto file = work / "nginx" / "www" / "v2" / image.repository / "blobs" / blob.digest;
  write_blob(file, blob);
  limits.big_file = file;
  return limits;
}

// ---- memory with idle connections

std::uint64_t rss_with_idle_connections(ServerUnderTest& server, std::size_t count) {
  asio::io_context io;
  std::vector<std::unique_ptr<Connection>> connections;
  std::size_t failures = 0;
  for (std::size_t i = 0; i < count; ++i) {
    connections.push_back(
        std::make_unique<Connection>(io, server.endpoint, nullptr, std::chrono::seconds(30)));
    asio::co_spawn(
        io,
        [&failures, &connection = *connections.back()]() -> asio::awaitable<void> {
          RegistryClient client(connection);
          if (!(co_await client.ping()).ok) {
            ++failures;
          }
        },
        asio::detached);
  }
  io.run();
  std::this_thread::sleep_for(1s);
  const auto rss = server.process->stats().rss_kib;
  if (failures > 0) {
    progress(server.name + ": " + std::to_string(failures) + " of " + std::to_string(count) +
             " idle connections failed");
  }
  connections.clear();
  std::this_thread::sleep_for(500ms);
  return rss;
}

int run(const RunOptions& options) {
  raise_file_limit();
  auto scale = scale_named(options.scale);
  if (options.rounds > 0) {
    scale.rounds = options.rounds;
  }
  const fs::path work = fs::absolute(options.work);
  for (const char* dir :
       {"berth-data", "distribution-data", "berth-auth-data", "distribution-auth-data", "nginx"}) {
    fs::remove_all(work / dir);
  }
  fs::create_directories(work);
  const auto space = fs::space(work);
  progress("scale " + scale.name + ", " + std::to_string(scale.rounds) + " rounds, work dir " +
           work.string() + " (" + std::to_string(space.available / kGiB) + " GiB free), load " +
           load_average());

  std::string report;
  auto emit = [&](const std::string& text) {
    std::cout << text << std::flush;
    report += text;
  };
  emit("## Berth vs CNCF Distribution: scale " + scale.name + ", " + now_text() + "\n\n");
  emit("Load average before: " + load_average() + "; pulled blobs verified by " +
       (options.verify == "bytes" ? "comparing every byte" : "SHA-256") + "; access logs " +
       (options.access_log ? "on" : "off") + "\n\n");

  progress("making " + std::to_string(scale.largest_blob() / kMiB) + " MiB of random data");
  const SharedData data(scale.largest_blob());
  const auto accounts = std::make_shared<Accounts>();
  const auto scenarios = make_scenarios(scale, data,
                                        {.client_threads = options.client_threads,
                                         .verify = verify_named(options.verify),
                                         .accounts = accounts});

  const Scenario* big_pull = nullptr;
  for (const auto& scenario : scenarios) {
    if (scenario.nginx_image) {
      big_pull = &scenario;
    }
  }
  MachineLimits limits;
  limits.big_size = scale.big_size;
  std::optional<ServerUnderTest> nginx;
  if (!options.skip_limits) {
    limits = measure_limits(scale, big_pull, work);
    if (big_pull != nullptr && selected(options.only, big_pull->id)) {
      nginx = start_nginx(options, work);
    }
  }

  const auto settings = server_settings(options);
  auto berth = start_berth(settings, work);
  auto distribution = start_distribution(settings, work);
  progress("Berth pid " + std::to_string(berth.process->pid()) + " on port " +
           std::to_string(berth.endpoint.port()) + "; Distribution pid " +
           std::to_string(distribution.process->pid()) + " on port " +
           std::to_string(distribution.endpoint.port()));
  // The pair with access control on, only when an auth-* scenario runs.
  std::optional<AuthenticatedPair> auth;
  if (std::any_of(scenarios.begin(), scenarios.end(), [&](const Scenario& s) {
        return s.authenticated && selected(options.only, s.id);
      })) {
    progress("starting Berth and Distribution with access control on (making bcrypt hashes)");
    auth = start_authenticated(settings, work, *accounts);
  }

  MemoryFigures memory;
  memory.connections = scale.idle_connections;
  std::this_thread::sleep_for(2s);
  memory.berth_idle_kib = berth.process->stats().rss_kib;
  memory.distribution_idle_kib = distribution.process->stats().rss_kib;
  memory.berth_connections_kib = rss_with_idle_connections(berth, scale.idle_connections);
  memory.distribution_connections_kib =
      rss_with_idle_connections(distribution, scale.idle_connections);

  std::vector<ScenarioFigures> all;
  std::vector<TargetOutcome> outcomes;
  bool any_errors = false;
  emit("### Scenarios\n\n");
  for (const auto& scenario : scenarios) {
    if (!selected(options.only, scenario.id)) {
      continue;
    }
    ScenarioFigures figures{.scenario = &scenario};
    auto& b = scenario.authenticated ? auth->berth : berth;
    auto* d = !scenario.berth_only.empty() ? nullptr
              : scenario.authenticated     ? &auth->distribution
                                           : &distribution;
    if (scenario.setup) {
      progress(scenario.id + ": setup");
      scenario.setup(b);
      if (d != nullptr) {
        scenario.setup(*d);
      }
    }
    auto distribution_round = [&] {
      if (d != nullptr) {
        measure_round(*d, scenario, figures.distribution);
      }
    };
    // A B B A ..., with nginx or dd as a third where they give the limit: A B N N B A ...
    const bool with_nginx = nginx && scenario.nginx_image;
    const bool with_dd = scenario.with_disk_limit && !limits.big_file.empty();
    double dd_bytes = 0;
    double dd_seconds = 0;
    auto dd_round = [&] {
      if (auto result = run_dd(limits.big_file, work, scale.big_size)) {
        dd_bytes += result->first;
        dd_seconds += result->second;
      }
    };
    for (int r = 0; r < scale.rounds; ++r) {
      if (r % 2 == 0) {
        measure_round(b, scenario, figures.berth);
        distribution_round();
        if (with_nginx) {
          measure_round(*nginx, scenario, limits.nginx);
        }
        if (with_dd) {
          dd_round();
        }
      } else {
        if (with_dd) {
          dd_round();
        }
        if (with_nginx) {
          measure_round(*nginx, scenario, limits.nginx);
        }
        distribution_round();
        measure_round(b, scenario, figures.berth);
      }
    }
    if (dd_seconds > 0) {
      limits.disk_mb_s = dd_bytes / dd_seconds / 1e6;
    }
    if (with_nginx) {
      if (limits.nginx.load.errors == 0) {
        limits.nginx_mb_s = limits.nginx.rate(Rate::kBytes);
      } else {
        limits.notes = "nginx errors: " + limits.nginx.load.error_samples.front();
      }
    }
    any_errors =
        any_errors || figures.berth.load.errors > 0 || figures.distribution.load.errors > 0;
    emit(scenario_table(figures, limits, all) + "\n");
    for (auto& o : evaluate_targets(figures, limits, all)) {
      outcomes.push_back(std::move(o));
    }
    all.push_back(std::move(figures));
  }

  std::this_thread::sleep_for(2s);
  memory.berth_after_kib = berth.process->stats().rss_kib;
  memory.distribution_after_kib = distribution.process->stats().rss_kib;
  if (nginx) {
    nginx->process->stop();
  }
  emit("### Machine limits\n\n" + limits_table(limits) + "\n");
  emit("### Memory\n\n" + memory_table(memory) + "\n");
  emit("### Summary\n\n" + summary_table(all) + "\n");
  emit("### Targets\n\n" + targets_table(outcomes) + "\n");
  emit("Load average after: " + load_average() + "\n");
  berth.process->stop();
  distribution.process->stop();
  if (auth) {
    auth->berth.process->stop();
    auth->distribution.process->stop();
  }
  if (!options.report.empty()) {
    std::ofstream(options.report) << report;
    progress("report written to " + options.report);
  }
  return any_errors ? 1 : 0;
}

// ---- load: one scenario against a running registry

struct LoadOptions {
  std::string target;
  std::string scenario;
  std::string scale = "small";
  bool setup = false;
  std::size_t client_threads = 1;
  double seconds = 0;
  std::string verify = "sha256";
  // NAME:PASSWORD of the auth-* scenarios' user and robot (the robot's password is its token).
  std::string user;
  std::string robot;
};

Login login_named(const std::string& text, const Login& otherwise) {
  const auto colon = text.find(':');
  if (text.empty() || colon == std::string::npos) {
    return otherwise;
  }
  return {.user = text.substr(0, colon), .password = text.substr(colon + 1)};
}

int load(const LoadOptions& options) {
  raise_file_limit();
  const auto& target = options.target;
  const auto& scenario_id = options.scenario;
  const auto seconds = options.seconds;
  const auto scale = scale_named(options.scale);
  const auto colon = target.rfind(':');
  if (colon == std::string::npos) {
    throw std::invalid_argument("--target must be host:port");
  }
  ServerUnderTest server{.name = target};
  server.endpoint = {asio::ip::make_address(target.substr(0, colon)),
                     static_cast<unsigned short>(std::stoi(target.substr(colon + 1)))};
  const SharedData data(scale.largest_blob());
  auto accounts = std::make_shared<Accounts>();
  accounts->user = login_named(options.user, accounts->user);
  accounts->robot = login_named(options.robot, accounts->robot);
  const auto scenarios = make_scenarios(scale, data,
                                        {.client_threads = options.client_threads,
                                         .verify = verify_named(options.verify),
                                         .accounts = accounts});
  const auto it = std::find_if(scenarios.begin(), scenarios.end(),
                               [&](const Scenario& s) { return s.id == scenario_id; });
  if (it == scenarios.end()) {
    throw std::invalid_argument("no scenario '" + scenario_id + "' (see berth-bench list)");
  }
  if (options.setup && it->setup) {
    it->setup(server);
  }
  auto spec = it->spec;
  if (seconds > 0) {
    spec.operations = 0;
    spec.duration = std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  }
  const auto result = run_workload(server.endpoint, spec, it->operation, it->prepare);
  Figures figures;
  figures.add_round(result, 0, 0, 0);
  std::printf(
      "%s: %llu ops, %llu requests, %llu errors, %llu cut off in %.2f s: %.1f ops/s, %.1f "
      "req/s, %.1f MB/s; p50 %.3f ms, p99 %.3f ms; loadgen CPU %.2f s (%.0f %% of one core)\n",
      it->id.c_str(), static_cast<unsigned long long>(result.operations),
      static_cast<unsigned long long>(result.requests),
      static_cast<unsigned long long>(result.errors),
      static_cast<unsigned long long>(result.cut_off), result.seconds,
      figures.rate(Rate::kOperations), figures.rate(Rate::kRequests), figures.rate(Rate::kBytes),
      result.latency.quantile(0.5).count() / 1e6, result.latency.quantile(0.99).count() / 1e6,
      result.client_cpu_seconds, 100 * result.client_cpu_seconds / result.seconds);
  for (const auto& sample : result.error_samples) {
    std::printf("error: %s\n", sample.c_str());
  }
  return result.errors > 0 ? 1 : 0;
}

}  // namespace
}  // namespace berth::bench

int main(int argc, char** argv) {
  using namespace berth::bench;
  CLI::App app{"berth-bench: Berth against CNCF Distribution (see BENCHMARKS.md)", "berth-bench"};
  app.require_subcommand(1);

  RunOptions run_options;
  auto* run_cmd = app.add_subcommand("run", "Run every scenario against Berth and Distribution");
  run_options.berth = BERTH_BENCH_DEFAULT_BERTH;
  run_cmd->add_option("--berth", run_options.berth,
                      "The berth binary (default: the one built with this)");
  run_cmd->add_option("--distribution", run_options.distribution, "The docker-registry binary");
  run_cmd->add_option("--nginx", run_options.nginx, "The nginx binary (for the limits)");
  run_cmd->add_option("--scale", run_options.scale, "tiny, small or full")
      ->check(CLI::IsMember({"tiny", "small", "full"}));
  run_cmd->add_option("--rounds", run_options.rounds,
                      "Rounds per server and scenario (default: the scale's, 2: A B B A)");
  run_cmd->add_option("--work", run_options.work, "Working directory (data dirs, logs)");
  run_cmd->add_option("--only", run_options.only,
                      "Comma-separated scenario ids or id prefixes to run");
  run_cmd->add_flag("--skip-limits", run_options.skip_limits,
                    "Skip the machine limits (openssl, dd, nginx)");
  run_cmd->add_flag("--access-log", run_options.access_log,
                    "Keep both servers' access logs on (default: off for both)");
  run_cmd->add_option("--client-threads", run_options.client_threads,
                      "Load generator threads for the many-connection scenarios");
  run_cmd->add_option("--report", run_options.report, "Also write the tables to this file");
  run_cmd
      ->add_option("--verify", run_options.verify,
                   "How pulled blobs are checked: sha256 (digest) or bytes (memcmp with what was "
                   "pushed; cheaper for the client)")
      ->check(CLI::IsMember({"sha256", "bytes"}));

  LoadOptions load_options;
  auto* load_cmd = app.add_subcommand("load", "Run one scenario against a running registry");
  load_cmd->add_option("--target", load_options.target, "host:port")->required();
  load_cmd->add_option("--scenario", load_options.scenario, "Scenario id (berth-bench list)")
      ->required();
  load_cmd->add_option("--scale", load_options.scale, "tiny, small or full")
      ->check(CLI::IsMember({"tiny", "small", "full"}));
  load_cmd->add_flag("--setup", load_options.setup,
                     "Run the scenario's setup first (push what it pulls)");
  load_cmd->add_option("--client-threads", load_options.client_threads, "Load generator threads");
  load_cmd->add_option("--seconds", load_options.seconds,
                       "Run for this long instead of the scale's count or time");
  load_cmd->add_option("--verify", load_options.verify, "sha256 or bytes")
      ->check(CLI::IsMember({"sha256", "bytes"}));
  load_cmd->add_option("--user", load_options.user,
                       "NAME:PASSWORD the auth-* scenarios sign in with (default bench:"
                       "bench-password-0, as berth-bench run makes it)");
  load_cmd->add_option("--robot", load_options.robot,
                       "NAME:TOKEN of the robot of auth-token-robot (robot$NAME:TOKEN)");

  S3ShapeOptions s3;
  s3.berth = BERTH_BENCH_DEFAULT_BERTH;
  auto* s3_cmd = app.add_subcommand(
      "s3",
      "The scale-out shape: Berth ×1 and ×3 on S3 + PostgreSQL against Distribution on S3 "
      "(bench/run.sh --shape s3 starts radosgw and PostgreSQL and runs this)");
  s3_cmd->add_option("--berth", s3.berth, "The berth binary (default: the one built with this)");
  s3_cmd->add_option("--distribution", s3.distribution, "The docker-registry binary");
  s3_cmd->add_option("--nginx", s3.nginx, "The nginx binary (the balancer of Berth ×3)");
  s3_cmd->add_option("--scale", s3.scale, "tiny or small")->check(CLI::IsMember({"tiny", "small"}));
  s3_cmd->add_option("--rounds", s3.rounds, "Rounds per deployment (default: the scale's)");
  s3_cmd->add_option("--work", s3.work, "Working directory (data dirs, logs)");
  s3_cmd->add_option("--only", s3.only, "Scenario ids or id prefixes; \"gc\" for the collection");
  s3_cmd->add_option("--client-threads", s3.client_threads, "Load generator threads");
  s3_cmd->add_option("--verify", s3.verify, "sha256 or bytes")
      ->check(CLI::IsMember({"sha256", "bytes"}));
  s3_cmd->add_option("--report", s3.report, "Also write the tables to this file");
  s3_cmd->add_option("--s3-endpoint", s3.s3_endpoint, "radosgw's endpoint")->required();
  s3_cmd->add_option("--postgres-url-one", s3.postgres_url_one, "Database of Berth ×1")->required();
  s3_cmd->add_option("--postgres-url-three", s3.postgres_url_three, "Database of Berth ×3")
      ->required();
  s3_cmd->add_option("--ceph-dir", s3.ceph_dir, "scripts/radosgw.sh's directory (for pids)");
  s3_cmd->add_option("--postgres-dir", s3.postgres_dir,
                     "scripts/postgres.sh's directory (for pids)");
  s3_cmd->add_option("--gc-images", s3.gc_images, "Images pushed for the collection");
  s3_cmd->add_option("--catalog-repositories", s3.catalog_repositories,
                     "Repositories of the catalog walk");

  auto* list_cmd = app.add_subcommand("list", "List the scenarios");

  CLI11_PARSE(app, argc, argv);
  try {
    if (run_cmd->parsed()) {
      return run(run_options);
    }
    if (s3_cmd->parsed()) {
      return run_s3_shape(s3);
    }
    if (load_cmd->parsed()) {
      return load(load_options);
    }
    if (list_cmd->parsed()) {
      const auto tiny = scale_named("tiny");
      const SharedData data(tiny.largest_blob());
      std::printf("(sizes as at --scale tiny)\n");
      for (const auto& item : make_scenarios(tiny, data, {})) {
        std::printf("%-16s %s\n", item.id.c_str(), item.title.c_str());
      }
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "berth-bench: %s\n", error.what());
    return 2;
  }
  return 0;
}
