#include "core/image_config.hpp"

#include <gtest/gtest.h>

namespace berth::core {
namespace {

TEST(ImageConfig, ReadsWhatTheImagePageShows) {
  auto config = parse_image_config(R"({
    "created": "2026-01-02T03:04:05Z", "os": "linux", "architecture": "arm64", "variant": "v8",
    "config": {"Env": ["PATH=/bin"], "Entrypoint": ["/app"], "Cmd": null, "WorkingDir": "/srv",
               "User": "1000", "Labels": {"org.opencontainers.image.title": "app", "n": 3}},
    "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "ADD rootfs"},
                {"created_by": "ENV X=1", "empty_layer": true, "comment": "buildkit"}, 7]})");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->platform.str(), "linux/arm64/v8");
  EXPECT_EQ(config->created, "2026-01-02T03:04:05Z");
  EXPECT_EQ(config->env, std::vector<std::string>{"PATH=/bin"});
  EXPECT_EQ(config->entrypoint, std::vector<std::string>{"/app"});
  EXPECT_FALSE(config->cmd);
  EXPECT_EQ(config->working_dir, "/srv");
  EXPECT_EQ(config->user, "1000");
  EXPECT_EQ(config->labels.size(), 1u) << "a label that is not a string is skipped";
  ASSERT_EQ(config->history.size(), 2u);
  EXPECT_EQ(config->history[0].created_by, "ADD rootfs");
  EXPECT_FALSE(config->history[0].empty_layer);
  EXPECT_TRUE(config->history[1].empty_layer);
  EXPECT_EQ(config->history[1].comment, "buildkit");
  EXPECT_FALSE(config->history[1].created);
}

TEST(ImageConfig, WrongTypesReadAsAbsentAndNonObjectsAreRefused) {
  auto config = parse_image_config(R"({"os": 1, "config": {"Env": "x"}, "history": {}})");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->platform.os, "");
  EXPECT_TRUE(config->env.empty());
  EXPECT_FALSE(parse_image_config("[1]"));
  EXPECT_FALSE(parse_image_config("{"));
}

TEST(ManifestPlatform, IndexEntriesKeepTheirPlatform) {
  auto index = parse_manifest(R"({"schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
     "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
     "platform": {"os": "linux", "architecture": "amd64"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
     "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111"}]})",
                              "");
  ASSERT_TRUE(index) << index.error().message;
  ASSERT_TRUE(index->manifests[0].platform);
  EXPECT_EQ(index->manifests[0].platform->str(), "linux/amd64");
  EXPECT_FALSE(index->manifests[1].platform);
}

}  // namespace
}  // namespace berth::core
