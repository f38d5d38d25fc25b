// Where the S3 driver's credentials come from when no keys are given: the IAM role of the EC2
// instance Berth runs on, from the instance metadata service (IMDSv2: a session token by PUT,
// then the role's name, then its temporary credentials), fetched again before they expire.
//
// Why by hand: the AWS SDK for C++ is not packaged in Debian 12 (see s3_client.hpp); the
// protocol is three small GETs over the blocking client the driver already uses. The endpoint
// is AWS_EC2_METADATA_SERVICE_ENDPOINT if set (as the AWS SDKs read it), else
// http://169.254.169.254; AWS_EC2_METADATA_DISABLED=true turns the lookup off.
//
// Thread-safe: current() may be called from any number of threads; one of them fetches while
// the others wait for its answer.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "storage/s3_sigv4.hpp"

namespace berth::storage::s3 {

class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  // The credentials to sign the next request with. kUnavailable when they cannot be had.
  [[nodiscard]] virtual core::Result<Credentials> current() = 0;
};

struct InstanceRoleOptions {
  std::string endpoint = "http://169.254.169.254";
  // Fetched again this long before they expire; AWS makes new ones available five minutes
  // before the old ones expire.
  std::chrono::seconds refresh_margin{std::chrono::minutes(4)};
  // The metadata service answers in milliseconds on an instance; elsewhere nothing answers.
  std::chrono::milliseconds timeout{std::chrono::seconds(2)};
};

// Credentials of the instance's role. The first fetch happens at the first current(); an
// endpoint that is not an http:// URL fails here.
[[nodiscard]] core::Result<std::shared_ptr<CredentialSource>> instance_role_credentials(
    InstanceRoleOptions options, const core::Clock& clock);

}  // namespace berth::storage::s3
