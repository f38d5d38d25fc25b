// The S3 options: configuration first, then the AWS environment, AWS_CA_BUNDLE included.
#include "server/blob_store_setup.hpp"

#include <gtest/gtest.h>

#include <map>

namespace berth::server {
namespace {

config::Getenv env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    if (auto it = vars.find(name); it != vars.end()) {
      return it->second;
    }
    return std::nullopt;
  };
}

const std::map<std::string, std::string> kAwsEnvironment = {
    {"AWS_ACCESS_KEY_ID", "AKIDENV"},
    {"AWS_SECRET_ACCESS_KEY", "secret-from-env"},
    {"AWS_SESSION_TOKEN", "session"},
    {"AWS_DEFAULT_REGION", "eu-central-1"},
    {"AWS_ENDPOINT_URL", "https://s3.example.net"},
    {"AWS_CA_BUNDLE", "/etc/ssl/corp-ca.pem"}};

TEST(BlobStoreSetupTest, TheAwsEnvironmentFillsWhatTheConfigLeavesEmpty) {
  config::Config config;
  config.storage.driver = "s3";
  config.storage.s3.bucket = "b";
  const auto options = s3_store_options(config, env_of(kAwsEnvironment));
  EXPECT_EQ(options.client.credentials.access_key, "AKIDENV");
  EXPECT_EQ(options.client.credentials.secret_key, "secret-from-env");
  EXPECT_EQ(options.client.credentials.session_token, "session");
  EXPECT_EQ(options.client.region, "eu-central-1");
  EXPECT_EQ(options.client.endpoint, "https://s3.example.net");
  EXPECT_EQ(options.client.ca_file, "/etc/ssl/corp-ca.pem") << "AWS_CA_BUNDLE is honoured";
}

TEST(BlobStoreSetupTest, TheConfigWinsAndRegionHasADefault) {
  config::Config config;
  config.storage.s3.bucket = "b";
  config.storage.s3.access_key = "AKIDCONF";
  config.storage.s3.secret_key = "conf";
  config.storage.s3.region = "us-west-2";
  config.storage.s3.endpoint = "http://127.0.0.1:9002";
  config.storage.s3.ca_file = "/mine.pem";
  auto env = kAwsEnvironment;
  env["AWS_REGION"] = "ap-south-1";
  env["AWS_ENDPOINT_URL_S3"] = "https://s3-only.example.net";
  const auto options = s3_store_options(config, env_of(env));
  EXPECT_EQ(options.client.credentials.access_key, "AKIDCONF");
  EXPECT_EQ(options.client.credentials.session_token, "") << "not mixed with the env's keys";
  EXPECT_EQ(options.client.region, "us-west-2");
  EXPECT_EQ(options.client.endpoint, "http://127.0.0.1:9002");
  EXPECT_EQ(options.client.ca_file, "/mine.pem");

  config::Config bare;
  const auto defaults = s3_store_options(bare, env_of({{"AWS_REGION", "ap-south-1"},
                                                       {"AWS_DEFAULT_REGION", "x"},
                                                       {"AWS_ENDPOINT_URL_S3", "https://a"},
                                                       {"AWS_ENDPOINT_URL", "https://b"}}));
  EXPECT_EQ(defaults.client.region, "ap-south-1") << "AWS_REGION before AWS_DEFAULT_REGION";
  EXPECT_EQ(defaults.client.endpoint, "https://a") << "the S3-specific endpoint first";
  EXPECT_EQ(s3_store_options(bare, env_of({})).client.region, "us-east-1");
}

// S3 at a port nothing answers on, with no keys configured.
config::Config s3_config_without_keys() {
  config::Config config;
  config.storage.driver = "s3";
  config.storage.s3.bucket = "b";
  config.storage.s3.endpoint = "http://127.0.0.1:1";
  return config;
}

TEST(BlobStoreSetupTest, NoCredentialsWithTheMetadataServiceOffIsAClearErrorWithoutAnyRequest) {
  config::Config config = s3_config_without_keys();
  std::string where;
  auto store = open_blob_store(config, env_of({{"AWS_EC2_METADATA_DISABLED", "true"}}), where);
  ASSERT_FALSE(store.has_value());
  EXPECT_NE(store.error().message.find("no S3 credentials"), std::string::npos);
  EXPECT_EQ(where, "s3 bucket 'b' at http://127.0.0.1:1");
}

TEST(BlobStoreSetupTest, NoKeysAsksTheInstanceMetadataServiceAndSaysWhenItCannot) {
  config::Config config = s3_config_without_keys();
  std::string where;
  // Port 1 on loopback refuses at once: the metadata service of no instance.
  auto store = open_blob_store(
      config, env_of({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1"}}), where);
  ASSERT_FALSE(store.has_value());
  EXPECT_NE(store.error().message.find("instance role"), std::string::npos)
      << store.error().message;
  EXPECT_NE(where.find("(instance role credentials)"), std::string::npos) << where;
}

TEST(BlobStoreSetupTest, UnreachableEndpointIsUnavailable) {
  config::Config config = s3_config_without_keys();
  std::string where;
  auto store = open_blob_store(config, env_of(kAwsEnvironment), where);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, core::ErrorCode::kUnavailable) << store.error().message;
  EXPECT_EQ(store.error().message.find("secret-from-env"), std::string::npos);
}

}  // namespace
}  // namespace berth::server
