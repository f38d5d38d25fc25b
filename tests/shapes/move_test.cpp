// Moving in and out (issue 11, requirement 4), as an operator would with the commands the README
// gives: a registry of the embedded shape (filesystem + SQLite) is backed up with `berth backup`,
// restored with `berth restore` into S3 (a real radosgw) + PostgreSQL, served from there, takes
// more pushes, is backed up again there, and restored into the embedded shape once more. At each
// step everything pushed before the backup is served byte for byte, and `berth check` finds
// nothing wrong on either side. A restore into a database that holds a registry is refused.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "berth_process.hpp"
#include "registry_client.hpp"
#include "testing/postgres.hpp"
#include "testing/radosgw.hpp"

namespace berth::testing {
namespace {

// The scale-out shape's settings, from the environment as an operator gives them.
std::map<std::string, std::string> scale_out_environment(const Radosgw& radosgw,
                                                         const std::string& postgres_url) {
  return {{"BERTH_STORAGE_DRIVER", "s3"},
          {"BERTH_STORAGE_S3_ENDPOINT", radosgw.endpoint()},
          {"BERTH_STORAGE_S3_BUCKET", "berth-move-" + std::to_string(::getpid())},
          {"BERTH_STORAGE_S3_PREFIX", "moved"},
          {"BERTH_STORAGE_S3_PATH_STYLE", "true"},
          {"AWS_ACCESS_KEY_ID", Radosgw::kAccessKey},
          {"AWS_SECRET_ACCESS_KEY", Radosgw::kSecretKey},
          {"BERTH_METADATA_DRIVER", "postgres"},
          {"BERTH_METADATA_POSTGRES_URL", postgres_url}};
}

// `berth args...` with `env` added to this process's environment.
CommandResult berth_with(const std::map<std::string, std::string>& env,
                         const std::vector<std::string>& args) {
  for (const auto& [name, value] : env) {
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  CommandResult result = run_berth(args);
  for (const auto& [name, value] : env) {
    ::unsetenv(name.c_str());
  }
  return result;
}

struct Image {
  std::string repo;
  std::string tag;
  PushedImage pushed;
};

// A blob of several S3 parts, pushed in chunks, so that the moves stream it piece by piece.
std::string big_blob() {
  std::string bytes(13 * 1024 * 1024 + 3, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>((i * 2654435761u) >> 11);
  }
  return bytes;
}

void expect_served(BerthProcess& server, const std::vector<Image>& images, const std::string& big,
                   const std::string& big_digest) {
  RegistryClient registry("127.0.0.1", server.port());
  for (const auto& image : images) {
    registry.verify_image(image.repo, image.pushed);
    EXPECT_EQ(registry.http().get("/v2/" + image.repo + "/manifests/" + image.tag).status, 200u)
        << image.repo << ":" << image.tag;
  }
  EXPECT_TRUE(registry.pull_blob("team/big", big_digest) == big) << "the big blob differs";
}

void expect_clean_check(const std::map<std::string, std::string>& env,
                        const std::filesystem::path& data) {
  const auto check = berth_with(env, {"check", "--data", data.string()});
  EXPECT_EQ(check.status, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("no problems found"), std::string::npos) << check.out;
}

TEST(MoveBetweenShapes, EmbeddedToS3AndPostgresAndBackKeepsEveryImage) {
  // The ctest fixture's radosgw, or one of its own when run by hand.
  Radosgw radosgw;
  ASSERT_TRUE(radosgw.error().empty()) << radosgw.error();
  if (!radosgw.skip_reason().empty()) {
    GTEST_SKIP() << radosgw.skip_reason();
  }
  auto& postgres = Postgres::shared();
  ASSERT_TRUE(postgres.error().empty()) << postgres.error();
  if (!postgres.skip_reason().empty()) {
    GTEST_SKIP() << postgres.skip_reason();
  }
  PostgresSchema schema(postgres.url());
  ASSERT_TRUE(schema.error().empty()) << schema.error();
  const auto scale_out = scale_out_environment(radosgw, schema.url());
  TempDir scratch;
  const auto embedded = scratch.path() / "embedded";
  const auto shared = scratch.path() / "shared";
  const auto back = scratch.path() / "back";
  const std::string big = big_blob();
  std::string big_digest;
  std::vector<Image> images;

  // 1. The embedded shape, backed up while it serves.
  BerthOptions first;
  first.data = embedded;
  {
    BerthProcess server(first);
    RegistryClient registry("127.0.0.1", server.port());
    for (const auto& [repo, tag] : std::vector<std::pair<std::string, std::string>>{
             {"team/app", "v1"}, {"team/app", "v2"}, {"other/tool", "latest"}}) {
      images.push_back({repo, tag, registry.push_image(repo, tag, ImageOptions().with_layers(2))});
    }
    big_digest = registry.push_blob_chunked("team/big", big, 5 * 1024 * 1024);
    const auto backup = run_berth(
        {"backup", (scratch.path() / "from-embedded").string(), "--data", embedded.string()});
    ASSERT_EQ(backup.status, 0) << backup.out << backup.err;
    EXPECT_EQ(server.stop(), 0) << server.log();
  }

  // 2. Into S3 + PostgreSQL.
  const auto moved_in = berth_with(
      scale_out,
      {"restore", (scratch.path() / "from-embedded").string(), "--data", shared.string()});
  ASSERT_EQ(moved_in.status, 0) << moved_in.out << moved_in.err;
  EXPECT_NE(moved_in.out.find("postgres database"), std::string::npos) << moved_in.out;
  EXPECT_FALSE(std::filesystem::exists(shared / "berth.db")) << "SQLite was used";
  expect_clean_check(scale_out, shared);
  BerthOptions second;
  second.data = shared;
  second.env = scale_out;
  {
    BerthProcess server(second);
    expect_served(server, images, big, big_digest);
    RegistryClient registry("127.0.0.1", server.port());
    images.push_back(
        {"team/app", "v3", registry.push_image("team/app", "v3", ImageOptions().with_layers(1))});
    // 3. Backed up there, while it serves.
    const auto backup = berth_with(scale_out, {"backup", (scratch.path() / "from-shared").string(),
                                               "--data", shared.string()});
    ASSERT_EQ(backup.status, 0) << backup.out << backup.err;
    EXPECT_EQ(server.stop(), 0) << server.log();
  }

  // A restore never mixes two registries: the database holds one now.
  const auto refused =
      berth_with(scale_out, {"restore", (scratch.path() / "from-embedded").string(), "--data",
                             (scratch.path() / "other").string()});
  EXPECT_NE(refused.status, 0) << refused.out;
  EXPECT_NE(refused.err.find("holds metadata already"), std::string::npos) << refused.err;

  // 4. Back into the embedded shape.
  const auto moved_out =
      run_berth({"restore", (scratch.path() / "from-shared").string(), "--data", back.string()});
  ASSERT_EQ(moved_out.status, 0) << moved_out.out << moved_out.err;
  expect_clean_check({}, back);
  BerthOptions third;
  third.data = back;
  BerthProcess server(third);
  expect_served(server, images, big, big_digest);
  EXPECT_EQ(server.stop(), 0) << server.log();
}

}  // namespace
}  // namespace berth::testing
