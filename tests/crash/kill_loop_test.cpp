// Kill loops under load. Eight client threads push images (random layers of 1 KiB to 2 MiB,
// some in chunks, OCI and Docker configs and manifests, tags that move), image indexes and
// cross-repository mounts, and record in a PushLedger everything the server acknowledged.
// Meanwhile the test SIGKILLs berth, after a different number of acknowledgements each round
// (zero: while the clients are still connecting), with a request deliberately held open
// mid-body in most rounds (a manifest PUT, a monolithic blob POST, or a PATCH whose bytes are
// known to be on disk), and restarts it on the same data directory.
//
// After the last restart: every acknowledged manifest and blob reads back byte for byte, every
// tag names the last manifest acknowledged for it or one pushed to it after that, the held
// requests left nothing visible, the held PATCH resumes, every file under blobs/ hashes to its
// name, every tag of every repository in the catalog has its manifest and everything it
// references, and no server log holds a sanitizer report.
//
// A wrong answer from the server (any complete response that is not what the spec says) fails
// the test whenever it happens; a network error is expected only once the kill was decided.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <iostream>
#include <random>
#include <thread>

#include "crash_support.hpp"

namespace berth::testing::crash {
namespace {

constexpr std::size_t kWorkers = 8;
// How many further acknowledgements (blobs, mounts, manifests) each round waits for before
// the kill. 0 kills while the clients are still connecting.
constexpr std::array<std::size_t, 12> kKillAfterAcks = {5,  0, 23,  2,  61, 11,
                                                        37, 1, 120, 17, 45, 90};

enum class Held { kNothing, kManifestPut, kBlobPost, kPatch };

Held held_in_round(std::size_t round) {
  constexpr std::array<Held, 4> kCycle = {Held::kManifestPut, Held::kBlobPost, Held::kPatch,
                                          Held::kNothing};
  return kCycle[round % kCycle.size()];
}

// A client thread's state, kept across rounds (its threads are made anew for each server).
struct Worker {
  std::size_t index = 0;
  std::mt19937_64 random;
  std::array<std::string, 2> repos;
  // Acknowledged image manifests per repository, for building indexes on them.
  std::map<std::string, std::vector<Descriptor>> images;
  std::size_t pushes = 0;
};

// Log-uniform from 1 KiB to 2 MiB: mostly small layers, some large ones.
std::size_t layer_size(std::mt19937_64& random) {
  std::uniform_real_distribution<double> exponent(10.0, 21.0);
  return static_cast<std::size_t>(std::pow(2.0, exponent(random)));
}

std::string config_json(std::string_view label) {
  return R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},)"
         R"("config":{"Labels":{"berth.crash":")" +
         std::string(label) + R"("}}})";
}

Descriptor descriptor_of(std::string_view media_type, const PushLedger::Blob& blob) {
  Descriptor out;
  out.media_type = media_type;
  out.digest = blob.digest;
  out.size = blob.size;
  return out;
}

class Pusher {
 public:
  Pusher(Worker& worker, RegistryClient& registry, PushLedger& ledger)
      : worker_(worker), registry_(registry), ledger_(ledger) {}

  // One operation, chosen at random.
  void step() {
    const auto dice = worker_.random() % 20;
    ++worker_.pushes;
    if (dice < 12) {
      push_image();
    } else if (dice < 16) {
      mount_and_push();
    } else {
      push_index();
    }
  }

 private:
  const std::string& pick_repo() { return worker_.repos[worker_.random() % 2]; }

  // Tags are per worker, so each tag's history is one thread's sequence of pushes.
  std::string pick_tag(std::string_view kind) {
    if (worker_.random() % 4 == 0) {
      return "";
    }
    return "w" + std::to_string(worker_.index) + "-" + std::string(kind) +
           std::to_string(worker_.random() % 3);
  }

  Descriptor push_blob(const std::string& repo, std::string_view media_type,
                       const std::string& bytes) {
    const std::string digest = bytes.size() > kMiB && worker_.random() % 2 == 0
                                   ? registry_.push_blob_chunked(repo, bytes, 512 * kKiB)
                                   : registry_.push_blob(repo, bytes);
    ledger_.acknowledged_blob(repo, digest, bytes.size());
    return describe(media_type, bytes);
  }

  Descriptor push_config(const std::string& repo, bool docker) {
    return push_blob(repo, docker ? media_types::kDockerConfig : media_types::kOciConfig,
                     config_json(random_token(16)));
  }

  Descriptor push_manifest(const std::string& repo, const std::string& tag,
                           std::string_view media_type, std::string bytes) {
    ManifestPush push{repo, tag, std::string(media_type), std::move(bytes), ""};
    push.digest = sha256_digest(push.bytes);
    ledger_.attempted(push);
    registry_.push_manifest(repo, tag.empty() ? push.digest : tag, push.bytes, media_type);
    ledger_.acknowledged(push);
    return describe(media_type, push.bytes);
  }

  void push_image() {
    const std::string& repo = pick_repo();
    const bool docker = worker_.random() % 3 == 0;
    const Descriptor config = push_config(repo, docker);
    std::vector<Descriptor> layers;
    const std::size_t count = 1 + worker_.random() % 3;
    for (std::size_t i = 0; i < count; ++i) {
      layers.push_back(push_blob(repo, docker ? media_types::kDockerLayer : media_types::kOciLayer,
                                 random_bytes(layer_size(worker_.random))));
    }
    const auto type = docker ? media_types::kDockerManifest : media_types::kOciManifest;
    worker_.images[repo].push_back(push_manifest(
        repo, pick_tag("img"), type,
        make_image_manifest(config, layers, ManifestOptions().with_media_type(type))));
  }

  // Mounts a blob another worker's repository acknowledged, and pushes an image that uses it.
  void mount_and_push() {
    const std::string& repo = pick_repo();
    const auto source = ledger_.pick_blob(worker_.random(), repo);
    if (!source) {
      push_image();
      return;
    }
    const auto response = registry_.http().post(
        "/v2/" + repo + "/blobs/uploads/?mount=" + source->digest + "&from=" + source->repo, "");
    if (response.status != 201 || response.header("Docker-Content-Digest") != source->digest) {
      throw RegistryClientError("mount of " + source->repo + "@" + source->digest + " into " +
                                repo + ", acknowledged there, answered " + describe(response));
    }
    ledger_.acknowledged_blob(repo, source->digest, source->size);
    const Descriptor config = push_config(repo, false);
    const Descriptor layer = descriptor_of(media_types::kOciLayer, *source);
    worker_.images[repo].push_back(
        push_manifest(repo, pick_tag("mnt"), media_types::kOciManifest,
                      make_image_manifest(config, {layer}, ManifestOptions())));
  }

  void push_index() {
    const std::string& repo = pick_repo();
    const auto& images = worker_.images[repo];
    if (images.size() < 2) {
      push_image();
      return;
    }
    const std::size_t first = worker_.random() % images.size();
    const std::size_t second = (first + 1 + worker_.random() % (images.size() - 1)) % images.size();
    Descriptor amd64 = images[first];
    amd64.platform_os = "linux";
    amd64.platform_architecture = "amd64";
    Descriptor arm64 = images[second];
    arm64.platform_os = "linux";
    arm64.platform_architecture = "arm64";
    push_manifest(
        repo, pick_tag("idx"), media_types::kOciIndex,
        make_index({amd64, arm64}, ManifestOptions().with_media_type(media_types::kOciIndex)));
  }

  Worker& worker_;
  RegistryClient& registry_;
  PushLedger& ledger_;
};

void run_worker(Worker& worker, std::uint16_t port, PushLedger& ledger,
                const std::atomic<bool>& killing, std::size_t round) {
  const std::string who =
      "round " + std::to_string(round) + ", worker " + std::to_string(worker.index) + ": ";
  try {
    RegistryClient registry("127.0.0.1", port);
    registry.http().set_timeout(std::chrono::minutes(2));
    Pusher pusher(worker, registry, ledger);
    while (!killing.load()) {
      pusher.step();
    }
  } catch (const HttpClientError& e) {
    if (!killing.load()) {
      ledger.unexpected(who + "network failure before the kill: " + e.what());
    }
  } catch (const std::exception& e) {
    // A complete answer that is wrong: no kill explains that.
    ledger.unexpected(who + e.what());
  }
}

// A PATCH held open mid-body in some round, checked after the last restart.
struct HeldUpload {
  std::string repo;
  std::string location;
  std::string bytes;
  std::uint64_t on_disk = 0;
};

struct HeldBlob {
  std::string repo;
  std::string digest;
};

TEST(KillLoop, AcknowledgedPushesSurviveRepeatedKillsUnderLoad) {
  const std::uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  CrashableBerth berth;
  PushLedger ledger;
  std::vector<Worker> workers(kWorkers);
  for (std::size_t i = 0; i < kWorkers; ++i) {
    workers[i].index = i;
    workers[i].random.seed(seed + i);
    workers[i].repos = {"load/w" + std::to_string(i) + "-a", "load/w" + std::to_string(i) + "-b"};
  }
  std::mt19937_64 random(seed ^ 0x5bd1e995);
  std::vector<HeldUpload> held_uploads;
  std::vector<HeldBlob> held_blobs;

  for (std::size_t round = 0; round < kKillAfterAcks.size(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    berth.start();
    const std::uint16_t port = berth.port();
    std::atomic<bool> killing{false};
    const std::size_t target = ledger.acknowledgements() + kKillAfterAcks[round];
    std::vector<std::thread> threads;
    for (auto& worker : workers) {
      threads.emplace_back(run_worker, std::ref(worker), port, std::ref(ledger), std::cref(killing),
                           round);
    }
    const bool progressed =
        eventually([&] { return ledger.acknowledgements() >= target; }, std::chrono::minutes(2));

    std::unique_ptr<RawConnection> held;
    try {
      switch (held_in_round(round)) {
        case Held::kNothing:
          break;
        case Held::kManifestPut: {
          // A manifest whose blobs are all there, so only the missing half of its body keeps
          // it out.
          const auto blob = ledger.pick_blob(random(), "");
          if (!blob) {
            break;
          }
          const Descriptor config = descriptor_of(media_types::kOciConfig, *blob);
          const Descriptor layer = descriptor_of(media_types::kOciLayer, *blob);
          ManifestPush push{blob->repo, "held-" + std::to_string(round),
                            std::string(media_types::kOciManifest),
                            padded_manifest(config, {layer}, 256 * kKiB), ""};
          push.digest = sha256_digest(push.bytes);
          ledger.never_completed(push);
          held =
              send_partial_request(port, "PUT", "/v2/" + push.repo + "/manifests/" + push.tag,
                                   {{"Content-Type", push.media_type}}, push.bytes.size(),
                                   std::string_view(push.bytes).substr(0, push.bytes.size() / 2));
          break;
        }
        case Held::kBlobPost: {
          const std::string bytes = random_bytes(kMiB);
          HeldBlob blob{"load/held-blob", sha256_digest(bytes)};
          held = send_partial_request(port, "POST",
                                      "/v2/" + blob.repo + "/blobs/uploads/?digest=" + blob.digest,
                                      {{"Content-Type", "application/octet-stream"}}, bytes.size(),
                                      std::string_view(bytes).substr(0, bytes.size() / 2));
          EXPECT_TRUE(eventually([&] {
            return find_upload_file(berth.data(), std::string_view(bytes).substr(0, 4096),
                                    bytes.size() / 2)
                .has_value();
          })) << "the held POST's first half never reached an upload file";
          held_blobs.push_back(std::move(blob));
          break;
        }
        case Held::kPatch: {
          HeldUpload upload{"load/held-upload-" + std::to_string(round), "", random_bytes(kMiB), 0};
          const std::size_t chunk = upload.bytes.size() / 2;
          RegistryClient setup("127.0.0.1", port);
          upload.location = setup.start_upload(upload.repo);
          const auto patched =
              setup.http().patch(upload.location, std::string_view(upload.bytes).substr(0, chunk),
                                 {{"Content-Type", "application/octet-stream"},
                                  {"Content-Range", "0-" + std::to_string(chunk - 1)}});
          if (patched.status != 202) {
            throw RegistryClientError("PATCH of the held upload: " + describe(patched));
          }
          upload.location = location_target(patched);
          const auto file = berth.data() / "uploads" / patched.header("Docker-Upload-UUID");
          upload.on_disk = chunk + chunk / 2;
          held = send_partial_request(
              port, "PATCH", upload.location,
              {{"Content-Type", "application/octet-stream"},
               {"Content-Range", std::to_string(chunk) + "-" + std::to_string(2 * chunk - 1)}},
              chunk, std::string_view(upload.bytes).substr(chunk, chunk / 2));
          EXPECT_TRUE(eventually([&] { return file_size_if_any(file) == upload.on_disk; }))
              << "the held PATCH's half chunk never reached " << file;
          held_uploads.push_back(std::move(upload));
          break;
        }
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "holding a request open: " << e.what();
    }

    killing = true;
    berth.kill();
    for (auto& thread : threads) {
      thread.join();
    }
    held.reset();
    EXPECT_TRUE(progressed) << "the clients never reached " << target
                            << " acknowledgements; unexpected: "
                            << ::testing::PrintToString(ledger.unexpected_events());
    ASSERT_EQ(find_sanitizer_report(berth.logs()), "") << berth.logs();
  }

  berth.start();
  RegistryClient registry("127.0.0.1", berth.port());
  registry.http().set_timeout(std::chrono::minutes(2));

  EXPECT_TRUE(ledger.unexpected_events().empty())
      << ::testing::PrintToString(ledger.unexpected_events());
  // The load must have been real for the checks below to mean anything.
  EXPECT_GE(ledger.acknowledged_manifests(), 20u);

  const auto problems = ledger.verify(registry);
  EXPECT_TRUE(problems.empty()) << problems.size() << " problems:\n"
                                << ::testing::PrintToString(problems);

  for (const auto& blob : held_blobs) {
    const auto head = registry.http().head("/v2/" + blob.repo + "/blobs/" + blob.digest);
    EXPECT_EQ(head.status, 404u) << "blob " << blob.digest
                                 << " of a POST cut off mid-body: " << describe(head);
    EXPECT_FALSE(std::filesystem::exists(blob_path(berth.data(), blob.digest)));
  }
  for (const auto& upload : held_uploads) {
    const auto status = registry.http().get(upload.location);
    EXPECT_EQ(status.status, 204u) << "a PATCH held open mid-body: " << describe(status);
    EXPECT_EQ(status.header("Range"), "0-" + std::to_string(upload.on_disk - 1));
    const std::string digest = sha256_digest(upload.bytes);
    const auto finished =
        registry.http().put(upload.location + "?digest=" + digest,
                            std::string_view(upload.bytes).substr(upload.on_disk),
                            {{"Content-Type", "application/octet-stream"},
                             {"Content-Range", std::to_string(upload.on_disk) + "-" +
                                                   std::to_string(upload.bytes.size() - 1)}});
    EXPECT_EQ(finished.status, 201u) << describe(finished);
    const auto pulled = registry.http().get("/v2/" + upload.repo + "/blobs/" + digest);
    EXPECT_EQ(pulled.status, 200u) << describe(pulled);
    EXPECT_TRUE(pulled.body == upload.bytes) << "the resumed upload reads back other bytes";
  }

  const auto catalog = check_catalog(registry);
  EXPECT_TRUE(catalog.problems.empty()) << catalog.problems.size() << " problems:\n"
                                        << ::testing::PrintToString(catalog.problems);
  EXPECT_GT(catalog.tags, 0u);
  EXPECT_GT(catalog.blobs, 0u);

  const auto files = check_blob_files(berth.data());
  EXPECT_TRUE(files.problems.empty()) << ::testing::PrintToString(files.problems);
  EXPECT_GT(files.files, 0u);

  EXPECT_EQ(berth.stop(), 0) << berth.logs();
  EXPECT_EQ(find_sanitizer_report(berth.logs()), "") << berth.logs();
  std::cout << "[ crash    ] " << ledger.acknowledgements() << " acknowledgements, "
            << ledger.acknowledged_manifests() << " manifests; catalog: " << catalog.repositories
            << " repositories, " << catalog.tags << " tags, " << catalog.manifests << " manifests, "
            << catalog.blobs << " blobs; " << files.files << " blob files\n";
}

}  // namespace
}  // namespace berth::testing::crash
