// storage.s3.*: the keys of the S3 driver from YAML and the environment, their rules, and the
// credentials redacted by `config show`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "config/config.hpp"
#include "config/config_test_support.hpp"

namespace berth::config {
namespace {

using test_support::env_of;
using test_support::write_temp_config;

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ConfigS3, KeysFromYamlAsTheIssueWritesThem) {
  const auto file = write_temp_config(
      "storage:\n"
      "  driver: s3\n"
      "  s3:\n"
      "    endpoint: http://127.0.0.1:9002\n"
      "    region: us-east-1\n"
      "    bucket: berth\n"
      "    prefix: \"\"\n"
      "    access_key: AKIAEXAMPLE\n"
      "    secret_key: wJalrXUtnFEMI/K7MDENG\n"
      "    path_style: true\n"
      "    ca_file: \"\"\n"
      "    redirect: false\n");
  auto config = load_config(file, env_of({}));
  std::filesystem::remove(file);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->storage.driver, "s3");
  EXPECT_EQ(config->storage.s3.endpoint, "http://127.0.0.1:9002");
  EXPECT_EQ(config->storage.s3.bucket, "berth");
  EXPECT_EQ(config->storage.s3.access_key, "AKIAEXAMPLE");
  EXPECT_EQ(config->storage.s3.secret_key, "wJalrXUtnFEMI/K7MDENG");
  EXPECT_TRUE(config->storage.s3.path_style);
  EXPECT_FALSE(config->storage.s3.redirect);
  EXPECT_TRUE(validate(*config));
}

TEST(ConfigS3, EveryKeyHasItsEnvironmentVariable) {
  auto config = load_config(std::nullopt, env_of({{"BERTH_STORAGE_DRIVER", "s3"},
                                                  {"BERTH_STORAGE_S3_ENDPOINT", "https://s3.x"},
                                                  {"BERTH_STORAGE_S3_REGION", "eu-west-3"},
                                                  {"BERTH_STORAGE_S3_BUCKET", "b"},
                                                  {"BERTH_STORAGE_S3_PREFIX", "r/"},
                                                  {"BERTH_STORAGE_S3_ACCESS_KEY", "ak"},
                                                  {"BERTH_STORAGE_S3_SECRET_KEY", "sk"},
                                                  {"BERTH_STORAGE_S3_PATH_STYLE", "yes"},
                                                  {"BERTH_STORAGE_S3_CA_FILE", "/ca.pem"},
                                                  {"BERTH_STORAGE_S3_REDIRECT", "true"}}));
  ASSERT_TRUE(config) << config.error().message;
  const S3Config& s3 = config->storage.s3;
  EXPECT_EQ(s3.endpoint, "https://s3.x");
  EXPECT_EQ(s3.region, "eu-west-3");
  EXPECT_EQ(s3.bucket, "b");
  EXPECT_EQ(s3.prefix, "r/");
  EXPECT_EQ(s3.access_key, "ak");
  EXPECT_EQ(s3.secret_key, "sk");
  EXPECT_TRUE(s3.path_style);
  EXPECT_EQ(s3.ca_file, "/ca.pem");
  EXPECT_TRUE(s3.redirect);
  int documented = 0;
  for (const KeyInfo& key : describe_keys()) {
    documented += key.name.starts_with("storage.s3.") ? 1 : 0;
  }
  EXPECT_EQ(documented, 9);
}

TEST(ConfigS3, RulesNameTheKey) {
  Config config;
  config.storage.driver = "s3";
  config.storage.s3.endpoint = "s3.example.com";
  config.storage.s3.access_key = "only the id";
  config.storage.s3.prefix = "/abs";
  auto result = validate(config);
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, HasSubstr("storage.s3.bucket must be set"));
  EXPECT_THAT(result.error().message, HasSubstr("storage.s3.endpoint must be an http://"));
  EXPECT_THAT(result.error().message,
              HasSubstr("access_key and storage.s3.secret_key go together"));
  EXPECT_THAT(result.error().message, HasSubstr("prefix must not start with '/'"));
  config.storage.driver = "filesystem";
  EXPECT_TRUE(validate(config)) << "the s3 keys matter only with the s3 driver";
  config.storage.driver = "tape";
  EXPECT_FALSE(validate(config));
}

TEST(ConfigS3, ConfigShowRedactsTheCredentials) {
  Config config;
  config.storage.driver = "s3";
  config.storage.s3.bucket = "berth";
  config.storage.s3.access_key = "AKIDSHOWNNOT";
  config.storage.s3.secret_key = "sup3r-secret";
  const std::string shown = render_yaml(config);
  EXPECT_THAT(shown, Not(HasSubstr("sup3r-secret")));
  EXPECT_THAT(shown, Not(HasSubstr("AKIDSHOWNNOT")));
  EXPECT_THAT(shown, HasSubstr("    secret_key: \"<redacted>\"\n"));
  EXPECT_THAT(shown, HasSubstr("    bucket: berth\n"));
  // Unset credentials show as unset, and the rest loads back.
  config.storage.s3.access_key.clear();
  config.storage.s3.secret_key.clear();
  const auto file = write_temp_config(render_yaml(config));
  auto loaded = load_config(file, env_of({}));
  std::filesystem::remove(file);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(*loaded, config);
}

}  // namespace
}  // namespace berth::config
