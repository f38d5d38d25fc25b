// berth-bench s3 (s3_shape.hpp): the deployments, the interleaved rounds, the garbage
// collection and the tables of the scale-out shape.
#include "driver/s3_shape.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <regex>
#include <stdexcept>
#include <thread>

#include "driver/cpu_watch.hpp"
#include "driver/report.hpp"
#include "driver/run_support.hpp"
#include "driver/s3_report.hpp"
#include "driver/scenarios.hpp"

namespace berth::bench {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Env = std::map<std::string, std::string>;

// The sizes of the filesystem comparison, cut so that everything the three deployments keep
// fits in radosgw's memstore (bench/run.sh sizes it), and a catalog Distribution can walk in
// tens of seconds rather than minutes (it lists the bucket: ~0.14 s per repository here).
Scale s3_scale(const S3ShapeOptions& options) {
  auto scale = scale_named(options.scale);
  if (scale.name == "small") {
    scale.push_ops = {20, 10, 2, 1};
    scale.chunked_ops = 1;
    scale.big_pull_ops = 1;
    scale.pull_ops = {20, 10, 2};
    scale.catalog_repositories = 200;
    scale.catalog_page = 100;
    scale.catalog_walks = 1;
  } else if (scale.name == "tiny") {
    scale.catalog_repositories = 50;
    scale.catalog_page = 20;
    scale.catalog_walks = 1;
  } else {
    throw std::invalid_argument("the S3 shape runs at --scale tiny or small (memstore limits)");
  }
  if (options.catalog_repositories > 0) {
    scale.catalog_repositories = options.catalog_repositories;
  }
  if (options.rounds > 0) {
    scale.rounds = options.rounds;
  }
  return scale;
}

std::uint64_t gc_images_of(const S3ShapeOptions& options) {
  if (options.gc_images > 0) {
    return options.gc_images;
  }
  return options.scale == "tiny" ? 100 : 300;
}

// The targets for this shape, in place of the filesystem comparison's.
std::vector<Target> s3_targets(const std::string& id) {
  if (id.starts_with("push-") && id != "push-small") {
    return {{Target::Kind::kRateRatioAtLeast, 1, "", "push MB/s ≥ Distribution-on-S3's"}};
  }
  if (id.starts_with("pull-")) {
    return {{Target::Kind::kRateRatioAtLeast, 1, "", "pull MB/s ≥ Distribution-on-S3's"}};
  }
  if (id.starts_with("manifest-") || id == "tags-list") {
    return {{Target::Kind::kRateRatioAtLeast, 10, "", "≥ 10× Distribution-on-S3's requests/s"}};
  }
  if (id == "catalog") {
    return {{Target::Kind::kRateRatioAtLeast, 10, "", "≥ 10× Distribution-on-S3's walks/s"},
            {Target::Kind::kP99AtMostMs, 1000, "", "a walk in milliseconds (p99 < 1 s)"}};
  }
  return {};
}

// One registry deployment: what the load generator talks to, and the processes whose CPU and
// memory are "the server's".
struct Deployment {
  ServerUnderTest front;  // its endpoint; its process (berth, nginx or docker-registry)
  std::vector<std::unique_ptr<ServerProcess>> replicas;  // Berth ×3 only
  Env environment;                                       // of berth serve (and berth gc)
  fs::path data;                                         // --data of berth gc
  fs::path config;                                       // Distribution's config file

  std::vector<const ServerProcess*> servers() const {
    if (replicas.empty()) {
      return {front.process.get()};
    }
    std::vector<const ServerProcess*> out;
    for (const auto& r : replicas) {
      out.push_back(r.get());
    }
    return out;
  }
};

Env berth_environment(const S3ShapeOptions& o, const std::string& bucket,
                      const std::string& postgres_url, const fs::path& work) {
  return {{"BERTH_AUTH_ENABLED", "false"},
          {"BERTH_AUTH_SIGNING_KEY", (work / ("signing-" + bucket + ".pem")).string()},
          {"BERTH_LOG_ACCESS", "false"},
          {"BERTH_LOG_LEVEL", "warn"},
          {"BERTH_GC_INTERVAL", "0"},  // collections only when the bench asks
          {"BERTH_STORAGE_DRIVER", "s3"},
          {"BERTH_STORAGE_S3_ENDPOINT", o.s3_endpoint},
          {"BERTH_STORAGE_S3_BUCKET", bucket},
          {"BERTH_STORAGE_S3_PATH_STYLE", "true"},
          {"BERTH_STORAGE_S3_ACCESS_KEY", o.access_key},
          {"BERTH_STORAGE_S3_SECRET_KEY", o.secret_key},
          {"BERTH_METADATA_DRIVER", "postgres"},
          {"BERTH_METADATA_POSTGRES_URL", postgres_url}};
}

std::unique_ptr<ServerProcess> start_replica(const S3ShapeOptions& o, const std::string& name,
                                             const Env& env, const fs::path& work,
                                             unsigned short& port) {
  const auto data = work / (name + "-data");
  fs::create_directories(data);
  const auto port_file = work / (name + ".port");
  fs::remove(port_file);
  auto process = std::make_unique<ServerProcess>(
      name,
      std::vector<std::string>{o.berth, "serve", "--listen", "127.0.0.1:0", "--data", data.string(),
                               "--port-file", port_file.string()},
      env, work / (name + ".log"));
  port = wait_for_port_file(*process, port_file);
  return process;
}

Deployment start_berth_one(const S3ShapeOptions& o, const fs::path& work) {
  Deployment d;
  d.environment = berth_environment(o, "berth-one", o.postgres_url_one, work);
  d.data = work / "berth-one-data";
  unsigned short port = 0;
  d.front.name = "Berth ×1";
  d.front.process = start_replica(o, "berth-one", d.environment, work, port);
  d.front.endpoint = loopback(port);
  wait_until_ready(d.front, "/v2/");
  return d;
}

std::string balancer_config(const fs::path& dir, unsigned short port,
                            const std::vector<unsigned short>& upstreams) {
  const auto d = dir.string();
  std::string servers;
  for (const auto p : upstreams) {
    servers += "    server 127.0.0.1:" + std::to_string(p) + " max_fails=1 fail_timeout=5s;\n";
  }
  // As tests/scaleout/replicas.sh and the README's example: round robin, no stickiness,
  // bodies streamed both ways.
  return "daemon off;\nmaster_process off;\nworker_processes 1;\npid " + d +
         "/nginx.pid;\nerror_log " + d + "/error.log warn;\n" +
         "events { worker_connections 4096; }\nhttp {\n  access_log off;\n" +
         "  client_body_temp_path " + d + "/temp/body;\n  proxy_temp_path " + d +
         "/temp/proxy;\n  fastcgi_temp_path " + d + "/temp/fastcgi;\n  uwsgi_temp_path " + d +
         "/temp/uwsgi;\n  scgi_temp_path " + d + "/temp/scgi;\n  upstream berth {\n" + servers +
         "    keepalive 64;\n  }\n  server {\n    listen 127.0.0.1:" + std::to_string(port) +
         ";\n    client_max_body_size 0;\n    location / {\n      proxy_pass http://berth;\n" +
         "      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n" +
         "      proxy_set_header Host $http_host;\n      proxy_request_buffering off;\n" +
         "      proxy_buffering off;\n      proxy_read_timeout 300s;\n" +
         "      proxy_send_timeout 300s;\n    }\n  }\n}\n";
}

Deployment start_berth_three(const S3ShapeOptions& o, const fs::path& work) {
  Deployment d;
  d.environment = berth_environment(o, "berth-three", o.postgres_url_three, work);
  d.data = work / "berth-three-1-data";
  std::vector<unsigned short> ports;
  for (int i = 1; i <= 3; ++i) {
    unsigned short port = 0;
    // One after the other: the first migrates the database and creates the bucket.
    d.replicas.push_back(
        start_replica(o, "berth-three-" + std::to_string(i), d.environment, work, port));
    ServerUnderTest probe{.name = "replica " + std::to_string(i)};
    probe.endpoint = loopback(port);
    probe.process = std::move(d.replicas.back());
    wait_until_ready(probe, "/v2/");
    d.replicas.back() = std::move(probe.process);
    ports.push_back(port);
  }
  const auto dir = work / "balancer";
  fs::create_directories(dir / "temp");
  const auto port = pick_free_port();
  std::ofstream(dir / "nginx.conf") << balancer_config(dir, port, ports);
  d.front.name = "Berth ×3";
  d.front.endpoint = loopback(port);
  d.front.process = std::make_unique<ServerProcess>(
      "nginx",
      std::vector<std::string>{o.nginx, "-p", dir.string(), "-e", (dir / "error.log").string(),
                               "-c", (dir / "nginx.conf").string()},
      Env{}, work / "balancer.log");
  wait_until_ready(d.front, "/v2/");
  return d;
}

Deployment start_distribution_s3(const S3ShapeOptions& o, const fs::path& work) {
  Deployment d;
  d.front.name = "Distribution";
  const auto port = pick_free_port();
  d.front.endpoint = loopback(port);
  d.config = work / "distribution-s3.yml";
  // Debian's config with the s3 driver on the same radosgw. Blob GETs go through the registry
  // (redirect disabled), as Berth's do by default: the loadgen measures the registry, not a
  // presigned URL to radosgw.
  std::ofstream(d.config) << "version: 0.1\nlog:\n  level: warn\n  accesslog:\n"
                          << "    disabled: true\nstorage:\n  cache:\n"
                          << "    blobdescriptor: inmemory\n  s3:\n"
                          << "    accesskey: " << o.access_key << "\n"
                          << "    secretkey: " << o.secret_key << "\n"
                          << "    region: us-east-1\n"
                          << "    regionendpoint: " << o.s3_endpoint << "\n"
                          << "    bucket: distribution\n    secure: false\n    v4auth: true\n"
                          << "  delete:\n    enabled: true\n  redirect:\n    disable: true\n"
                          << "http:\n  addr: 127.0.0.1:" << port << "\n"
                          << "health:\n  storagedriver:\n    enabled: true\n"
                          << "    interval: 10s\n    threshold: 3\n";
  d.front.process = std::make_unique<ServerProcess>(
      "distribution", std::vector<std::string>{o.distribution, "serve", d.config.string()}, Env{},
      work / "distribution-s3.log");
  wait_until_ready(d.front, "/v2/");
  return d;
}

CpuWatch make_watch(const S3ShapeOptions& o, const std::vector<Deployment*>& all) {
  CpuWatch watch;
  std::vector<pid_t> berth;
  for (const auto* d : all) {
    if (d->front.name == "Distribution") {
      watch.add("Distribution", {d->front.process->pid()});
    } else {
      for (const auto* s : d->servers()) {
        berth.push_back(s->pid());
      }
      if (!d->replicas.empty()) {
        watch.add("nginx", {d->front.process->pid()});
      }
    }
  }
  watch.add("berth", berth);
  const fs::path ceph = o.ceph_dir;
  watch.add("radosgw", {read_pid_file(ceph / "run" / "rgw.pid")});
  watch.add("ceph-osd+mon",
            {read_pid_file(ceph / "run" / "osd.pid"), read_pid_file(ceph / "run" / "mon.pid")});
  watch.add_tree("PostgreSQL",
                 read_pid_file((fs::path(o.postgres_dir) / "data" / "postmaster.pid").string()));
  watch.add_self("loadgen");
  return watch;
}

// One measured round on one deployment; CPU and memory of the registry processes summed.
void measure(Deployment& d, const Scenario& scenario, const CpuWatch& watch, S3Figures& out) {
  const auto servers = d.servers();
  double cpu_before = 0;
  std::uint64_t start_rss = 0;
  for (const auto* s : servers) {
    s->reset_peak();
    const auto stats = s->stats();
    cpu_before += stats.cpu_seconds;
    start_rss += stats.rss_kib;
  }
  const auto before = watch.sample();
  const auto load = run_workload(d.front.endpoint, scenario.spec, scenario.operation);
  const auto used = watch.sample() - before;
  double cpu_after = 0;
  std::uint64_t peak = 0;
  for (const auto* s : servers) {
    if (!s->running()) {
      throw std::runtime_error(s->name() + " died during " + scenario.id + "; its log:\n" +
                               tail_of(s->log()));
    }
    const auto stats = s->stats();
    cpu_after += stats.cpu_seconds;
    peak += stats.peak_rss_kib;
  }
  out.figures.add_round(load, cpu_after - cpu_before, start_rss, peak);
  out.cpu += used;
  char line[256];
  std::snprintf(line, sizeof line,
                "%s %s: %llu ops, %llu errors in %.2f s; registry CPU %.2f s, machine busy %.2f "
                "of %.2f core-seconds",
                scenario.id.c_str(), d.front.name.c_str(),
                static_cast<unsigned long long>(load.operations),
                static_cast<unsigned long long>(load.errors), load.seconds, cpu_after - cpu_before,
                used.machine, used.wall * sysconf(_SC_NPROCESSORS_ONLN));
  progress(line);
  for (const auto& sample : load.error_samples) {
    progress("  error: " + sample);
  }
}

// ---- garbage collection

// Pushes `count` images (a 4 KiB layer, a config, a manifest) to gc/images and deletes the
// manifests of every other one, so that a collection has half of them to remove.
void gc_setup(ServerUnderTest& front, const SharedData& data, std::uint64_t count) {
  auto digests = std::make_shared<std::vector<std::string>>(count);
  const SharedData* shared = &data;
  run_setup(front, "push gc images", 16, count,
            [digests, shared](RegistryClient& client, std::uint64_t index,
                              std::size_t) -> asio::awaitable<OpResult> {
              auto image = make_image("gc/images", "g" + std::to_string(index),
                                      {shared->make_blob(4 * kKiB)}, "gc-" + std::to_string(index));
              (*digests)[index] = image.manifest_digest;
              co_return co_await client.push_image(image);
            });
  run_setup(front, "delete every other gc image", 16, count / 2,
            [digests](RegistryClient& client, std::uint64_t index,
                      std::size_t) -> asio::awaitable<OpResult> {
              co_return co_await client.delete_manifest("gc/images", (*digests)[2 * index]);
            });
}

double children_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// The collector's own summary: Distribution's "N blobs marked, M blobs and K manifests
// eligible for deletion" (then one line per blob), or berth gc's last line.
std::string gc_summary(const std::string& output) {
  std::string last;
  std::size_t start = 0;
  while (start < output.size()) {
    const auto end = std::min(output.find('\n', start), output.size());
    const auto line = output.substr(start, end - start);
    if (line.find("blobs marked") != std::string::npos) {
      return line;
    }
    if (!line.empty()) {
      last = line;
    }
    start = end + 1;
  }
  return last;
}

GcFigures run_gc(const std::string& who, const std::vector<std::string>& argv,
                 const CpuWatch& watch) {
  GcFigures gc{.who = who};
  std::string command;
  for (const auto& a : argv) {
    command += (command.empty() ? "" : " ") + a;
  }
  progress("gc: " + who + ": " + command.substr(0, 200));
  gc.load_before = load_average();
  const double child_before = children_cpu_seconds();
  const auto before = watch.sample();
  const auto out = run_command(argv);
  gc.cpu = watch.sample() - before;
  gc.tool_cpu = children_cpu_seconds() - child_before;
  gc.load_after = load_average();
  gc.ok = out.status == 0;
  gc.summary = gc_summary(out.output);
  progress("gc: " + who + " took " + std::to_string(gc.cpu.wall) + " s: " + gc.summary);
  if (!gc.ok) {
    progress("gc: " + who + " failed: " +
             out.output.substr(out.output.size() > 2000 ? out.output.size() - 2000 : 0));
  }
  return gc;
}

std::vector<std::string> with_env(const Env& env, std::vector<std::string> argv) {
  std::vector<std::string> out{"env"};
  for (const auto& [k, v] : env) {
    out.push_back(k + "=" + v);
  }
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

// Distribution 2.8's s3 driver panics at start when AWS_CA_BUNDLE is set (as it is on this
// machine), and no deployment should take credentials or endpoints from the caller: every
// server and tool started from here gets its S3 settings from its configuration only.
void forget_aws_environment() {
  std::vector<std::string> names;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    if (entry.starts_with("AWS_")) {
      names.push_back(entry.substr(0, entry.find('=')));
    }
  }
  for (const auto& name : names) {
    ::unsetenv(name.c_str());
  }
}

}  // namespace

int run_s3_shape(const S3ShapeOptions& options) {
  raise_file_limit();
  forget_aws_environment();
  if (options.s3_endpoint.empty() || options.postgres_url_one.empty() ||
      options.postgres_url_three.empty()) {
    throw std::invalid_argument(
        "the S3 shape needs --s3-endpoint and both PostgreSQL URLs "
        "(bench/run.sh --shape s3 starts them)");
  }
  const auto scale = s3_scale(options);
  const fs::path work = fs::absolute(options.work);
  fs::create_directories(work);
  S3Report report{.scale = scale.name, .rounds = scale.rounds};
  report.started = now_text();
  report.load_before = load_average();
  progress("S3 shape, scale " + scale.name + ", " + std::to_string(scale.rounds) +
           " rounds, load " + report.load_before);

  const SharedData data(scale.largest_blob());
  auto scenarios = make_scenarios(
      scale, data,
      {.client_threads = options.client_threads, .verify = verify_named(options.verify)});

  auto one = start_berth_one(options, work);
  auto three = start_berth_three(options, work);
  auto distribution = start_distribution_s3(options, work);
  std::vector<Deployment*> all{&one, &three, &distribution};
  const auto watch = make_watch(options, all);
  report.groups = watch.names();

  for (auto& scenario : scenarios) {
    if (!selected(options.only, scenario.id)) {
      continue;
    }
    scenario.targets = s3_targets(scenario.id);
    S3ScenarioFigures figures{.scenario = &scenario};
    figures.per.resize(all.size());
    if (scenario.setup) {
      progress(scenario.id + ": setup");
      for (auto* d : all) {
        scenario.setup(d->front);
      }
    }
    figures.load_before = load_average();
    for (int r = 0; r < scale.rounds; ++r) {
      for (std::size_t i = 0; i < all.size(); ++i) {
        // ×1 ×3 D, then D ×3 ×1: each deployment sees the same drift of the machine.
        const auto k = r % 2 == 0 ? i : all.size() - 1 - i;
        measure(*all[k], scenario, watch, figures.per[k]);
      }
    }
    figures.load_after = load_average();
    report.scenarios.push_back(std::move(figures));
    std::cout << s3_scenario_line(report.scenarios.back()) << std::flush;
  }

  if (selected(options.only, "gc")) {
    const auto count = gc_images_of(options);
    report.gc_images = count;
    progress("gc: pushing " + std::to_string(count) + " images to Berth ×1 and Distribution");
    gc_setup(one.front, data, count);
    gc_setup(distribution.front, data, count);
    ::sync();
    report.gc.push_back(run_gc("Berth ×1",
                               with_env(one.environment, {options.berth, "gc", "--grace", "0",
                                                          "--data", one.data.string()}),
                               watch));
    report.gc.push_back(
        run_gc("Distribution",
               {options.distribution, "garbage-collect", distribution.config.string()}, watch));
  }
  report.load_after = load_average();
  const auto text = s3_report_text(report, watch.names());
  std::cout << text << std::flush;
  if (!options.report.empty()) {
    std::ofstream(options.report) << text;
    progress("report written to " + options.report);
  }
  bool errors = false;
  for (const auto& s : report.scenarios) {
    for (const auto& p : s.per) {
      errors = errors || p.figures.load.errors > 0;
    }
  }
  for (const auto& g : report.gc) {
    errors = errors || !g.ok;
  }
  return errors ? 1 : 0;
}

}  // namespace berth::bench
