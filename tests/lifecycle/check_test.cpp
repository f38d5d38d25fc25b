// `berth check` on the data directory of a serving berth. The test damages the store behind the
// server's back: one blob file gets other bytes (same size), one blob file is deleted, and a
// file nothing references is planted. check finds exactly those three (and says which images
// need the damaged blobs), exits 1, and changes nothing. --repair does what check.hpp says:
// the planted file is deleted; the corrupt and the missing blob are unlinked everywhere (HEAD
// answers 404, so pushing again uploads them) and stay reported, with the images to push again,
// so it still exits 1. After the images are pushed again, check is clean (exit 0), and every
// image reads back byte for byte. A check that cannot run exits 2.
//
// And beside a busy registry: while clients push, move tags and delete images and garbage
// collection runs every half second, `berth check` and `berth check --repair` find nothing
// (what changes under them is looked at again before it is reported) and break nothing.
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <thread>

#include "lifecycle_support.hpp"

namespace berth::testing::lifecycle {
namespace {

namespace json = boost::json;

struct Found {
  std::string kind;
  std::string subject;
  std::vector<std::string> affected;
  bool fixed = false;
  std::string action;
};

struct CheckRun {
  int status = -1;
  std::string output;
  json::object report;
  std::vector<Found> findings;
};

// `berth check --json` with `args` (--grace 0 unless they give one).
CheckRun check(const fs::path& data, std::vector<std::string> args = {}, bool no_grace = true) {
  args.insert(args.begin(), {"check", "--json"});
  if (no_grace) {
    args.insert(args.end(), {"--grace", "0"});
  }
  const auto result = berth_on(data, args);
  CheckRun run;
  run.status = result.status;
  run.output = "exit " + std::to_string(result.status) + "\nstdout: " + result.out +
               "\nstderr: " + result.err;
  if (result.status == 0 || result.status == 1) {
    run.report = json_object(result.out);
    for (const auto& value : run.report.at("findings").as_array()) {
      const auto& object = value.as_object();
      Found found;
      found.kind = std::string(object.at("kind").as_string());
      found.subject = std::string(object.at("subject").as_string());
      for (const auto& affected : object.at("affected").as_array()) {
        found.affected.push_back(std::string(affected.as_string()));
      }
      found.fixed = object.at("fixed").as_bool();
      found.action = std::string(object.at("action").as_string());
      run.findings.push_back(std::move(found));
    }
    std::sort(run.findings.begin(), run.findings.end(),
              [](const Found& a, const Found& b) { return a.kind < b.kind; });
  }
  return run;
}

void overwrite(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

TEST(CheckOnServingRegistry, FindsCorruptMissingAndStrayBlobsAndRepairsWhatItCan) {
  CrashableBerth berth;
  berth.start();
  RegistryClient registry("127.0.0.1", berth.port());
  const auto options = ImageOptions().with_layers(2).with_layer_size(2048);
  const auto a = registry.push_image("chk/a", "v1", options);
  const auto b = registry.push_image("chk/b", "v1", options);
  const auto c = registry.push_image("chk/c", "v1", options);

  // Clean to begin with.
  const auto clean = check(berth.data());
  ASSERT_EQ(clean.status, 0) << clean.output;
  EXPECT_TRUE(clean.findings.empty()) << clean.output;

  // The damage: other bytes of the same size, a deleted file, a file nothing references.
  const auto corrupt = a.layers[0];
  std::string flipped = corrupt.bytes;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x5a);
  overwrite(crash::blob_path(berth.data(), corrupt.digest), flipped);
  const auto missing = b.layers[1];
  ASSERT_TRUE(fs::remove(crash::blob_path(berth.data(), missing.digest)));
  const std::string stray_bytes = random_bytes(333);
  const std::string stray = sha256_digest(stray_bytes);
  fs::create_directories(crash::blob_path(berth.data(), stray).parent_path());
  overwrite(crash::blob_path(berth.data(), stray), stray_bytes);

  const auto found = check(berth.data());
  ASSERT_EQ(found.status, 1) << found.output;
  ASSERT_EQ(found.findings.size(), 3u) << found.output;
  EXPECT_EQ(found.findings[0].kind, "corrupt-blob") << found.output;
  EXPECT_EQ(found.findings[0].subject, corrupt.digest) << found.output;
  EXPECT_EQ(found.findings[0].affected, std::vector<std::string>{"chk/a:v1"}) << found.output;
  EXPECT_EQ(found.findings[1].kind, "missing-bytes") << found.output;
  EXPECT_EQ(found.findings[1].subject, missing.digest) << found.output;
  EXPECT_EQ(found.findings[1].affected, std::vector<std::string>{"chk/b:v1"}) << found.output;
  EXPECT_EQ(found.findings[2].kind, "unreferenced-file") << found.output;
  EXPECT_EQ(found.findings[2].subject, stray) << found.output;
  // Looking changed nothing.
  EXPECT_TRUE(fs::exists(crash::blob_path(berth.data(), stray)));
  EXPECT_EQ(crash::read_file(crash::blob_path(berth.data(), corrupt.digest)), flipped);
  EXPECT_TRUE(registry.blob_exists("chk/a", corrupt.digest));

  // The text output says the same, for people.
  const auto text = berth_on(berth.data(), {"check", "--grace", "0"});
  EXPECT_EQ(text.status, 1) << text.out << text.err;
  EXPECT_NE(text.out.find("3 problems found"), std::string::npos) << text.out;

  // --repair, while the server serves.
  const auto repaired = check(berth.data(), {"--repair"});
  ASSERT_EQ(repaired.status, 1) << repaired.output;
  ASSERT_EQ(repaired.findings.size(), 3u) << repaired.output;
  EXPECT_EQ(repaired.report.at("remaining").to_number<int>(), 2) << repaired.output;
  // The stray file is deleted.
  EXPECT_TRUE(repaired.findings[2].fixed) << repaired.output;
  EXPECT_FALSE(fs::exists(crash::blob_path(berth.data(), stray)));
  // The corrupt and missing blobs are unlinked (no client is served the bad bytes) and need a
  // push again, which the report says.
  EXPECT_FALSE(repaired.findings[0].fixed) << repaired.output;
  EXPECT_FALSE(repaired.findings[1].fixed) << repaired.output;
  EXPECT_NE(repaired.findings[0].action.find("unlinked it from chk/a"), std::string::npos)
      << repaired.output;
  EXPECT_NE(repaired.findings[1].action.find("unlinked it from chk/b"), std::string::npos)
      << repaired.output;
  EXPECT_FALSE(fs::exists(crash::blob_path(berth.data(), corrupt.digest)));
  EXPECT_FALSE(registry.blob_exists("chk/a", corrupt.digest));
  EXPECT_FALSE(registry.blob_exists("chk/b", missing.digest));
  const auto served = registry.http().get("/v2/chk/a/blobs/" + corrupt.digest);
  EXPECT_EQ(served.status, 404u) << describe(served);
  // The undamaged image was not touched.
  EXPECT_EQ(image_problem(registry, "chk/c", "v1", c), "");

  // Pushing the images again (as a client does: what HEAD does not find is uploaded) heals them.
  for (const auto& [repo, image] : {std::pair{"chk/a", &a}, std::pair{"chk/b", &b}}) {
    for (const auto& layer : image->layers) {
      if (!registry.blob_exists(repo, layer.digest)) {
        registry.push_blob(repo, layer.bytes);
      }
    }
    registry.push_manifest(repo, "v1", image->manifest, image->media_type);
  }
  const auto healed = check(berth.data());
  EXPECT_EQ(healed.status, 0) << healed.output;
  EXPECT_TRUE(healed.findings.empty()) << healed.output;
  EXPECT_EQ(image_problem(registry, "chk/a", "v1", a), "");
  EXPECT_EQ(image_problem(registry, "chk/b", "v1", b), "");
  EXPECT_EQ(image_problem(registry, "chk/c", "v1", c), "");

  // A check that cannot run: exit 2.
  TempDir nowhere;
  const auto cannot = berth_on(nowhere.path() / "none", {"check"});
  EXPECT_EQ(cannot.status, 2) << cannot.out << cannot.err;

  registry.http().close();
  EXPECT_EQ(berth.stop(), 0) << berth.logs();
}

TEST(CheckOnServingRegistry, FindsNothingAndBreaksNothingWhilePushesDeletesAndGcGoOn) {
  CrashableBerth berth({{"BERTH_GC_INTERVAL", "500ms"}, {"BERTH_GC_BLOB_GRACE", "2s"}});
  berth.start();
  const auto port = berth.port();
  std::mutex mutex;
  // repo → tag → image: what must be there at the end.
  std::map<std::string, std::map<std::string, PushedImage>> live;
  std::vector<std::string> failures;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 3; ++c) {
    clients.emplace_back([&, c] {
      RegistryClient registry("127.0.0.1", port);
      const std::string repo = "busy/c" + std::to_string(c);
      std::map<std::string, PushedImage> mine;
      try {
        for (int i = 0; !stop.load(); ++i) {
          const std::string tag = "v" + std::to_string(i % 6);
          mine[tag] = registry.push_image(repo, tag,
                                          ImageOptions().with_layers(2).with_layer_size(2048 + i));
          if (i % 4 == 3) {
            // Delete one by digest (with its tag).
            const auto victim = mine.begin();
            const auto deleted =
                registry.http().del("/v2/" + repo + "/manifests/" + victim->second.digest);
            if (deleted.status != 202) {
              throw std::runtime_error("DELETE answered " + describe(deleted));
            }
            mine.erase(victim);
          }
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        failures.push_back(e.what());
      }
      std::lock_guard lock(mutex);
      live[repo] = std::move(mine);
    });
  }
  std::vector<std::string> findings;
  int runs = 0;
  const auto until = std::chrono::steady_clock::now() + 8s;
  while (std::chrono::steady_clock::now() < until) {
    const bool repair = runs % 2 == 1;
    // The default grace: blobs of pushes in flight are no finding.
    const auto run =
        repair ? check(berth.data(), {"--repair"}, false) : check(berth.data(), {}, false);
    ++runs;
    if (run.status != 0 || !run.findings.empty()) {
      findings.push_back(run.output);
    }
  }
  stop = true;
  for (auto& client : clients) {
    client.join();
  }
  ASSERT_TRUE(failures.empty()) << ::testing::PrintToString(failures);
  EXPECT_TRUE(findings.empty()) << findings.size() << " of " << runs
                                << " checks found something, e.g.\n"
                                << findings.front();
  RegistryClient registry("127.0.0.1", port);
  for (const auto& [repo, tags] : live) {
    for (const auto& [tag, image] : tags) {
      EXPECT_EQ(image_problem(registry, repo, tag, image), "");
    }
  }
  const auto settled = check(berth.data());
  EXPECT_EQ(settled.status, 0) << settled.output;
  registry.http().close();
  EXPECT_EQ(berth.stop(), 0) << berth.logs();
}

}  // namespace
}  // namespace berth::testing::lifecycle
