// The scenario table: sizes per scale, setups, operations and targets.
#include "driver/scenarios.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "driver/auth_scenarios.hpp"
#include "driver/server_under_test.hpp"

namespace berth::bench {
namespace {

using std::chrono::milliseconds;

std::string size_text(std::uint64_t bytes) {
  char text[32];
  if (bytes >= kGiB && bytes % kGiB == 0) {
    std::snprintf(text, sizeof text, "%llu GiB", static_cast<unsigned long long>(bytes / kGiB));
  } else if (bytes >= kMiB && bytes % kMiB == 0) {
    std::snprintf(text, sizeof text, "%llu MiB", static_cast<unsigned long long>(bytes / kMiB));
  } else {
    std::snprintf(text, sizeof text, "%llu KiB", static_cast<unsigned long long>(bytes / kKiB));
  }
  return text;
}

std::atomic<std::uint64_t> g_tag_counter{0};

std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Sizes spread evenly on a log scale between lo and hi, chosen by `index`.
std::uint64_t log_uniform(std::uint64_t index, std::uint64_t lo, std::uint64_t hi) {
  const double u = static_cast<double>(mix(index) >> 11) / 9007199254740992.0;
  const double size = static_cast<double>(lo) * std::pow(static_cast<double>(hi) / lo, u);
  return std::clamp<std::uint64_t>(static_cast<std::uint64_t>(size), lo, hi);
}

std::function<void(ServerUnderTest&)> push_image_setup(std::shared_ptr<Image> image) {
  return [image](ServerUnderTest& server) {
    run_setup(server, "push " + image->repository, 1, 1,
              [image](RegistryClient& client, std::uint64_t, std::size_t) {
                return client.push_image(*image);
              });
  };
}

}  // namespace

std::string fresh_tag(const char* prefix) {
  return prefix + std::to_string(g_tag_counter.fetch_add(1, std::memory_order_relaxed));
}

std::shared_ptr<Image> shared_image(const SharedData& data, std::string repository, std::string tag,
                                    std::size_t layers, std::uint64_t size) {
  std::vector<Blob> blobs;
  for (std::size_t i = 0; i < layers; ++i) {
    blobs.push_back(data.make_blob(size));
  }
  return std::make_shared<Image>(
      make_image(std::move(repository), std::move(tag), std::move(blobs), fresh_tag("image-")));
}

const std::string& manifest_tag(std::size_t index) {
  static const std::array<std::string, kManifestTags> kNames = [] {
    std::array<std::string, kManifestTags> names;
    for (std::size_t t = 0; t < kManifestTags; ++t) {
      names[t] = "t" + std::to_string(t);
    }
    return names;
  }();
  return kNames[index % kManifestTags];
}

asio::awaitable<OpResult> push_tagged_image(RegistryClient& client, const Image& image) {
  auto result = co_await client.push_image(image);
  for (std::size_t t = 1; t < kManifestTags && result.ok; ++t) {
    result += co_await client.push_manifest(image.repository, manifest_tag(t), image.manifest,
                                            kOciManifest);
  }
  co_return result;
}

std::uint64_t Scale::largest_blob() const {
  return std::max({push_sizes[3], chunked_size, big_size, pull_sizes[2], concurrent_layer_size,
                   mixed_image_size, small_push_max});
}

Scale scale_named(const std::string& name) {
  Scale s;
  s.name = name;
  if (name == "tiny") {
    s.push_sizes = {256 * kKiB, 1 * kMiB, 4 * kMiB, 16 * kMiB};
    s.push_ops = {10, 5, 3, 2};
    s.chunked_size = 16 * kMiB;
    s.chunk_size = 4 * kMiB;
    s.chunked_ops = 1;
    s.pull_sizes = {256 * kKiB, 1 * kMiB, 4 * kMiB};
    s.pull_ops = {10, 5, 3};
    s.big_size = 16 * kMiB;
    s.big_pull_ops = 2;
    s.concurrent_layer_size = 256 * kKiB;
    s.mixed_image_size = 256 * kKiB;
    s.mixed_duration = milliseconds(500);
    s.manifest_duration = milliseconds(500);
    s.small_push_duration = milliseconds(500);
    s.catalog_repositories = 200;
    s.catalog_page = 50;
    s.catalog_walks = 2;
    s.idle_connections = 100;
  } else if (name == "small") {
    s.push_sizes = {1 * kMiB, 10 * kMiB, 100 * kMiB, 256 * kMiB};
    s.push_ops = {50, 20, 3, 2};
    s.chunked_size = 64 * kMiB;
    s.chunk_size = 16 * kMiB;
    s.chunked_ops = 2;
    s.pull_sizes = {1 * kMiB, 10 * kMiB, 100 * kMiB};
    s.pull_ops = {50, 20, 3};
    s.big_size = 256 * kMiB;
    s.big_pull_ops = 2;
    s.concurrent_layer_size = 2 * kMiB;
    s.mixed_image_size = 1 * kMiB;
    s.mixed_duration = milliseconds(3000);
    s.manifest_duration = milliseconds(3000);
    s.small_push_duration = milliseconds(3000);
    s.catalog_repositories = 2000;
    s.catalog_walks = 3;
  } else if (name == "full") {
    s.push_sizes = {1 * kMiB, 10 * kMiB, 100 * kMiB, 1 * kGiB};
    s.push_ops = {100, 30, 5, 2};
    s.chunked_size = 256 * kMiB;
    s.chunk_size = 16 * kMiB;
    s.chunked_ops = 2;
    s.pull_sizes = {1 * kMiB, 10 * kMiB, 100 * kMiB};
    s.pull_ops = {100, 30, 5};
    s.big_size = 1 * kGiB;
    s.big_pull_ops = 3;
    s.concurrent_layer_size = 10 * kMiB;
    s.mixed_image_size = 1 * kMiB;
    s.mixed_duration = milliseconds(10000);
    s.manifest_duration = milliseconds(10000);
    s.small_push_duration = milliseconds(10000);
    s.catalog_repositories = 10000;
    s.catalog_walks = 3;
  } else {
    throw std::invalid_argument("--scale must be tiny, small or full, not '" + name + "'");
  }
  return s;
}

void run_setup(ServerUnderTest& server, const std::string& what, std::size_t connections,
               std::uint64_t operations, const Operation& operation) {
  WorkloadSpec spec;
  spec.connections = std::max<std::size_t>(1, std::min<std::uint64_t>(connections, operations));
  spec.operations = operations;
  const auto result = run_workload(server.endpoint, spec, operation);
  if (result.errors > 0) {
    throw std::runtime_error(
        "setup '" + what + "' failed on " + server.name + " (" + std::to_string(result.errors) +
        " errors): " + (result.error_samples.empty() ? "" : result.error_samples[0]));
  }
}

std::vector<Scenario> make_scenarios(const Scale& scale, const SharedData& data,
                                     const ScenarioOptions& options) {
  std::vector<Scenario> out;
  const auto threads = options.client_threads;
  const SharedData* shared = &data;
  static const char* const kSizeIds[] = {"1M", "10M", "100M", "1G"};
  static const char* const kRepoIds[] = {"1m", "10m", "100m", "1g"};  // names are lower-case

  // ---- monolithic pushes
  for (std::size_t i = 0; i < 4; ++i) {
    const auto size = scale.push_sizes[i];
    Scenario s;
    s.id = std::string("push-") + kSizeIds[i];
    s.title = "push monolithic (POST + PUT), " + size_text(size) + " blobs, 1 client";
    s.rate = Rate::kBytes;
    s.unit = "push";
    s.spec = {.connections = 1, .threads = 1, .operations = scale.push_ops[i]};
    // A coroutine, so that the blob lives as long as the push that reads it.
    s.operation = [shared, size](RegistryClient& client, std::uint64_t,
                                 std::size_t) -> asio::awaitable<OpResult> {
      const Blob blob = shared->make_blob(size);
      co_return co_await client.push_blob("bench/push", blob);
    };
    if (i == 3) {
      s.targets = {
          {Target::Kind::kRateVsLimitAtLeast, 0.9, "disk", "≥ 0.9× the fsync'd disk write"},
          {Target::Kind::kCpuRatioAtMost, 0.2, "", "CPU per GB ≤ 1/5 of Distribution's"}};
      s.with_disk_limit = true;
    }
    out.push_back(std::move(s));
  }

  // ---- chunked push
  {
    Scenario s;
    s.id = "push-chunked";
    s.title = "push chunked, " + size_text(scale.chunked_size) + " blobs in " +
              size_text(scale.chunk_size) + " PATCHes, 1 client";
    s.rate = Rate::kBytes;
    s.unit = "push";
    s.spec = {.connections = 1, .threads = 1, .operations = scale.chunked_ops};
    s.operation = [shared, size = scale.chunked_size, chunk = scale.chunk_size](
                      RegistryClient& client, std::uint64_t,
                      std::size_t) -> asio::awaitable<OpResult> {
      const Blob blob = shared->make_blob(size);
      co_return co_await client.push_blob("bench/chunked", blob, chunk);
    };
    out.push_back(std::move(s));
  }

  // ---- image pulls
  for (std::size_t i = 0; i < 3; ++i) {
    const auto size = scale.pull_sizes[i];
    auto image = shared_image(data, std::string("bench/pull-") + kRepoIds[i], "latest", 1, size);
    Scenario s;
    s.id = std::string("pull-") + kSizeIds[i];
    s.title = "pull image (manifest + config + " + size_text(size) + " layer), 1 client";
    s.rate = Rate::kBytes;
    s.unit = "pull";
    s.spec = {.connections = 1, .threads = 1, .operations = scale.pull_ops[i]};
    s.setup = push_image_setup(image);
    s.operation = [image](RegistryClient& client, std::uint64_t, std::size_t) {
      return client.pull_image(*image);
    };
    out.push_back(std::move(s));
  }

  // ---- one big blob pull
  {
    auto image = shared_image(data, "bench/pull-big", "latest", 1, scale.big_size);
    Scenario s;
    s.id = "pull-blob-1G";
    s.title = "pull one " + size_text(scale.big_size) + " blob, 1 client";
    s.rate = Rate::kBytes;
    s.unit = "pull";
    s.spec = {.connections = 1, .threads = 1, .operations = scale.big_pull_ops};
    s.setup = push_image_setup(image);
    s.operation = [image](RegistryClient& client, std::uint64_t, std::size_t) {
      return client.pull_blob(image->repository, image->layers[0]);
    };
    s.targets = {{Target::Kind::kRateVsLimitAtLeast, 0.9, "nginx", "≥ 0.9× nginx sendfile"},
                 {Target::Kind::kCpuRatioAtMost, 0.25, "", "CPU per GB ≤ 1/4 of Distribution's"}};
    s.nginx_image = image;
    out.push_back(std::move(s));
  }

  // ---- many clients pulling one image
  {
    auto image =
        shared_image(data, "bench/pull-concurrent", "latest", 5, scale.concurrent_layer_size);
    Scenario s;
    s.id = "pull-64";
    s.title = std::to_string(scale.concurrent_clients) + " clients each pulling a 5-layer image (" +
              size_text(scale.concurrent_layer_size) + " layers)";
    s.rate = Rate::kBytes;
    s.unit = "image pull";
    s.spec = {.connections = scale.concurrent_clients,
              .threads = threads,
              .operations = scale.concurrent_clients * scale.concurrent_pulls_each};
    s.setup = push_image_setup(image);
    s.operation = [image](RegistryClient& client, std::uint64_t, std::size_t) {
      return client.pull_image(*image);
    };
    s.targets = {{Target::Kind::kRateRatioAtLeast, 1.5, "", "≥ 1.5× Distribution's MB/s"},
                 {Target::Kind::kPeakRssAtMostMiB, 40, "", "peak RSS ≤ 40 MB"}};
    out.push_back(std::move(s));
  }

  // ---- mixed pulls and pushes
  {
    constexpr std::size_t kImages = 10;
    auto images = std::make_shared<std::vector<Image>>();
    for (std::size_t i = 0; i < kImages; ++i) {
      images->push_back(
          *shared_image(data, "bench/mixed", "p" + std::to_string(i), 1, scale.mixed_image_size));
    }
    for (const std::uint64_t clients : {10, 64}) {
      Scenario s;
      s.id = "mixed-" + std::to_string(clients);
      s.title = "mixed 75 % pull / 25 % push of " + size_text(scale.mixed_image_size) +
                " images, " + std::to_string(clients) + " clients";
      s.rate = Rate::kOperations;
      s.unit = "image";
      s.spec = {.connections = clients, .threads = threads, .duration = scale.mixed_duration};
      s.setup = [images](ServerUnderTest& server) {
        run_setup(server, "push bench/mixed", 1, images->size(),
                  [images](RegistryClient& client, std::uint64_t index, std::size_t) {
                    return client.push_image((*images)[index]);
                  });
      };
      s.operation = [images, shared, size = scale.mixed_image_size](
                        RegistryClient& client, std::uint64_t index,
                        std::size_t) -> asio::awaitable<OpResult> {
        if (index % 4 == 3) {
          auto image = make_image("bench/mixed", fresh_tag("w"), {shared->make_blob(size)},
                                  fresh_tag("mixed-"));
          co_return co_await client.push_image(image);
        }
        co_return co_await client.pull_image((*images)[index % images->size()]);
      };
      out.push_back(std::move(s));
    }
  }

  // ---- small pushes
  {
    Scenario s;
    s.id = "push-small";
    s.title = "small pushes: image of one " + size_text(scale.small_push_min) + "–" +
              size_text(scale.small_push_max) + " layer (log-uniform) + config + manifest, " +
              "16 clients";
    s.rate = Rate::kOperations;
    s.unit = "image push";
    s.spec = {.connections = 16, .threads = threads, .duration = scale.small_push_duration};
    s.operation = [shared, lo = scale.small_push_min, hi = scale.small_push_max](
                      RegistryClient& client, std::uint64_t index,
                      std::size_t worker) -> asio::awaitable<OpResult> {
      auto image = make_image("bench/small-" + std::to_string(worker), fresh_tag("s"),
                              {shared->make_blob(log_uniform(index + (worker << 40), lo, hi))},
                              fresh_tag("small-"));
      co_return co_await client.push_image(image);
    };
    s.targets = {{Target::Kind::kRateRatioAtLeast, 5, "", "≥ 5× Distribution's ops/s"}};
    out.push_back(std::move(s));
  }

  // ---- manifests and tags at 64 connections
  {
    constexpr std::size_t kTags = kManifestTags;
    auto image = shared_image(data, "bench/manifests", "t0", 1, 4 * kKiB);
    const auto setup = [image](ServerUnderTest& server) {
      run_setup(server, "push bench/manifests", 1, 1,
                [image](RegistryClient& client, std::uint64_t, std::size_t) {
                  return push_tagged_image(client, *image);
                });
    };
    const std::vector<Target> manifest_targets = {
        {Target::Kind::kRateRatioAtLeast, 15, "", "≥ 15× Distribution's requests/s"},
        {Target::Kind::kP99AtMostMs, 10, "", "p99 ≤ 10 ms"},
        {Target::Kind::kCpuRatioAtMost, 0.05, "", "CPU per request ≤ 1/20 of Distribution's"}};
    for (const bool head : {true, false}) {
      Scenario s;
      s.id = head ? "manifest-head" : "manifest-get";
      s.title =
          std::string("manifest ") + (head ? "HEAD" : "GET") + " by tag, 64 keep-alive connections";
      s.rate = Rate::kRequests;
      s.unit = "request";
      s.spec = {.connections = 64, .threads = threads, .duration = scale.manifest_duration};
      s.setup = setup;
      s.operation = [image, head](RegistryClient& client, std::uint64_t index, std::size_t) {
        return client.pull_manifest(image->repository, manifest_tag(index), image->manifest_digest,
                                    image->manifest.size(), head);
      };
      s.targets = manifest_targets;
      out.push_back(std::move(s));
    }
    Scenario s;
    s.id = "tags-list";
    s.title = "tags/list (" + std::to_string(kTags) + " tags), 64 keep-alive connections";
    s.rate = Rate::kRequests;
    s.unit = "request";
    s.spec = {.connections = 64, .threads = threads, .duration = scale.manifest_duration};
    s.setup = setup;
    s.operation = [image](RegistryClient& client, std::uint64_t, std::size_t) {
      return client.tags_list(image->repository, kTags);
    };
    s.targets = {manifest_targets[0], manifest_targets[1]};
    out.push_back(std::move(s));
  }

  // ---- catalog
  {
    auto base = shared_image(data, "catalog/base", "latest", 1, 1 * kKiB);
    const auto repositories = scale.catalog_repositories;
    Scenario s;
    s.id = "catalog";
    s.title = "catalog walk over " + std::to_string(repositories) +
              "+ repositories, n=" + std::to_string(scale.catalog_page) + ", 1 client";
    s.rate = Rate::kOperations;
    s.unit = "walk";
    s.spec = {.connections = 1, .threads = 1, .operations = scale.catalog_walks};
    s.setup = [base, repositories](ServerUnderTest& server) {
      push_image_setup(base)(server);
      run_setup(server, "make the catalog's repositories", 16, repositories,
                [base](RegistryClient& client, std::uint64_t index,
                       std::size_t) -> asio::awaitable<OpResult> {
                  char name[32];
                  std::snprintf(name, sizeof name, "catalog/r%06llu",
                                static_cast<unsigned long long>(index));
                  auto result = co_await client.mount_blob(name, base->repository, base->config);
                  if (result.ok) {
                    result += co_await client.mount_blob(name, base->repository, base->layers[0]);
                  }
                  if (result.ok) {
                    result +=
                        co_await client.push_manifest(name, "latest", base->manifest, kOciManifest);
                  }
                  co_return result;
                });
    };
    s.operation = [repositories, page = scale.catalog_page](RegistryClient& client, std::uint64_t,
                                                            std::size_t) {
      return client.catalog_walk(page, repositories + 1);
    };
    s.targets = {{Target::Kind::kRateRatioAtLeast, 50, "", "≥ 50× faster"}};
    out.push_back(std::move(s));
  }
  add_auth_scenarios(out, scale, data, options);
  for (auto& s : out) {
    s.spec.verify = options.verify;
  }
  return out;
}

}  // namespace berth::bench
