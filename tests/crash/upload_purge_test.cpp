// What a crash leaves in the upload and temporary areas is cleaned up by the restarted server.
//
// A berth with the default configuration (nothing is stale for a day) is killed while it holds
// three uploads: a recorded session with an acknowledged chunk and a PATCH cut off mid-body, a
// recorded session that never received a byte, and a monolithic POST cut off mid-body (which
// has no record, only its file). The next berth runs with uploads.max_age=1s and
// uploads.purge_interval=200ms (through BERTH_UPLOADS_MAX_AGE and
// BERTH_UPLOADS_PURGE_INTERVAL): the uploads directory empties, the sessions are gone
// (BLOB_UPLOAD_UNKNOWN), and the blobs and image pushed before the crash are untouched.
//
// A put() temporary file of the kind a crash mid-manifest-PUT leaves in tmp/ (an hour old) is
// removed when the store opens at start.
#include <gtest/gtest.h>

#include <fstream>

#include "crash_support.hpp"

namespace berth::testing::crash {
namespace {

const std::map<std::string, std::string> kFastPurge = {{"BERTH_UPLOADS_MAX_AGE", "1s"},
                                                       {"BERTH_UPLOADS_PURGE_INTERVAL", "200ms"}};

TEST(StaleUploadsAfterCrash, PurgeRemovesThemAndKeepsEverythingElse) {
  CrashableBerth berth;
  berth.start();
  const std::string repo = "crash/purge";
  RegistryClient registry("127.0.0.1", berth.port());
  const auto image =
      registry.push_image(repo, "v1", ImageOptions().with_layers(2).with_layer_size(256 * kKiB));

  // A recorded session: one chunk acknowledged, the next cut off halfway with its bytes on disk.
  const std::string bytes = random_bytes(512 * kKiB);
  const std::size_t chunk = 256 * kKiB;
  const auto started = registry.http().post("/v2/" + repo + "/blobs/uploads/", "");
  ASSERT_EQ(started.status, 202u) << describe(started);
  const std::string patched_id = started.header("Docker-Upload-UUID");
  const auto patched =
      registry.http().patch(location_target(started), std::string_view(bytes).substr(0, chunk),
                            {{"Content-Type", "application/octet-stream"},
                             {"Content-Range", "0-" + std::to_string(chunk - 1)}});
  ASSERT_EQ(patched.status, 202u) << describe(patched);
  const std::string patched_location = location_target(patched);
  auto held_patch = send_partial_request(
      berth.port(), "PATCH", patched_location,
      {{"Content-Type", "application/octet-stream"},
       {"Content-Range", std::to_string(chunk) + "-" + std::to_string(2 * chunk - 1)}},
      chunk, std::string_view(bytes).substr(chunk, chunk / 2));
  ASSERT_TRUE(eventually([&] {
    return file_size_if_any(berth.data() / "uploads" / patched_id) == chunk + chunk / 2;
  }));

  // A recorded session that never received a byte.
  const auto empty = registry.http().post("/v2/" + repo + "/blobs/uploads/", "");
  ASSERT_EQ(empty.status, 202u) << describe(empty);
  const std::string empty_location = location_target(empty);

  // A monolithic POST cut off halfway: its file has no record.
  const std::string blob = random_bytes(512 * kKiB);
  const std::string blob_digest = sha256_digest(blob);
  auto held_post = send_partial_request(berth.port(), "POST",
                                        "/v2/" + repo + "/blobs/uploads/?digest=" + blob_digest,
                                        {{"Content-Type", "application/octet-stream"}}, blob.size(),
                                        std::string_view(blob).substr(0, blob.size() / 2));
  ASSERT_TRUE(eventually([&] {
    return find_upload_file(berth.data(), std::string_view(blob).substr(0, 4096), blob.size() / 2)
        .has_value();
  }));

  berth.kill();
  held_patch.reset();
  held_post.reset();
  ASSERT_EQ(upload_files(berth.data()).size(), 3u)
      << "expected the three interrupted uploads' files";

  berth.start(kFastPurge);
  EXPECT_TRUE(eventually([&] { return upload_files(berth.data()).empty(); }))
      << upload_files(berth.data()).size() << " upload files are still there; log:\n"
      << berth.logs();

  RegistryClient after("127.0.0.1", berth.port());
  for (const auto& location : {patched_location, empty_location}) {
    const auto status = after.http().get(location);
    EXPECT_EQ(status.status, 404u) << location << ": " << describe(status);
    EXPECT_EQ(error_code(status), "BLOB_UPLOAD_UNKNOWN") << describe(status);
  }
  EXPECT_EQ(after.http().head("/v2/" + repo + "/blobs/" + blob_digest).status, 404u);
  EXPECT_NO_THROW(after.verify_image(repo, image));
  const auto files = check_blob_files(berth.data());
  EXPECT_TRUE(files.problems.empty()) << ::testing::PrintToString(files.problems);
  // The image's config, two layers and manifest.
  EXPECT_EQ(files.files, 4u);

  EXPECT_EQ(berth.stop(), 0) << berth.logs();
  EXPECT_EQ(find_sanitizer_report(berth.logs()), "") << berth.logs();
}

TEST(StaleUploadsAfterCrash, LeftoverTemporaryFileIsRemovedAtStart) {
  CrashableBerth berth;
  berth.start();
  {
    RegistryClient registry("127.0.0.1", berth.port());
    registry.push_image("crash/tmp", "v1", ImageOptions().with_layers(1));
  }
  berth.kill();

  // What a kill in the middle of put() (a manifest's bytes) leaves: a partial file in tmp/,
  // named as layout makes it, older than the hour the store waits before it calls one stale.
  const auto leftover = berth.data() / "tmp" / ("put-" + std::string(32, 'a'));
  std::ofstream(leftover, std::ios::binary) << R"({"schemaVersion":2,"mediaType":"appl)";
  ASSERT_TRUE(std::filesystem::exists(leftover));
  std::filesystem::last_write_time(
      leftover, std::filesystem::file_time_type::clock::now() - std::chrono::hours(2));

  berth.start();
  EXPECT_FALSE(std::filesystem::exists(leftover)) << "a stale put() temporary file survived start";
  RegistryClient registry("127.0.0.1", berth.port());
  EXPECT_TRUE(registry.manifest_exists("crash/tmp", "v1"));
  EXPECT_EQ(berth.stop(), 0) << berth.logs();
  EXPECT_EQ(find_sanitizer_report(berth.logs()), "") << berth.logs();
}

}  // namespace
}  // namespace berth::testing::crash
