// Instance-role credentials against a fake instance metadata service (IMDSv2), and the S3
// client signing with them.
#include "storage/s3_credentials.hpp"

#include <gtest/gtest.h>

#include <atomic>

#include "storage/s3_client.hpp"
#include "testing/fake_clock.hpp"
#include "testing/scripted_http_server.hpp"
#include "util/utc_time.hpp"

namespace berth::storage::s3 {
namespace {

using namespace std::chrono_literals;
using testing::http_answer;
using testing::HttpAction;
using testing::HttpRequestHead;

constexpr std::string_view kRolePath = "/latest/meta-data/iam/security-credentials/";

// The metadata service of an instance whose role is "berth-role": credentials valid for an
// hour from the fake clock's now, numbered by fetch (AKID1, AKID2, ...), the session token
// required on every GET as IMDSv2 does.
class FakeMetadataService {
 public:
  explicit FakeMetadataService(const core::Clock& clock)
      : clock_(clock), server_([this](const HttpRequestHead& head) { return answer(head); }) {}

  std::string endpoint() const { return server_.endpoint(); }
  int requests() const { return server_.requests(); }
  std::vector<std::string> request_lines() { return server_.request_lines(); }
  void fail_from_now_on() { failing_ = true; }
  void answer_with(std::string body) { body_ = std::move(body); }

 private:
  HttpAction answer(const HttpRequestHead& head) {
    if (failing_) {
      return http_answer(500);
    }
    if (head.line == "PUT /latest/api/token HTTP/1.1") {
      return head.header("x-aws-ec2-metadata-token-ttl-seconds").empty()
                 ? http_answer(400)
                 : http_answer(200, "session-" + std::to_string(++sessions_));
    }
    if (head.header("x-aws-ec2-metadata-token") != "session-" + std::to_string(sessions_)) {
      return http_answer(401);
    }
    if (head.line == "GET " + std::string(kRolePath) + " HTTP/1.1") {
      return http_answer(200, "berth-role");
    }
    if (head.line == "GET " + std::string(kRolePath) + "berth-role HTTP/1.1") {
      if (!body_.empty()) {
        return http_answer(200, body_);
      }
      const int n = ++fetches_;
      return http_answer(200, R"({"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"AKID)" +
                                  std::to_string(n) + R"(","SecretAccessKey":"secret)" +
                                  std::to_string(n) + R"(","Token":"token)" + std::to_string(n) +
                                  R"(","Expiration":")" + util::format_utc(clock_.now() + 1h) +
                                  R"("})");
    }
    return http_answer(404);
  }

  const core::Clock& clock_;
  std::atomic<bool> failing_{false};
  int sessions_ = 0;  // server thread only, as fetches_ and body_ once it runs
  int fetches_ = 0;
  std::string body_;
  testing::ScriptedHttpServer server_;
};

class InstanceRoleTest : public ::testing::Test {
 protected:
  std::shared_ptr<CredentialSource> source() {
    auto made =
        instance_role_credentials(InstanceRoleOptions{.endpoint = imds_.endpoint()}, clock_);
    EXPECT_TRUE(made.has_value()) << made.error().message;
    return *made;
  }

  testing::FakeClock clock_;
  FakeMetadataService imds_{clock_};
};

TEST_F(InstanceRoleTest, FetchesTheRolesCredentialsWithASessionToken) {
  auto credentials = source()->current();
  ASSERT_TRUE(credentials.has_value()) << credentials.error().message;
  EXPECT_EQ(credentials->access_key, "AKID1");
  EXPECT_EQ(credentials->secret_key, "secret1");
  EXPECT_EQ(credentials->session_token, "token1");
  EXPECT_EQ(imds_.request_lines(),
            (std::vector<std::string>{"PUT /latest/api/token HTTP/1.1",
                                      "GET " + std::string(kRolePath) + " HTTP/1.1",
                                      "GET " + std::string(kRolePath) + "berth-role HTTP/1.1"}));
}

TEST_F(InstanceRoleTest, KeepsThemUntilShortlyBeforeTheyExpireThenFetchesNewOnes) {
  auto role = source();
  ASSERT_EQ(role->current()->access_key, "AKID1");
  clock_.advance(50min);
  EXPECT_EQ(role->current()->access_key, "AKID1") << "still 10 minutes to go";
  EXPECT_EQ(imds_.requests(), 3);
  clock_.advance(7min);
  EXPECT_EQ(role->current()->access_key, "AKID2") << "3 minutes before expiry: renewed";
}

TEST_F(InstanceRoleTest, AnOutageKeepsCredentialsThatStillWorkAndThenSaysWhy) {
  auto role = source();
  ASSERT_EQ(role->current()->access_key, "AKID1");
  imds_.fail_from_now_on();
  clock_.advance(58min);
  auto kept = role->current();
  ASSERT_TRUE(kept.has_value()) << "the old credentials work for two more minutes";
  EXPECT_EQ(kept->access_key, "AKID1");
  clock_.advance(3min);
  auto expired = role->current();
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().code, core::ErrorCode::kUnavailable);
  EXPECT_NE(expired.error().message.find(imds_.endpoint()), std::string::npos)
      << expired.error().message;
}

TEST_F(InstanceRoleTest, AnAnswerWithoutKeysIsRefused) {
  imds_.answer_with(R"({"Code":"Success","AccessKeyId":"","Expiration":"2026-12-06T10:00:00Z"})");
  auto credentials = source()->current();
  ASSERT_FALSE(credentials.has_value());
  EXPECT_NE(credentials.error().message.find("keys or expiration missing"), std::string::npos);
  imds_.answer_with(R"({"Code":"AssumeRoleUnauthorizedAccess"})");
  EXPECT_FALSE(source()->current().has_value());
}

TEST_F(InstanceRoleTest, OnlyAnHttpEndpointIsAccepted) {
  auto made = instance_role_credentials(InstanceRoleOptions{.endpoint = "file:///etc"}, clock_);
  ASSERT_FALSE(made.has_value());
  EXPECT_NE(made.error().message.find("http://"), std::string::npos);
}

TEST_F(InstanceRoleTest, TheS3ClientSignsWithTheRolesSessionToken) {
  std::string token_seen;
  std::string authorization_seen;
  testing::ScriptedHttpServer s3([&](const HttpRequestHead& head) {
    token_seen = head.header("x-amz-security-token");
    authorization_seen = head.header("authorization");
    return http_answer(200);
  });
  ClientOptions options;
  options.endpoint = s3.endpoint();
  options.bucket = "bucket";
  options.path_style = true;
  options.credential_source = source();
  auto client = Client::create(options);
  ASSERT_TRUE(client.has_value());
  ASSERT_TRUE((*client)->head("k").has_value());
  EXPECT_EQ(token_seen, "token1");
  EXPECT_NE(authorization_seen.find("Credential=AKID1/"), std::string::npos) << authorization_seen;
}

}  // namespace
}  // namespace berth::storage::s3
