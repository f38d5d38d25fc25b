// Kills berth during a burst of manifest PUTs. Four client threads PUT manifests of many sizes
// (a few hundred bytes up to about 2 MiB, padded with an annotation) into one repository, by
// tag and by digest, while a 1 MiB manifest PUT is held open halfway through its body; berth is
// SIGKILLed after a different number of acknowledged PUTs in each of three rounds and restarted
// on the same data directory.
//
// After each restart every manifest is either all there or absent: GET by digest answers 200
// with exactly the bytes pushed (and the media type and digest headers) or 404, never a 500 and
// never truncated bytes; every acknowledged one is there; every tag names a manifest that was
// pushed to it, no older than the last acknowledged one; the held manifest is absent; every
// file under blobs/ hashes to its name. Then every manifest that was never acknowledged is
// pushed again, as a client that got no answer would: each gets its 201 and reads back.
#include <gtest/gtest.h>

#include <array>
#include <thread>

#include "crash_support.hpp"

namespace berth::testing::crash {
namespace {

constexpr std::size_t kThreads = 4;
constexpr std::size_t kManifestsPerThread = 12;
// About the sizes of the manifests each thread pushes, in turn. 0: no padding at all.
constexpr std::array<std::size_t, 6> kSizes = {0,        2 * kKiB,   64 * kKiB,
                                               1 * kMiB, 256 * kKiB, 2 * kMiB};
// Acknowledged PUTs before each round's kill.
constexpr std::array<std::size_t, 3> kKillAfterPuts = {3, 20, 9};

void run_thread(const std::vector<ManifestPush>& pushes, std::uint16_t port, PushLedger& ledger,
                const std::atomic<bool>& killing, const std::string& who) {
  try {
    RegistryClient registry("127.0.0.1", port);
    registry.http().set_timeout(std::chrono::minutes(2));
    for (const auto& push : pushes) {
      if (killing.load()) {
        return;
      }
      ledger.attempted(push);
      registry.push_manifest(push.repo, push.tag.empty() ? push.digest : push.tag, push.bytes,
                             push.media_type);
      ledger.acknowledged(push);
    }
  } catch (const HttpClientError& e) {
    if (!killing.load()) {
      ledger.unexpected(who + "network failure before the kill: " + e.what());
    }
  } catch (const std::exception& e) {
    ledger.unexpected(who + e.what());
  }
}

TEST(KillDuringManifestPuts, EveryManifestIsWholeOrAbsent) {
  CrashableBerth berth;
  PushLedger ledger;
  const std::string repo = "crash/manifests";
  berth.start();

  // The blobs every manifest names, pushed and acknowledged before any kill.
  Descriptor config;
  std::vector<Descriptor> layers;
  {
    RegistryClient registry("127.0.0.1", berth.port());
    const std::string config_bytes =
        R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})";
    ledger.acknowledged_blob(repo, registry.push_blob(repo, config_bytes), config_bytes.size());
    config = describe(media_types::kOciConfig, config_bytes);
    for (std::size_t size : {3 * kKiB, 200 * kKiB}) {
      const std::string bytes = random_bytes(size);
      ledger.acknowledged_blob(repo, registry.push_blob(repo, bytes), bytes.size());
      layers.push_back(describe(media_types::kOciLayer, bytes));
    }
  }

  for (std::size_t round = 0; round < kKillAfterPuts.size(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::array<std::vector<ManifestPush>, kThreads> pushes;
    for (std::size_t t = 0; t < kThreads; ++t) {
      for (std::size_t i = 0; i < kManifestsPerThread; ++i) {
        ManifestPush push;
        push.repo = repo;
        // Two moving tags per thread, and every third manifest by digest only.
        if (i % 3 != 2) {
          push.tag = "t" + std::to_string(t) + "-" + std::to_string(i % 2);
        }
        push.media_type = media_types::kOciManifest;
        push.bytes = padded_manifest(config, layers, kSizes[(i + t) % kSizes.size()]);
        push.digest = sha256_digest(push.bytes);
        pushes[t].push_back(std::move(push));
      }
    }
    ManifestPush held_push{repo, "held-" + std::to_string(round),
                           std::string(media_types::kOciManifest),
                           padded_manifest(config, layers, kMiB), ""};
    held_push.digest = sha256_digest(held_push.bytes);

    const std::uint16_t port = berth.port();
    std::atomic<bool> killing{false};
    const std::size_t target = ledger.acknowledgements() + kKillAfterPuts[round];
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < kThreads; ++t) {
      threads.emplace_back(
          run_thread, std::cref(pushes[t]), port, std::ref(ledger), std::cref(killing),
          "round " + std::to_string(round) + ", thread " + std::to_string(t) + ": ");
    }
    ledger.never_completed(held_push);
    std::unique_ptr<RawConnection> held;
    try {
      held = send_partial_request(
          port, "PUT", "/v2/" + repo + "/manifests/" + held_push.tag,
          {{"Content-Type", held_push.media_type}}, held_push.bytes.size(),
          std::string_view(held_push.bytes).substr(0, held_push.bytes.size() / 2));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "holding a manifest PUT open: " << e.what();
    }
    const bool progressed =
        eventually([&] { return ledger.acknowledgements() >= target; }, std::chrono::minutes(2));
    killing = true;
    berth.kill();
    for (auto& thread : threads) {
      thread.join();
    }
    held.reset();
    EXPECT_TRUE(progressed) << "the clients never reached " << target << " acknowledgements";

    berth.start();
    RegistryClient registry("127.0.0.1", berth.port());
    EXPECT_TRUE(ledger.unexpected_events().empty())
        << ::testing::PrintToString(ledger.unexpected_events());
    const auto problems = ledger.verify(registry);
    EXPECT_TRUE(problems.empty()) << problems.size() << " problems:\n"
                                  << ::testing::PrintToString(problems);
    const auto files = check_blob_files(berth.data());
    EXPECT_TRUE(files.problems.empty()) << ::testing::PrintToString(files.problems);

    // A client that got no answer pushes again; whatever half-state the kill left (bytes
    // without metadata, or nothing) must not get in the way.
    for (const auto& push : ledger.unacknowledged()) {
      ledger.attempted(push);
      const auto response = registry.http().put(
          "/v2/" + push.repo + "/manifests/" + (push.tag.empty() ? push.digest : push.tag),
          push.bytes, {{"Content-Type", push.media_type}});
      EXPECT_EQ(response.status, 201u) << "retrying " << push.digest << ": " << describe(response);
      if (response.status == 201) {
        ledger.acknowledged(push);
      }
    }
    const auto after_retries = ledger.verify(registry);
    EXPECT_TRUE(after_retries.empty()) << ::testing::PrintToString(after_retries);
    ASSERT_EQ(find_sanitizer_report(berth.logs()), "") << berth.logs();
  }

  RegistryClient registry("127.0.0.1", berth.port());
  const auto catalog = check_catalog(registry);
  EXPECT_TRUE(catalog.problems.empty()) << ::testing::PrintToString(catalog.problems);
  EXPECT_GE(ledger.acknowledged_manifests(), kKillAfterPuts[0]);
  EXPECT_EQ(berth.stop(), 0) << berth.logs();
  EXPECT_EQ(find_sanitizer_report(berth.logs()), "") << berth.logs();
}

}  // namespace
}  // namespace berth::testing::crash
