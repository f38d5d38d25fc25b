// kill -9 in the middle of garbage collection and of a backup.
//
// The store holds images that must live and many blobs nothing references (gc.blob_grace=0, so
// all of them are garbage at once). Each test waits until the collector has deleted some blob
// files and not all of them, and SIGKILLs it:
//  - `berth gc --data DIR`, running beside the server;
//  - the server itself, while a collection it runs for POST /api/v1/gc deletes.
// Then: every image pulls back byte for byte (nothing referenced is lost), a killed collector's
// lease keeps the next one off until it lapses (the tests age it rather than wait the minute),
// and the next collection finishes the leftovers: on disk exactly the blobs the images need,
// each hashing to its name, and a dry run that finds nothing.
//
// A backup killed mid-copy leaves no BACKUP file, so restore refuses the directory and leaves
// the target empty; running the backup again into the same directory resumes it (keeping what
// was copied), and that backup restores into a server that serves every image.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <functional>
#include <iostream>
#include <thread>

#include "lifecycle_support.hpp"

namespace berth::testing::lifecycle {
namespace {

namespace json = boost::json;

constexpr std::size_t kGarbage = 500;

// Images that must survive, and the garbage beside them.
struct Store {
  std::vector<std::pair<std::string, PushedImage>> images;
  std::map<std::string, std::uint64_t> needed;
  std::map<std::string, std::uint64_t> garbage;
};

Store fill(std::uint16_t port, std::size_t images, std::size_t layer_size, std::size_t garbage) {
  Store store;
  RegistryClient registry("127.0.0.1", port);
  for (std::size_t i = 0; i < images; ++i) {
    const std::string repo = "keep/r" + std::to_string(i % 3);
    auto image = registry.push_image(repo, "v" + std::to_string(i),
                                     ImageOptions().with_layers(2).with_layer_size(layer_size));
    const auto stored = stored_digests(image);
    store.needed.insert(stored.begin(), stored.end());
    store.images.emplace_back(repo, std::move(image));
  }
  if (garbage > 0) {
    store.garbage = push_blobs(port, "junk/blobs", garbage, 200);
  }
  return store;
}

// "" when every image pulls back whole; the problems otherwise.
std::string images_problems(std::uint16_t port, const Store& store) {
  RegistryClient registry("127.0.0.1", port);
  std::string problems;
  for (const auto& [repo, image] : store.images) {
    if (auto wrong = image_problem(registry, repo, image.digest, image); !wrong.empty()) {
      problems += wrong + "\n";
    }
  }
  return problems;
}

// Blob files on disk that are not needed, and needed ones that are not there.
std::string disk_problems(const fs::path& data, const Store& store) {
  const auto files = blob_files(data);
  std::size_t extra = 0;
  std::size_t lost = 0;
  for (const auto& [digest, size] : files) {
    extra += store.needed.contains(digest) ? 0 : 1;
  }
  for (const auto& [digest, size] : store.needed) {
    lost += files.contains(digest) ? 0 : 1;
  }
  std::string problems;
  if (extra > 0) {
    problems += std::to_string(extra) + " blob files nothing needs remain\n";
  }
  if (lost > 0) {
    problems += std::to_string(lost) + " needed blob files are gone\n";
  }
  for (const auto& problem : crash::check_blob_files(data).problems) {
    problems += problem + "\n";
  }
  return problems;
}

// Waits until some of the garbage's files are gone but not all, and some digests are
// tombstoned: the collector is in the middle of deleting bytes. The collector (process `pid`)
// is then left stopped (SIGSTOP), so that state still holds when the caller kills it: it
// tombstones, deletes and clears a batch at a time, and without the stop a kill a few
// milliseconds later could land between two batches, with no tombstone left to test.
bool deleting(const fs::path& data, const Store& store, pid_t pid,
              const std::function<bool()>& alive) {
  const std::size_t full = store.needed.size() + store.garbage.size();
  const auto in_the_middle = [&] {
    const auto n = blob_files(data).size();
    return n < full && n > store.needed.size() && tombstone_count(data) > 0;
  };
  return eventually(
      [&] {
        if (!alive()) {
          return true;
        }
        if (!in_the_middle()) {
          return false;
        }
        ::kill(pid, SIGSTOP);
        // The stop is asynchronous; give it time to take before looking again.
        std::this_thread::sleep_for(50ms);
        if (in_the_middle()) {
          return true;
        }
        ::kill(pid, SIGCONT);
        return false;
      },
      120s);
}

std::size_t occurrences(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// A collector killed right after tombstoning a layer leaves it tombstoned until its lease
// lapses (a minute) and the server finishes the tombstone. Pushes of that layer meanwhile wait
// for it on a timer, not on a blocking-pool thread (they used to sleep there for up to 30 s):
// with a pool of two threads and four such pushes waiting, an unrelated push is still served,
// and once the tombstone is finished every waiting push completes.
TEST(KillDuringGc, PushesOfALayerAKilledCollectorTombstonedHoldNoPoolThread) {
  CrashableBerth berth({{"BERTH_GC_INTERVAL", "0"},
                        {"BERTH_GC_BLOB_GRACE", "0"},
                        {"BERTH_HTTP_BLOCKING_THREADS", "2"}});
  berth.start();
  RegistryClient registry("127.0.0.1", berth.port());
  const std::string layer = random_bytes(4096);
  const std::string digest = registry.push_blob("base/old", layer);
  ASSERT_EQ(registry.http().del("/v2/base/old/blobs/" + digest).status, 202u);
  leave_tombstone_of_a_killed_collector(berth.data(), digest);

  constexpr std::size_t kPushes = 4;
  std::atomic<std::size_t> answered{0};
  std::vector<HttpResponse> responses(kPushes);
  std::vector<std::thread> pushes;
  for (std::size_t i = 0; i < kPushes; ++i) {
    pushes.emplace_back([&, i] {
      HttpClient http("127.0.0.1", berth.port());
      http.set_timeout(120s);
      responses[i] =
          http.post("/v2/base/app" + std::to_string(i) + "/blobs/uploads/?digest=" + digest, layer,
                    {{"Content-Type", "application/octet-stream"}});
      ++answered;
    });
  }
  const std::string waiting = "waiting for garbage collection to finish deleting";
  const bool all_waiting =
      eventually([&] { return occurrences(berth.logs(), waiting) >= kPushes; }, 60s);
  EXPECT_TRUE(all_waiting) << berth.logs();
  if (all_waiting) {
    const auto unrelated = registry.push_blob("other/app", random_bytes(100));
    EXPECT_EQ(registry.pull_blob("other/app", unrelated).size(), 100u);
    EXPECT_EQ(answered.load(), 0u) << "the unrelated push was served while every push waited";
  }

  // The dead holder's lease lapses: the server finishes the tombstone, and the pushes go on.
  ASSERT_TRUE(expire_gc_lease(berth.data()));
  for (auto& push : pushes) {
    push.join();
  }
  for (std::size_t i = 0; i < kPushes; ++i) {
    EXPECT_EQ(responses[i].status, 201u) << describe(responses[i]);
    EXPECT_EQ(registry.pull_blob("base/app" + std::to_string(i), digest), layer);
  }
  EXPECT_EQ(tombstone_count(berth.data()), 0u);
  registry.http().close();
  EXPECT_EQ(berth.stop(), 0) << berth.logs();
}

TEST(KillDuringGc, BerthGcKilledMidRunLosesNothingAndTheNextRunFinishes) {
  CrashableBerth berth(kGcOnDemand);
  berth.start();
  const auto store = fill(berth.port(), 6, 1024, kGarbage);
  ASSERT_EQ(blob_files(berth.data()).size(), store.needed.size() + store.garbage.size());

  BerthCommand gc({"gc", "--grace", "0", "--data", berth.data().string()});
  ASSERT_TRUE(deleting(berth.data(), store, gc.pid(), [&] { return gc.running(); }));
  ASSERT_TRUE(gc.running()) << "berth gc finished before it could be killed: " << gc.wait().out
                            << "; more garbage is needed";
  const auto killed = gc.kill();
  EXPECT_EQ(killed.status, 128 + SIGKILL);
  const auto left = blob_files(berth.data()).size();
  EXPECT_GT(left, store.needed.size()) << "the kill came after the last deletion";
  const auto tombstones = tombstone_count(berth.data());
  std::cout << "killed berth gc with " << left - store.needed.size() << " of " << kGarbage
            << " garbage blobs and " << tombstones << " tombstones left\n";

  // Nothing referenced is lost, while the server keeps serving.
  EXPECT_EQ(images_problems(berth.port(), store), "");

  // The dead collector's lease keeps the next one off until it lapses...
  ASSERT_TRUE(gc_lease_row_exists(berth.data()));
  const auto blocked = berth_on(berth.data(), {"gc", "--grace", "0"});
  EXPECT_EQ(blocked.status, 75) << blocked.out << blocked.err;
  HttpClient http("127.0.0.1", berth.port());
  EXPECT_EQ(AdminApi(http).try_gc(false).status, 409u);

  // ... and then the server finishes the tombstones by itself (regression: it left them to its
  // next scheduled collection, which is off here, so pushes of those digests kept failing),
  // and the next run finishes the rest.
  ASSERT_TRUE(expire_gc_lease(berth.data()));
  EXPECT_TRUE(eventually([&] { return tombstone_count(berth.data()) == 0; }, 60s))
      << tombstone_count(berth.data()) << " of " << tombstones << " tombstones left";
  const auto report = gc_on(berth.data(), {"--grace", "0"});
  EXPECT_TRUE(report.at("errors").as_array().empty()) << json::serialize(report);
  EXPECT_EQ(disk_problems(berth.data(), store), "");
  EXPECT_TRUE(AdminApi(http).gc(true).at("removed").as_array().empty());
  EXPECT_EQ(images_problems(berth.port(), store), "");
  // A blob the killed run had begun to collect can be pushed again.
  RegistryClient registry("127.0.0.1", berth.port());
  const auto again = random_bytes(200);
  registry.push_blob("junk/blobs", again);
  EXPECT_TRUE(registry.blob_exists("junk/blobs", sha256_digest(again)));

  http.close();
  registry.http().close();
  EXPECT_EQ(berth.stop(), 0) << berth.logs();
}

TEST(KillDuringGc, ServerKilledWhileItCollectsLosesNothingAndTheNextRunFinishes) {
  CrashableBerth berth(kGcOnDemand);
  berth.start();
  const auto store = fill(berth.port(), 6, 1024, kGarbage);

  std::atomic<bool> answered{false};
  std::thread request([&, port = berth.port()] {
    HttpClient http("127.0.0.1", port);
    try {
      (void)AdminApi(http).try_gc(false);
      answered = true;
    } catch (const std::exception&) {
      // The server died under the request: expected.
    }
  });
  const bool mid_run = deleting(berth.data(), store, berth.pid(), [&] { return !answered.load(); });
  berth.kill();
  request.join();
  ASSERT_TRUE(mid_run);
  ASSERT_FALSE(answered.load()) << "the collection finished before the kill; more garbage needed";
  const auto left = blob_files(berth.data()).size();
  EXPECT_GT(left, store.needed.size());
  std::cout << "killed the server with " << left - store.needed.size() << " of " << kGarbage
            << " garbage blobs and " << tombstone_count(berth.data()) << " tombstones left\n";

  const auto tombstones = tombstone_count(berth.data());
  EXPECT_GT(tombstones, 0u);

  berth.start();
  EXPECT_EQ(images_problems(berth.port(), store), "");
  HttpClient http("127.0.0.1", berth.port());
  AdminApi admin(http);
  // The dead server's collection still holds the lease.
  EXPECT_EQ(admin.try_gc(false).status, 409u);
  ASSERT_TRUE(expire_gc_lease(berth.data()));
  // Regression: the tombstones the killed collection left (digests nobody can push while they
  // exist) were finished at start only if the lease was free, and otherwise waited for the
  // next scheduled collection: with the schedule off (gc.interval=0, as here), forever. The
  // server now retries finishing them until it gets the lease.
  EXPECT_TRUE(eventually([&] { return tombstone_count(berth.data()) == 0; }, 60s))
      << tombstone_count(berth.data()) << " of " << tombstones << " tombstones left";
  const auto report = admin.gc(false);
  EXPECT_TRUE(report.at("errors").as_array().empty()) << json::serialize(report);
  EXPECT_EQ(disk_problems(berth.data(), store), "");
  EXPECT_TRUE(admin.gc(true).at("removed").as_array().empty());
  EXPECT_EQ(images_problems(berth.port(), store), "");
  // The check agrees.
  const auto check = berth_on(berth.data(), {"check", "--grace", "0"});
  EXPECT_EQ(check.status, 0) << check.out << check.err;

  http.close();
  EXPECT_EQ(berth.stop(), 0) << berth.logs();
}

TEST(KillDuringBackup, KilledBackupIsRefusedByRestoreAndResumes) {
  CrashableBerth berth(kGcOnDemand);
  berth.start();
  // Enough bytes that copying and verifying them takes a moment.
  const auto store = fill(berth.port(), 24, 512 * 1024, 0);
  TempDir scratch;
  const auto dir = scratch.path() / "backup";

  // --lease-ttl 1s: the lease the killed backup holds lapses quickly.
  BerthCommand backup({"backup", dir.string(), "--lease-ttl", "1s", "--threads", "1", "--data",
                       berth.data().string()});
  const bool copying = eventually(
      [&] {
        return !backup.running() || (!blob_files(dir).empty() && blob_files(dir).size() < 20);
      },
      120s);
  ASSERT_TRUE(copying);
  ASSERT_TRUE(backup.running()) << "the backup finished before it could be killed: "
                                << backup.wait().out;
  EXPECT_EQ(backup.kill().status, 128 + SIGKILL);
  const auto copied = blob_files(dir).size();
  EXPECT_GT(copied, 0u);
  EXPECT_FALSE(fs::exists(dir / "BACKUP"));

  // Restore refuses it and leaves the target alone.
  const auto target = scratch.path() / "restored";
  const auto refused = berth_on(target, {"restore", dir.string()});
  EXPECT_NE(refused.status, 0) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("no finished backup"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(target / "berth.db"));
  EXPECT_TRUE(blob_files(target).empty());

  // Nothing was lost at the source, and collection works again once the lease lapsed.
  EXPECT_EQ(images_problems(berth.port(), store), "");
  HttpClient http("127.0.0.1", berth.port());
  const auto report = AdminApi(http).gc(false);
  EXPECT_TRUE(report.at("removed").as_array().empty()) << json::serialize(report);

  // Running it again resumes: what was copied is verified and kept.
  const auto resumed = berth_on(berth.data(), {"backup", dir.string()});
  ASSERT_EQ(resumed.status, 0) << resumed.out << resumed.err;
  EXPECT_NE(resumed.out.find(std::to_string(store.needed.size()) + " blobs"), std::string::npos)
      << resumed.out;
  EXPECT_EQ(resumed.out.find(" 0 kept from an earlier run"), std::string::npos) << resumed.out;
  ASSERT_TRUE(fs::exists(dir / "BACKUP"));

  const auto restored = berth_on(target, {"restore", dir.string()});
  ASSERT_EQ(restored.status, 0) << restored.out << restored.err;
  BerthOptions options;
  options.data = target;
  BerthProcess copy(options);
  EXPECT_EQ(images_problems(copy.port(), store), "");
  EXPECT_EQ(copy.stop(), 0);
  const auto check = berth_on(target, {"check"});
  EXPECT_EQ(check.status, 0) << check.out << check.err;

  http.close();
  EXPECT_EQ(berth.stop(), 0) << berth.logs();
}

}  // namespace
}  // namespace berth::testing::lifecycle
