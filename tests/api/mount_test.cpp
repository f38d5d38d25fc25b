// Cross-repository blob mounts: POST /blobs/uploads/?mount=<digest>&from=<repo>. A mount
// succeeds (201) only when the source repository holds the blob; otherwise the registry starts
// an ordinary upload (202) and reveals nothing about other repositories.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api_fixture.hpp"

namespace berth::testing {
namespace {

class MountTest : public ApiTest {
 protected:
  std::string mount(std::string_view to, std::string_view digest, std::string_view from) {
    std::string target = "/v2/" + std::string(to) + "/blobs/uploads/?mount=" + std::string(digest);
    if (!from.empty()) {
      target += "&from=" + std::string(from);
    }
    return target;
  }
  std::string blob(std::string_view name, std::string_view digest) {
    return "/v2/" + std::string(name) + "/blobs/" + std::string(digest);
  }

  // A 202 that starts an ordinary upload, which must then work.
  void expect_upload_started(const HttpResponse& r, const std::string& name) {
    EXPECT_EQ(r.status, 202u) << BERTH_DESCRIBE(r);
    const std::string location = location_target(r);
    EXPECT_EQ(location.rfind("/v2/" + name + "/blobs/uploads/", 0), 0u) << location;
    EXPECT_FALSE(r.header("Docker-Upload-UUID").empty());
    if (r.status != 202) {
      return;
    }
    const auto status = http().get(location);
    EXPECT_EQ(status.status, 204u) << BERTH_DESCRIBE(status);
  }
};

TEST_F(MountTest, MountFromARepositoryThatHasTheBlob) {
  const std::string source = repo("source");
  const std::string target = repo("target");
  const std::string bytes = random_bytes(5000);
  const std::string digest = registry().push_blob(source, bytes);

  const auto r = http().post(mount(target, digest, source), "");
  ASSERT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(location_target(r), blob(target, digest));
  EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
  EXPECT_EQ(registry().pull_blob(target, digest), bytes);
  const auto head = http().head(blob(target, digest));
  EXPECT_EQ(head.header("Content-Length"), std::to_string(bytes.size()));
}

TEST_F(MountTest, MountedBlobSurvivesDeletionInTheSource) {
  const std::string source = repo("source");
  const std::string target = repo("target");
  const std::string bytes = random_bytes(5000);
  const std::string digest = registry().push_blob(source, bytes);
  ASSERT_EQ(http().post(mount(target, digest, source), "").status, 201u);
  ASSERT_EQ(http().del(blob(source, digest)).status, 202u);
  EXPECT_EQ(registry().pull_blob(target, digest), bytes);
}

TEST_F(MountTest, MountFromARepositoryWithoutTheBlobStartsAnUpload) {
  const std::string source = repo("source");
  const std::string holder = repo("holder");
  const std::string target = repo("target");
  registry().push_blob(source, random_bytes(10));
  const std::string digest = registry().push_blob(holder, random_bytes(5000));

  const auto r = http().post(mount(target, digest, source), "");
  expect_upload_started(r, target);
  EXPECT_EQ(http().head(blob(target, digest)).status, 404u)
      << "a mount from a repository lacking the blob must not link it";
}

TEST_F(MountTest, MountFromAMissingRepositoryStartsAnUpload) {
  const std::string holder = repo("holder");
  const std::string target = repo("target");
  const std::string digest = registry().push_blob(holder, random_bytes(5000));
  const auto r = http().post(mount(target, digest, repo("nowhere")), "");
  expect_upload_started(r, target);
  EXPECT_EQ(http().head(blob(target, digest)).status, 404u);
}

TEST_F(MountTest, MountWithoutFromStartsAnUpload) {
  const std::string holder = repo("holder");
  const std::string target = repo("target");
  const std::string digest = registry().push_blob(holder, random_bytes(5000));
  const auto r = http().post(mount(target, digest, ""), "");
  expect_upload_started(r, target);
  EXPECT_EQ(http().head(blob(target, digest)).status, 404u)
      << "mounting without `from` must not search other repositories";
}

TEST_F(MountTest, MountFromAnInvalidNameStartsAnUpload) {
  const std::string holder = repo("holder");
  const std::string target = repo("target");
  const std::string digest = registry().push_blob(holder, random_bytes(5000));
  for (const char* from : {"UPPER", "a..b", "%2e%2e"}) {
    SCOPED_TRACE(from);
    const auto r = http().post(mount(target, digest, from), "");
    expect_upload_started(r, target);
  }
  EXPECT_EQ(http().head(blob(target, digest)).status, 404u);
}

TEST_F(MountTest, MountWithAnInvalidDigestIsDigestInvalid) {
  const std::string target = repo("target");
  const auto r = http().post(mount(target, "sha256:nothex", repo("source")), "");
  EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(error_code(r), "DIGEST_INVALID");
}

TEST_F(MountTest, FallbackUploadCompletesTheBlob) {
  const std::string target = repo("target");
  const std::string bytes = random_bytes(3000);
  const std::string digest = sha256_digest(bytes);
  const auto r = http().post(mount(target, digest, repo("nowhere")), "");
  ASSERT_EQ(r.status, 202u) << BERTH_DESCRIBE(r);
  std::string location = location_target(r);
  location += location.find('?') == std::string::npos ? "?digest=" : "&digest=";
  const auto put = http().put(location + digest, bytes);
  ASSERT_EQ(put.status, 201u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(registry().pull_blob(target, digest), bytes);
}

TEST_F(MountTest, MountIntoTheSameRepositoryIsHarmless) {
  const std::string name = repo();
  const std::string bytes = random_bytes(1000);
  const std::string digest = registry().push_blob(name, bytes);
  const auto r = http().post(mount(name, digest, name), "");
  EXPECT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(registry().pull_blob(name, digest), bytes);
}

}  // namespace
}  // namespace berth::testing
