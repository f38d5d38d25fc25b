// Which BlobStore the configuration asks for, and how it is opened: the filesystem driver under
// storage.root, or the S3 driver with storage.s3.* completed from the AWS environment, as the
// AWS tools read it:
//   endpoint     AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL (empty: AWS itself)
//   region       AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1
//   credentials  AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)
//   CA bundle    AWS_CA_BUNDLE (Distribution 2.8's driver panics at start when it is set)
// Keys set in the configuration (file or BERTH_STORAGE_S3_*) win over these. Without keys in
// either, the EC2 instance role's credentials are used (storage/s3_credentials.hpp; the metadata
// service at AWS_EC2_METADATA_SERVICE_ENDPOINT, off with AWS_EC2_METADATA_DISABLED=true).
#pragma once

#include <memory>
#include <string>

#include "config/config.hpp"
#include "storage/blob_store.hpp"
#include "storage/s3_blob_store.hpp"

namespace berth::server {

// The S3 store's options from the config and the environment (getenv, as config reads it).
[[nodiscard]] storage::S3StoreOptions s3_store_options(const config::Config& config,
                                                       const config::Getenv& getenv);

// Opens the configured store. `where` receives a description for logs and messages
// ("s3 bucket 'b' at http://..."); it never includes a credential.
[[nodiscard]] core::Result<std::unique_ptr<storage::BlobStore>> open_blob_store(
    const config::Config& config, const config::Getenv& getenv, std::string& where);

}  // namespace berth::server
