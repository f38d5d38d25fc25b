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

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "berth_process.hpp"
#include "registry_client.hpp"
#include "testing/postgres.hpp"

namespace berth::testing {
namespace {

class PostgresServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& server = Postgres::shared();
    ASSERT_TRUE(server.error().empty()) << server.error();
    if (!server.skip_reason().empty()) {
      GTEST_SKIP() << server.skip_reason();
    }
    schema_ = std::make_unique<PostgresSchema>(server.url());
    ASSERT_TRUE(schema_->error().empty()) << schema_->error();
  }

  // The environment of a replica on the test's database. The URL names a password that the
  // trust-authenticated test server ignores, to check that it is never logged.
  std::map<std::string, std::string> environment() const {
    std::string url = schema_->url();
    url.insert(url.find("://") + 3 + std::string("postgres").size(), ":" + std::string(kPassword));
    return {{"BERTH_METADATA_DRIVER", "postgres"}, {"BERTH_METADATA_POSTGRES_URL", url}};
  }

  BerthOptions options() const {
    BerthOptions options;
    options.env = environment();
    return options;
  }

  static constexpr const char* kPassword = "pg-pass-never-logged";
  std::unique_ptr<PostgresSchema> schema_;
};

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

TEST(PostgresOutageTest, RequestsAre503WithRetryAfterUntilPostgresIsBack) {
  if (std::getenv("BERTH_POSTGRES_SCRIPT") == nullptr) {
    GTEST_SKIP() << "BERTH_POSTGRES_SCRIPT is not set (ctest sets it)";
  }
  // A server of its own: the shared one is not to be stopped.
  std::string pattern = (std::filesystem::temp_directory_path() / "berth-pg-down-XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const std::filesystem::path dir = std::filesystem::path(pattern) / "pg";
  struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() {
      postgres_script("stop " + dir.string());
      std::filesystem::remove_all(dir.parent_path());
    }
  } cleanup{dir};
  ASSERT_TRUE(postgres_script("start " + dir.string()));
  std::string url;
  {
    std::ifstream in(dir / "url");
    std::getline(in, url);
  }
  BerthOptions options;
  options.env = {{"BERTH_METADATA_DRIVER", "postgres"}, {"BERTH_METADATA_POSTGRES_URL", url}};
  BerthProcess server(options);
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

}  // namespace
}  // namespace berth::testing
