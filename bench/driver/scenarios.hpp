// The scenarios of issue 3, at three scales, each one a workload plus what it needs set up
// on a server first and the targets its figures are held to.
//
// The scenarios hold no per-server state: the images a pull scenario pulls are made once and
// pushed to every server by its setup, so the same bytes are asked of both.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "loadgen/blob_data.hpp"
#include "loadgen/workload.hpp"

namespace berth::bench {

inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;

struct Scale {
  std::string name;
  std::array<std::uint64_t, 4> push_sizes{};
  std::array<std::uint64_t, 4> push_ops{};
  std::uint64_t chunked_size = 0;
  std::uint64_t chunk_size = 0;
  std::uint64_t chunked_ops = 0;
  std::array<std::uint64_t, 3> pull_sizes{};
  std::array<std::uint64_t, 3> pull_ops{};
  std::uint64_t big_size = 0;  // the "1 GiB" blob: pull, disk and nginx limits
  std::uint64_t big_pull_ops = 0;
  std::uint64_t concurrent_clients = 64;
  std::uint64_t concurrent_layer_size = 0;
  std::uint64_t concurrent_pulls_each = 1;
  std::uint64_t mixed_image_size = 0;
  std::chrono::milliseconds mixed_duration{0};
  std::chrono::milliseconds manifest_duration{0};
  std::chrono::milliseconds small_push_duration{0};
  std::uint64_t small_push_min = 4 * kKiB;
  std::uint64_t small_push_max = 1 * kMiB;
  std::uint64_t catalog_repositories = 0;
  std::uint64_t catalog_page = 1000;
  std::uint64_t catalog_walks = 0;
  std::uint64_t idle_connections = 1000;
  int rounds = 2;

  // The largest blob any scenario makes: the size of the shared random buffer.
  std::uint64_t largest_blob() const;
};

// "tiny", "small" or "full"; throws on anything else.
Scale scale_named(const std::string& name);

struct ServerUnderTest;

enum class Rate { kBytes, kOperations, kRequests };

// One figure a scenario's results are held to, from the table.
struct Target {
  enum class Kind {
    kRateRatioAtLeast,      // Berth's rate / Distribution's >= value
    kCpuRatioAtMost,        // Berth's CPU per unit / Distribution's <= value
    kP99AtMostMs,           // Berth's p99 latency <= value ms
    kPeakRssAtMostMiB,      // Berth's peak RSS <= value MiB
    kRateVsLimitAtLeast,    // Berth's rate >= value * the machine limit named `limit`
    kRateAtLeast,           // Berth's rate >= value, in the scenario's unit
    kRateVsScenarioAtLeast  // Berth's rate >= value * Berth's in the scenario named `limit`
  };
  Kind kind;
  double value = 0;
  // "disk" or "nginx" for kRateVsLimitAtLeast; a scenario id for kRateVsScenarioAtLeast.
  std::string limit;
  std::string text;  // as the issue says it
};

struct Scenario {
  std::string id;
  std::string title;
  Rate rate = Rate::kBytes;
  std::string unit;  // what one operation is: "push", "pull", "request", "walk", ...
  WorkloadSpec spec;
  // Run once per server before its first round, not measured. May be empty.
  std::function<void(ServerUnderTest&)> setup;
  Operation operation;
  std::vector<Target> targets;
  // For the big blob pull: the blob that nginx also serves, from a file at the same path
  // (/v2/<repository>/blobs/<digest>), so that nginx runs the same operation in the same
  // interleaved rounds and gives the sendfile limit.
  std::shared_ptr<const Image> nginx_image = {};
  // For the big blob push: dd's fsync'd write of the same size runs in the same interleaved
  // rounds and gives the disk limit.
  bool with_disk_limit = false;
  // Run on every connection before the timed part of each round (signing in). May be empty.
  Operation prepare = {};
  // Runs against the registries with access control on (the auth-* scenarios).
  bool authenticated = false;
  // Why Distribution does not run it (it has nothing that does this); empty when it does.
  std::string berth_only = {};
};

struct Accounts;

struct ScenarioOptions {
  std::size_t client_threads = 1;
  Verify verify = Verify::kSha256;
  // Who the auth-* scenarios sign in as, read when they run (the robot's token is made with
  // the servers); default accounts when empty.
  std::shared_ptr<const Accounts> accounts = {};
};

std::vector<Scenario> make_scenarios(const Scale& scale, const SharedData& data,
                                     const ScenarioOptions& options);

// What the scenario files share (scenarios.cpp, auth_scenarios.cpp).
inline constexpr std::size_t kManifestTags = 20;
// Tags unique across the whole run, so that no push merely moves an existing tag.
std::string fresh_tag(const char* prefix);
// An image of `layers` new blobs of `size` bytes.
std::shared_ptr<Image> shared_image(const SharedData& data, std::string repository, std::string tag,
                                    std::size_t layers, std::uint64_t size);
// "t0" ... "t19"
const std::string& manifest_tag(std::size_t index);
// Pushes `image` under its tag ("t0") and its manifest under the other kManifestTags - 1 tags.
asio::awaitable<OpResult> push_tagged_image(RegistryClient& client, const Image& image);

// Runs `operations` copies of `operation` on `connections` connections and throws if any
// failed (for setups, which must not fail quietly).
void run_setup(ServerUnderTest& server, const std::string& what, std::size_t connections,
               std::uint64_t operations, const Operation& operation);

}  // namespace berth::bench
