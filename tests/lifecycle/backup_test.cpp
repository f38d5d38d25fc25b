// Backup while pushing: client threads push images (and move a tag) without pause while
// `berth backup DIR` runs beside the server, which the test stops (SIGSTOP) right after it has
// taken its database snapshot until more images have been acknowledged, so that pushes surely
// overlap the backup; then `berth restore DIR` fills an empty data directory and a new server
// starts on it. Every image acknowledged before the backup began
// pulls back from it byte for byte; whatever was pushed during the backup is either whole in
// it or absent (every tag of the restored catalog resolves to a manifest whose blobs all read
// back, hashing to their digests); `berth check` on the restored directory is clean; and a
// restore into a directory that is not empty is refused.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "lifecycle_support.hpp"

namespace berth::testing::lifecycle {
namespace {

constexpr std::size_t kPushers = 3;

// Whether process `pid` is stopped (state T in /proc/<pid>/stat).
bool is_stopped(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'T';
}

// pid is our child, alive (never -1: that would signal every process).
void stop_and_wait(pid_t pid) {
  if (pid <= 0) {
    return;
  }
  ::kill(pid, SIGSTOP);
  eventually([&] { return is_stopped(pid); }, 10s);
}

// Leaves `backup` stopped once it has taken its database snapshot (it has made its blob store
// in `dir`) and not yet finished (no BACKUP file): whatever is acknowledged while it is stopped
// is pushed during the backup, and after its snapshot. It runs a millisecond at a time until
// then, so that even a quick copy is caught. False if it ended first.
bool stop_after_snapshot(BerthCommand& backup, const fs::path& dir) {
  const pid_t pid = backup.pid();
  stop_and_wait(pid);
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline && backup.running()) {
    if (fs::exists(dir / "tmp")) {
      return !fs::exists(dir / "BACKUP");
    }
    ::kill(pid, SIGCONT);
    std::this_thread::sleep_for(1ms);
    stop_and_wait(pid);
  }
  return false;
}

struct Acknowledged {
  std::string repo;
  std::string tag;
  PushedImage image;
};

TEST(BackupWhilePushing, RestoreServesEverythingPushedBeforeTheBackupBegan) {
  CrashableBerth berth;
  berth.start();
  const auto port = berth.port();

  std::mutex mutex;
  std::vector<Acknowledged> acknowledged;
  std::vector<std::string> failures;
  std::atomic<bool> stop{false};
  std::vector<std::thread> pushers;
  for (std::size_t p = 0; p < kPushers; ++p) {
    pushers.emplace_back([&, p] {
      RegistryClient registry("127.0.0.1", port);
      const std::string repo = "bk/p" + std::to_string(p);
      for (std::size_t i = 0; !stop.load(); ++i) {
        try {
          const std::string tag = "v" + std::to_string(i);
          auto image = registry.push_image(
              repo, tag, ImageOptions().with_layers(2).with_layer_size(16 * 1024 + i % 7));
          // A tag that keeps moving, so the snapshot catches one of its positions.
          registry.push_manifest(repo, "latest", image.manifest, image.media_type);
          std::lock_guard lock(mutex);
          acknowledged.push_back({repo, tag, std::move(image)});
        } catch (const std::exception& e) {
          std::lock_guard lock(mutex);
          failures.push_back(e.what());
          return;
        }
      }
    });
  }
  // Some images before the backup, then the backup while the pushes go on.
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return acknowledged.size() >= 30 || !failures.empty();
  }));
  std::vector<Acknowledged> before;
  {
    std::lock_guard lock(mutex);
    before = acknowledged;
  }
  TempDir scratch;
  const auto dir = scratch.path() / "backup";
  BerthCommand running({"backup", dir.string(), "--data", berth.data().string()});
  const bool stopped = stop_after_snapshot(running, dir);
  const auto acknowledged_count = [&] {
    std::lock_guard lock(mutex);
    return acknowledged.size();
  };
  const std::size_t at_stop = acknowledged_count();
  // While the backup is stopped past its snapshot, pushes go on; more than a few, surely.
  if (stopped) {
    EXPECT_TRUE(eventually([&] { return acknowledged_count() >= at_stop + 2 * kPushers; }, 120s));
  }
  const std::size_t while_stopped = acknowledged_count() - at_stop;
  if (running.running()) {
    ::kill(running.pid(), SIGCONT);
  }
  const auto backup = running.wait();
  const std::size_t during = acknowledged_count() - before.size();
  ASSERT_TRUE(stopped) << "the backup ended before it could be stopped after its snapshot: "
                       << backup.out << backup.err;
  EXPECT_GE(while_stopped, 2 * kPushers) << "pushes did not overlap the backup";
  // A few more after it, then stop.
  std::this_thread::sleep_for(500ms);
  stop = true;
  for (auto& pusher : pushers) {
    pusher.join();
  }
  ASSERT_TRUE(failures.empty()) << ::testing::PrintToString(failures);
  ASSERT_EQ(backup.status, 0) << backup.out << backup.err;
  std::cout << before.size() << " images before the backup, " << during << " during it ("
            << while_stopped << " after its snapshot), " << acknowledged.size() << " in all\n"
            << backup.out;
  ASSERT_TRUE(fs::exists(dir / "BACKUP"));

  // Restore into an empty directory, and serve it.
  const auto target = scratch.path() / "restored";
  const auto restored = berth_on(target, {"restore", dir.string()});
  ASSERT_EQ(restored.status, 0) << restored.out << restored.err;
  BerthOptions options;
  options.data = target;
  auto copy = std::make_unique<BerthProcess>(options);
  RegistryClient registry("127.0.0.1", copy->port());
  for (const auto& [repo, tag, image] : before) {
    EXPECT_EQ(image_problem(registry, repo, tag, image), "");
  }
  // What came during the backup is whole or absent; nothing after it is there.
  const auto catalog = crash::check_catalog(registry);
  EXPECT_TRUE(catalog.problems.empty()) << ::testing::PrintToString(catalog.problems);
  std::size_t present = 0;
  for (std::size_t i = before.size(); i < acknowledged.size(); ++i) {
    const auto& [repo, tag, image] = acknowledged[i];
    if (registry.manifest_exists(repo, tag)) {
      ++present;
      EXPECT_EQ(image_problem(registry, repo, tag, image), "");
    }
  }
  EXPECT_LT(present, acknowledged.size() - before.size()) << "the backup saw the future";
  std::cout << present << " of the images pushed during or after the backup are in it\n";
  registry.http().close();
  EXPECT_EQ(copy->stop(), 0) << copy->log();
  copy.reset();

  const auto check = berth_on(target, {"check"});
  EXPECT_EQ(check.status, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("no problems found"), std::string::npos) << check.out;

  // A restore never overwrites data.
  const auto again = berth_on(target, {"restore", dir.string()});
  EXPECT_NE(again.status, 0) << again.out << again.err;
  const auto into_live = berth_on(berth.data(), {"restore", dir.string()});
  EXPECT_NE(into_live.status, 0) << into_live.out << into_live.err;

  EXPECT_EQ(berth.stop(), 0) << berth.logs();
}

}  // namespace
}  // namespace berth::testing::lifecycle
