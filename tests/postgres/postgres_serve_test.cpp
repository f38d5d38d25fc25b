// berth serve with metadata.driver postgres on a real PostgreSQL 15 (the ctest fixture
// "postgres", or one started here when run by hand), configured from the environment as an
// operator would (BERTH_METADATA_DRIVER, BERTH_METADATA_POSTGRES_URL): images pushed over HTTP
// come back byte for byte, from the same server and from a second one on the same database (a
// replica with its own data directory), and after a restart; the password never reaches the
// log; berth gc, berth check and berth backup run against the database; while
// PostgreSQL is down requests are answered 503 with Retry-After, and once it is back the
// server serves again by itself.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "berth_process.hpp"
#include "postgres_replicas.hpp"
#include "registry_client.hpp"
#include "testing/postgres.hpp"

namespace berth::testing {
namespace {

using PostgresServeTest = PostgresReplicasTest;

TEST_F(PostgresServeTest, PushOnOneReplicaPullFromAnother) {
  // Two replicas, each with a data directory of its own, sharing the blobs (the first one's
  // storage root, as they would share a bucket) and the database: what one pushes, the other
  // serves.
  BerthProcess first(options());
  BerthOptions replica = options();
  replica.env["BERTH_STORAGE_ROOT"] = first.data().string();
  BerthProcess second(replica);
  RegistryClient pusher("127.0.0.1", first.port());
  RegistryClient puller("127.0.0.1", second.port());
  auto image = pusher.push_image("team/app", "v1", ImageOptions().with_layers(2));
  puller.verify_image("team/app", image);
  EXPECT_EQ(puller.list_tags("team/app"), std::vector<std::string>{"v1"});
  const std::string log = first.log();
  EXPECT_NE(log.find("metadata: postgres database"), std::string::npos) << log;
  EXPECT_EQ(log.find(kPassword), std::string::npos) << "the password was logged";
  EXPECT_EQ(second.stop(), 0) << second.log();
  EXPECT_EQ(first.stop(), 0) << first.log();
}

TEST_F(PostgresServeTest, ImagesSurviveARestartAndTheCommandsUseTheDatabase) {
  std::string pattern = (std::filesystem::temp_directory_path() / "berth-pg-XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const std::filesystem::path data = pattern;
  struct RemoveAll {
    std::filesystem::path dir;
    ~RemoveAll() { std::filesystem::remove_all(dir); }
  } cleanup{data};
  BerthOptions first = options();
  first.data = data;
  PushedImage image;
  {
    BerthProcess server(first);
    RegistryClient registry("127.0.0.1", server.port());
    image = registry.push_image("team/app", "v1", ImageOptions().with_layers(1));
    EXPECT_EQ(server.stop(), 0) << server.log();
  }
  // berth gc and berth check read the same database (an empty SQLite file would find nothing to
  // collect and report every blob as unknown).
  const auto env = environment();
  for (const auto& [name, value] : env) {
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  CommandResult check = run_berth({"check", "--data", data.string()});
  CommandResult gc = run_berth({"gc", "--dry-run", "--data", data.string()});
  CommandResult backup = run_berth({"backup", "--data", data.string(), (data / "bk").string()});
  for (const auto& [name, value] : env) {
    ::unsetenv(name.c_str());
  }
  EXPECT_EQ(check.status, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("1 manifest"), std::string::npos) << check.out;
  EXPECT_EQ(gc.status, 0) << gc.out << gc.err;
  EXPECT_EQ(backup.status, 0) << backup.out << backup.err;
  EXPECT_TRUE(std::filesystem::exists(data / "bk" / "BACKUP"));
  EXPECT_FALSE(std::filesystem::exists(data / "berth.db")) << "SQLite was used";

  BerthProcess server(first);
  RegistryClient registry("127.0.0.1", server.port());
  registry.verify_image("team/app", image);
  EXPECT_EQ(server.stop(), 0) << server.log();
}

// Runs scripts/postgres.sh (its path in $BERTH_POSTGRES_SCRIPT); true on success.
bool postgres_script(const std::string& arguments) {
  const char* script = std::getenv("BERTH_POSTGRES_SCRIPT");
  return script != nullptr &&
         std::system((std::string("bash ") + script + " " + arguments + " >/dev/null").c_str()) ==
             0;
}

// A PostgreSQL server of the test's own, for tests that stop or crash it (the shared one of the
// ctest fixture is not to be stopped); stopped and removed with the object.
class OwnPostgres {
 public:
  OwnPostgres() {
    std::string pattern = (std::filesystem::temp_directory_path() / "berth-pg-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return;
    }
    dir_ = std::filesystem::path(pattern) / "pg";
    started_ = postgres_script("start " + dir_.string());
    std::ifstream in(dir_ / "url");
    std::getline(in, url_);
  }
  ~OwnPostgres() {
    if (!dir_.empty()) {
      postgres_script("stop " + dir_.string());
      std::filesystem::remove_all(dir_.parent_path());
    }
  }
  OwnPostgres(const OwnPostgres&) = delete;
  OwnPostgres& operator=(const OwnPostgres&) = delete;

  bool started() const { return started_ && !url_.empty(); }
  // Where scripts/postgres.sh keeps it: for `stop`, `resume` and `crash`.
  const std::filesystem::path& dir() const { return dir_; }
  const std::string& url() const { return url_; }
  // A Berth server's options to keep its metadata here.
  BerthOptions berth_options() const {
    BerthOptions options;
    options.env = {{"BERTH_METADATA_DRIVER", "postgres"}, {"BERTH_METADATA_POSTGRES_URL", url_}};
    return options;
  }

 private:
  std::filesystem::path dir_;
  std::string url_;
  bool started_ = false;
};

TEST(PostgresOutageTest, RequestsAre503WithRetryAfterUntilPostgresIsBack) {
  if (std::getenv("BERTH_POSTGRES_SCRIPT") == nullptr) {
    GTEST_SKIP() << "BERTH_POSTGRES_SCRIPT is not set (ctest sets it)";
  }
  OwnPostgres postgres;
  ASSERT_TRUE(postgres.started());
  const std::filesystem::path& dir = postgres.dir();
  BerthProcess server(postgres.berth_options());
  RegistryClient registry("127.0.0.1", server.port());
  auto image = registry.push_image("team/app", "v1", ImageOptions().with_layers(1));

  ASSERT_TRUE(postgres_script("stop " + dir.string()));
  const std::string manifest = "/v2/team/app/manifests/v1";
  auto down = registry.http().get(manifest);
  EXPECT_EQ(down.status, 503u) << describe(down);
  EXPECT_FALSE(down.header("Retry-After").empty()) << describe(down);
  auto tags = registry.http().get("/v2/team/app/tags/list");
  EXPECT_EQ(tags.status, 503u) << describe(tags);

  ASSERT_TRUE(postgres_script("resume " + dir.string()));
  // Back by itself: the pool replaces its broken connections on the next requests.
  unsigned status = 0;
  for (int attempt = 0; attempt < 20 && status != 200u; ++attempt) {
    status = registry.http().get(manifest).status;
    if (status != 200u) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  EXPECT_EQ(status, 200u);
  registry.verify_image("team/app", image);
  EXPECT_EQ(server.stop(), 0) << server.log();
}

// One image pushed with one request per blob and one for the manifest, as a client would
// retry it: the outcome of the first request that did not succeed.
struct PushAttempt {
  bool acknowledged = false;
  HttpResponse failed;
};

struct RawImage {
  std::string config;
  std::string layer;
  std::string manifest;
};

RawImage raw_image(const std::string& name) {
  RawImage image;
  image.config = R"({"architecture":"amd64","os":"linux","name":")" + name + "\"}";
  image.layer = "layer of " + name + std::string(4096 + name.size(), 'x');
  image.manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      sha256_digest(image.config) + R"(","size":)" + std::to_string(image.config.size()) +
      R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
      sha256_digest(image.layer) + R"(","size":)" + std::to_string(image.layer.size()) + "}]}";
  return image;
}

PushAttempt push_raw(HttpClient& http, const std::string& repo, const std::string& tag,
                     const RawImage& image) {
  for (const std::string* blob : {&image.config, &image.layer}) {
    auto posted = http.post("/v2/" + repo + "/blobs/uploads/?digest=" + sha256_digest(*blob), *blob,
                            {{"Content-Type", "application/octet-stream"}});
    if (posted.status != 201u) {
      return {false, posted};
    }
  }
  auto put = http.put("/v2/" + repo + "/manifests/" + tag, image.manifest,
                      {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}});
  return {put.status == 201u, put};
}

// PostgreSQL crashed and restarted while clients push (issue 11, requirement 5): every request that
// needs it in the meantime is answered 503 UNAVAILABLE with Retry-After (no 500, no hang), pushes
// that were acknowledged are all there afterwards byte for byte, and pushes succeed again by
// themselves once PostgreSQL is back (the pool drops the dead connections and opens new ones).
TEST(PostgresOutageTest, RestartMidTrafficLosesNoAcknowledgedPushAndServiceComesBack) {
  if (std::getenv("BERTH_POSTGRES_SCRIPT") == nullptr) {
    GTEST_SKIP() << "BERTH_POSTGRES_SCRIPT is not set (ctest sets it)";
  }
  OwnPostgres postgres;
  ASSERT_TRUE(postgres.started());
  const std::filesystem::path& dir = postgres.dir();
  BerthProcess server(postgres.berth_options());

  struct Acknowledged {
    std::string repo;
    std::string tag;
    RawImage image;
  };
  std::mutex mutex;  // guards acknowledged and failures
  std::vector<Acknowledged> acknowledged;
  std::vector<std::string> failures;
  std::atomic<int> unavailable{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> pushers;
  for (int p = 0; p < 3; ++p) {
    pushers.emplace_back([&, p] {
      HttpClient http("127.0.0.1", server.port());
      http.set_timeout(std::chrono::seconds(30));
      const std::string repo = "team/p" + std::to_string(p);
      for (int i = 0; !stop.load();) {
        const std::string tag = "v" + std::to_string(i);
        RawImage image = raw_image(repo + ":" + tag);
        PushAttempt attempt;
        try {
          attempt = push_raw(http, repo, tag, image);
        } catch (const std::exception& e) {
          std::lock_guard lock(mutex);
          failures.push_back(std::string("no answer: ") + e.what());
          return;
        }
        if (attempt.acknowledged) {
          std::lock_guard lock(mutex);
          acknowledged.push_back({repo, tag, std::move(image)});
          ++i;
          continue;
        }
        const auto& answer = attempt.failed;
        if (answer.status != 503u || answer.header("Retry-After").empty() ||
            answer.body.find("UNAVAILABLE") == std::string::npos) {
          std::lock_guard lock(mutex);
          failures.push_back(describe(answer));
          return;
        }
        ++unavailable;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // then the same image again
      }
    });
  }
  const auto count = [&] {
    std::lock_guard lock(mutex);
    return acknowledged.size();
  };
  const auto no_failures = [&] {
    std::lock_guard lock(mutex);
    return failures.empty();
  };
  const auto wait_for = [&](const std::function<bool()>& condition) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!condition() && no_failures() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return condition();
  };
  EXPECT_TRUE(wait_for([&] { return count() >= 6; }));
  // As a crash: connections cut in the middle of transactions, recovery at the next start.
  ASSERT_TRUE(postgres_script("crash " + dir.string()));
  EXPECT_TRUE(wait_for([&] { return unavailable.load() >= 6; })) << "no 503s while it was down";
  const std::size_t before_restart = count();
  ASSERT_TRUE(postgres_script("resume " + dir.string()));
  EXPECT_TRUE(wait_for([&] { return count() >= before_restart + 6; }))
      << "pushes did not resume by themselves";
  stop = true;
  for (auto& pusher : pushers) {
    pusher.join();
  }
  EXPECT_TRUE(failures.empty()) << ::testing::PrintToString(failures);
  std::cout << acknowledged.size() << " pushes acknowledged, " << unavailable.load()
            << " answers 503 while PostgreSQL was down\n";

  HttpClient http("127.0.0.1", server.port());
  for (const auto& [repo, tag, image] : acknowledged) {
    auto manifest = http.get("/v2/" + repo + "/manifests/" + tag,
                             {{"Accept", "application/vnd.oci.image.manifest.v1+json"}});
    EXPECT_EQ(manifest.status, 200u) << repo << ":" << tag << " " << describe(manifest);
    EXPECT_EQ(manifest.body, image.manifest) << repo << ":" << tag;
    for (const std::string* blob : {&image.config, &image.layer}) {
      EXPECT_EQ(http.get("/v2/" + repo + "/blobs/" + sha256_digest(*blob)).body, *blob)
          << repo << ":" << tag;
    }
  }
  EXPECT_EQ(server.stop(), 0) << server.log();
}

}  // namespace
}  // namespace berth::testing
