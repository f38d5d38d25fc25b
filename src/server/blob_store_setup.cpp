// Opening the configured blob store (blob_store_setup.hpp).
#include "server/blob_store_setup.hpp"

#include "core/clock.hpp"
#include "storage/fs_blob_store.hpp"
#include "storage/s3_credentials.hpp"

namespace berth::server {
namespace {

// The first of the variables that is set and not empty.
std::string first_of(const config::Getenv& getenv, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (auto value = getenv(name); value && !value->empty()) {
      return *value;
    }
  }
  return {};
}

}  // namespace

storage::S3StoreOptions s3_store_options(const config::Config& config,
                                         const config::Getenv& getenv) {
  const config::S3Config& s3 = config.storage.s3;
  storage::S3StoreOptions options;
  options.prefix = s3.prefix;
  options.redirect = s3.redirect;
  options.client.bucket = s3.bucket;
  options.client.path_style = s3.path_style;
  options.client.endpoint = !s3.endpoint.empty()
                                ? s3.endpoint
                                : first_of(getenv, {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"});
  options.client.region =
      !s3.region.empty() ? s3.region : first_of(getenv, {"AWS_REGION", "AWS_DEFAULT_REGION"});
  if (options.client.region.empty()) {
    options.client.region = "us-east-1";
  }
  options.client.ca_file =
      !s3.ca_file.empty() ? s3.ca_file : std::filesystem::path(first_of(getenv, {"AWS_CA_BUNDLE"}));
  if (!s3.access_key.empty()) {
    options.client.credentials = {s3.access_key, s3.secret_key, ""};
  } else {
    options.client.credentials = {first_of(getenv, {"AWS_ACCESS_KEY_ID"}),
                                  first_of(getenv, {"AWS_SECRET_ACCESS_KEY"}),
                                  first_of(getenv, {"AWS_SESSION_TOKEN"})};
  }
  return options;
}

core::Result<std::unique_ptr<storage::BlobStore>> open_blob_store(const config::Config& config,
                                                                  const config::Getenv& getenv,
                                                                  std::string& where) {
  if (config.storage.driver != "s3") {
    where = "filesystem " + config.storage_root().string();
    return storage::open_fs_blob_store(config.storage_root());
  }
  auto options = s3_store_options(config, getenv);
  where =
      "s3 bucket '" + options.client.bucket + "' at " +
      (options.client.endpoint.empty() ? "AWS " + options.client.region : options.client.endpoint);
  if (options.client.credentials.access_key.empty() ||
      options.client.credentials.secret_key.empty()) {
    // No keys: the instance role's, as the AWS tools fall back to.
    if (first_of(getenv, {"AWS_EC2_METADATA_DISABLED"}) == "true") {
      return core::fail(core::ErrorCode::kInternal,
                        "no S3 credentials: set storage.s3.access_key and storage.s3.secret_key, "
                        "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (instance role "
                        "credentials are off: AWS_EC2_METADATA_DISABLED=true)");
    }
    storage::s3::InstanceRoleOptions role;
    if (auto endpoint = first_of(getenv, {"AWS_EC2_METADATA_SERVICE_ENDPOINT"});
        !endpoint.empty()) {
      role.endpoint = std::move(endpoint);
    }
    // Stateless, so one for the life of the process does for every store opened.
    static const core::SystemClock kSystemClock;
    auto source = storage::s3::instance_role_credentials(std::move(role), kSystemClock);
    if (!source) {
      return std::unexpected(source.error());
    }
    options.client.credential_source = std::move(*source);
    where += " (instance role credentials)";
  }
  return storage::open_s3_blob_store(std::move(options));
}

}  // namespace berth::server
