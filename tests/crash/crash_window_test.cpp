// The two crash windows too narrow to hit by timing a kill, set up by hand instead: berth is
// killed, the data directory is put in exactly the state a crash inside the window leaves, and
// berth is restarted on it.
//
// - Between publishing a finished upload's bytes (the rename into blobs/) and recording the
//   blob in the metadata: the upload's file is gone, its session record remains, the blob's
//   file exists but no repository links it. The client, which got no answer, retries.
// - Between storing a manifest's bytes and committing its metadata: the bytes sit at their
//   blob path with no record. The client pushes the manifest again.
//
// Neither may end in a 500, a blob with wrong bytes, or a push that cannot be completed.
#include <gtest/gtest.h>

#include <fstream>

#include "crash_support.hpp"

namespace berth::testing::crash {
namespace {

void place_blob_file(const std::filesystem::path& data, std::string_view digest,
                     const std::filesystem::path& from) {
  const auto to = blob_path(data, digest);
  std::filesystem::create_directories(to.parent_path());
  std::filesystem::rename(from, to);
}

TEST(CrashWindow, UploadPublishedButNotRecordedCanBePushedAgain) {
  CrashableBerth berth;
  berth.start();
  const std::string repo = "crash/window-upload";
  const std::string bytes = random_bytes(700 * kKiB);
  const std::string digest = sha256_digest(bytes);
  std::string location;
  std::string upload_id;
  {
    RegistryClient registry("127.0.0.1", berth.port());
    const auto started = registry.http().post("/v2/" + repo + "/blobs/uploads/", "");
    ASSERT_EQ(started.status, 202u) << describe(started);
    upload_id = started.header("Docker-Upload-UUID");
    const auto patched =
        registry.http().patch(location_target(started), bytes,
                              {{"Content-Type", "application/octet-stream"},
                               {"Content-Range", "0-" + std::to_string(bytes.size() - 1)}});
    ASSERT_EQ(patched.status, 202u) << describe(patched);
    location = location_target(patched);
  }
  berth.kill();
  // The closing PUT's rename happened; its metadata commit did not.
  place_blob_file(berth.data(), digest, berth.data() / "uploads" / upload_id);

  berth.start();
  RegistryClient registry("127.0.0.1", berth.port());
  const auto status = registry.http().get(location);
  EXPECT_TRUE(status.status == 204 || status.status == 404) << describe(status);
  const auto closing = registry.http().put(location + "?digest=" + digest, "");
  EXPECT_TRUE(closing.status == 201 || closing.status == 404) << describe(closing);
  if (closing.status == 404) {
    EXPECT_EQ(error_code(closing), "BLOB_UPLOAD_UNKNOWN") << describe(closing);
    // The client starts over, as it must when its upload is unknown.
    EXPECT_EQ(registry.push_blob(repo, bytes), digest);
  }
  const auto pulled = registry.http().get("/v2/" + repo + "/blobs/" + digest);
  EXPECT_EQ(pulled.status, 200u) << describe(pulled);
  EXPECT_TRUE(pulled.body == bytes) << "the blob reads back other bytes";
  const auto files = check_blob_files(berth.data());
  EXPECT_TRUE(files.problems.empty()) << ::testing::PrintToString(files.problems);
  EXPECT_EQ(berth.stop(), 0) << berth.logs();
  EXPECT_EQ(find_sanitizer_report(berth.logs()), "") << berth.logs();
}

TEST(CrashWindow, ManifestBytesStoredButNotRecordedCanBePushedAgain) {
  CrashableBerth berth;
  berth.start();
  const std::string repo = "crash/window-manifest";
  Descriptor config;
  Descriptor layer;
  {
    RegistryClient registry("127.0.0.1", berth.port());
    const std::string config_bytes = R"({"architecture":"amd64","os":"linux"})";
    const std::string layer_bytes = random_bytes(20 * kKiB);
    registry.push_blob(repo, config_bytes);
    registry.push_blob(repo, layer_bytes);
    config = describe(media_types::kOciConfig, config_bytes);
    layer = describe(media_types::kOciLayer, layer_bytes);
  }
  const std::string manifest = padded_manifest(config, {layer}, 300 * kKiB);
  const std::string digest = sha256_digest(manifest);
  berth.kill();
  // put() stored the bytes; the metadata transaction never committed.
  const auto scratch = berth.data() / "tmp" / "crash-window-manifest";
  std::ofstream(scratch, std::ios::binary) << manifest;
  place_blob_file(berth.data(), digest, scratch);

  berth.start();
  RegistryClient registry("127.0.0.1", berth.port());
  const auto before = registry.get_manifest(repo, digest);
  EXPECT_EQ(before.status, 404u) << "bytes without metadata are visible: " << describe(before);
  const auto pushed =
      registry.http().put("/v2/" + repo + "/manifests/v1", manifest,
                          {{"Content-Type", std::string(media_types::kOciManifest)}});
  EXPECT_EQ(pushed.status, 201u) << describe(pushed);
  EXPECT_EQ(pushed.header("Docker-Content-Digest"), digest);
  for (const std::string& reference : {digest, std::string("v1")}) {
    const auto pulled = registry.get_manifest(repo, reference);
    EXPECT_EQ(pulled.status, 200u) << reference << ": " << describe(pulled);
    EXPECT_TRUE(pulled.body == manifest) << reference << " reads back other bytes";
  }
  const auto catalog = check_catalog(registry);
  EXPECT_TRUE(catalog.problems.empty()) << ::testing::PrintToString(catalog.problems);
  EXPECT_EQ(catalog.manifests, 1u);
  EXPECT_EQ(berth.stop(), 0) << berth.logs();
  EXPECT_EQ(find_sanitizer_report(berth.logs()), "") << berth.logs();
}

}  // namespace
}  // namespace berth::testing::crash
