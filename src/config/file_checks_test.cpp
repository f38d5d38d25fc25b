#include "config/file_checks.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "testing/temp_dir.hpp"

namespace berth::config {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(ConfigFileChecks, ANamedTlsFileThatIsMissingIsAnError) {
  testing::TempDir dir;
  const auto cert = dir.path() / "cert.pem";
  std::ofstream(cert) << "not checked for content here";
  Config config;
  config.tls.certificate = cert;
  config.tls.key = dir.path() / "typo-key.pem";
  const auto problems = check_files(config);
  EXPECT_THAT(problems.errors, ElementsAre("tls.key: " + (dir.path() / "typo-key.pem").string() +
                                           " does not exist"));
  EXPECT_THAT(problems.warnings, IsEmpty());
}

TEST(ConfigFileChecks, ADirectoryAndAProxyCaFileAreNamedByTheirKey) {
  testing::TempDir dir;
  Config config;
  config.storage.s3.ca_file = dir.path();
  ProxyConfig hub;
  hub.project = "hub";
  hub.ca_file = dir.path() / "hub-ca.pem";
  config.proxies.push_back(hub);
  const auto problems = check_files(config);
  EXPECT_THAT(
      problems.errors,
      ElementsAre(
          "storage.s3.ca_file: " + dir.path().string() + " is a directory, not a file",
          "proxies[hub].ca_file: " + (dir.path() / "hub-ca.pem").string() + " does not exist"));
}

TEST(ConfigFileChecks, AMissingHtpasswdFileIsAWarningNotAnError) {
  testing::TempDir dir;
  Config config;
  config.auth.htpasswd = dir.path() / "htpasswd";
  const auto problems = check_files(config);
  EXPECT_THAT(problems.errors, IsEmpty());
  ASSERT_EQ(problems.warnings.size(), 1u);
  EXPECT_THAT(problems.warnings[0], ::testing::HasSubstr("no htpasswd users"));
}

TEST(ConfigFileChecks, NothingNamedNothingToSay) {
  const auto problems = check_files(Config{});
  EXPECT_THAT(problems.errors, IsEmpty());
  EXPECT_THAT(problems.warnings, IsEmpty());
}

}  // namespace
}  // namespace berth::config
