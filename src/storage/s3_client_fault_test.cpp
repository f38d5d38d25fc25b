// The S3 client against a fake S3 endpoint that fails on purpose: 5xx, SlowDown, 429,
// connections reset or left unanswered, errors inside a 200. Retries must happen with growing
// pauses and then give up cleanly as kUnavailable; client errors must not be retried.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "storage/s3_client.hpp"
#include "testing/scripted_http_server.hpp"

namespace berth::storage::s3 {
namespace {

using core::ErrorCode;

using FakeS3 = testing::ScriptedHttpServer;
using testing::http_answer;
using testing::http_reset;
using testing::http_silence;
using testing::s3_error;

class S3FaultTest : public ::testing::Test {
 protected:
  std::unique_ptr<Client> client_for(const FakeS3& fake, int attempts = 5) {
    ClientOptions options;
    options.endpoint = fake.endpoint();
    options.bucket = "bucket";
    options.path_style = true;
    options.credentials = {"AKID", "the-secret-key", ""};
    options.attempts = attempts;
    options.io_timeout = std::chrono::milliseconds(300);
    options.sleep = [this](std::chrono::milliseconds pause) { pauses_.push_back(pause); };
    auto client = Client::create(options);
    EXPECT_TRUE(client.has_value());
    return std::move(*client);
  }

  static std::vector<std::span<const std::byte>> body(std::string_view text) {
    return {std::as_bytes(std::span(text.data(), text.size()))};
  }

  std::vector<std::chrono::milliseconds> pauses_;
};

TEST_F(S3FaultTest, ServerErrorsSlowDownAndResetsAreRetriedUntilSuccess) {
  FakeS3 fake({s3_error(500, "InternalError", "We encountered an internal error."),
               s3_error(503, "SlowDown", "Please reduce your request rate."), http_reset(),
               http_answer(429), http_answer(200)});
  auto client = client_for(fake);
  auto put = client->put("blobs/x", body("bytes"));
  ASSERT_TRUE(put.has_value()) << put.error().message;
  EXPECT_EQ(fake.requests(), 5);
  // A reset on a reused keep-alive connection is sent again at once on a new one (the server
  // may have closed the idle connection just then); the others wait, under a ceiling that
  // doubles: 100, 200, 400 ms (full jitter).
  ASSERT_EQ(pauses_.size(), 3u);
  for (std::size_t i = 0; i < pauses_.size(); ++i) {
    EXPECT_LE(pauses_[i], std::chrono::milliseconds(100 << i)) << i;
  }
  for (const std::string& line : fake.request_lines()) {
    EXPECT_EQ(line, "PUT /bucket/blobs/x HTTP/1.1") << "the same request each time";
  }
}

TEST_F(S3FaultTest, GivesUpAsUnavailableWithTheLastError) {
  FakeS3 fake({s3_error(503, "SlowDown", "Please reduce your request rate.")});
  auto client = client_for(fake, 3);
  auto info = client->head("blobs/x");
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(info.error().retry_after.has_value()) << "a 503 with Retry-After for the client";
  EXPECT_NE(info.error().message.find("3 times"), std::string::npos) << info.error().message;
  EXPECT_NE(info.error().message.find("503"), std::string::npos) << info.error().message;
  EXPECT_EQ(info.error().message.find("the-secret-key"), std::string::npos);
  EXPECT_EQ(fake.requests(), 3);
}

TEST_F(S3FaultTest, ConnectionResetsGiveUpAsUnavailable) {
  FakeS3 fake({http_reset()});
  auto client = client_for(fake, 3);
  auto put = client->put("blobs/x", body("bytes"));
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().code, ErrorCode::kUnavailable) << put.error().message;
  EXPECT_EQ(fake.requests(), 3);
}

TEST_F(S3FaultTest, AnUnansweredRequestTimesOut) {
  FakeS3 fake({http_silence()});
  auto client = client_for(fake, 2);
  const auto start = std::chrono::steady_clock::now();
  auto listed = client->list("blobs/", [](const ObjectInfo&) {});
  ASSERT_FALSE(listed.has_value());
  EXPECT_EQ(listed.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(listed.error().message.find("timed out"), std::string::npos) << listed.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(S3FaultTest, ClientErrorsAreNotRetriedAndAnEmptyMessageStillSaysWhat) {
  // radosgw sends some error bodies with an empty <Message>.
  FakeS3 fake({s3_error(403, "AccessDenied", "")});
  auto client = client_for(fake);
  auto put = client->put("blobs/x", body("bytes"));
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().code, ErrorCode::kInternal);
  EXPECT_NE(put.error().message.find("403 AccessDenied"), std::string::npos) << put.error().message;
  EXPECT_EQ(fake.requests(), 1);
  EXPECT_TRUE(pauses_.empty());
}

TEST_F(S3FaultTest, AnErrorInsideA200IsRetriedWhenTransient) {
  // AWS may answer a copy or a completion with 200 and fail it in the body.
  FakeS3 fake({http_answer(200, "<Error><Code>InternalError</Code><Message>x</Message></Error>"),
               http_answer(200, "<CopyObjectResult><ETag>\"e\"</ETag></CopyObjectResult>")});
  auto client = client_for(fake);
  auto copied = client->copy("uploads/a/piece-00000", "blobs/x", false);
  ASSERT_TRUE(copied.has_value()) << copied.error().message;
  EXPECT_TRUE(*copied);
  EXPECT_EQ(fake.requests(), 2);
}

TEST_F(S3FaultTest, AbsentKeysAreAnswersNotErrors) {
  FakeS3 fake({s3_error(404, "NoSuchKey")});
  auto client = client_for(fake);
  auto info = client->head("blobs/x");
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_FALSE(info->has_value());
  EXPECT_TRUE(client->remove("blobs/x").has_value());
  EXPECT_EQ(fake.requests(), 2);
}

// DeleteObjects answers 200 and reports each key it could not delete in the body: an absent key
// is no failure (it is what remove() of an absent blob does), anything else is, naming the key.
TEST_F(S3FaultTest, DeleteObjectsReportsTheKeysItCouldNotDelete) {
  FakeS3 fake({http_answer(200,
                           "<DeleteResult><Error><Key>blobs/a</Key><Code>NoSuchKey</Code><Message>"
                           "</Message></Error><Error><Key>blobs/b</Key><Code>AccessDenied</Code>"
                           "<Message>Access Denied</Message></Error></DeleteResult>")});
  auto client = client_for(fake);
  auto removed = client->remove_many({"blobs/a", "blobs/b", "blobs/c"});
  ASSERT_FALSE(removed.has_value());
  EXPECT_NE(removed.error().message.find("blobs/b: AccessDenied Access Denied"), std::string::npos)
      << removed.error().message;
  EXPECT_EQ(removed.error().message.find("blobs/a"), std::string::npos) << removed.error().message;
}

TEST_F(S3FaultTest, DeleteObjectsSendsAThousandKeysARequest) {
  FakeS3 fake({http_answer(200,
                           "<DeleteResult><Error><Key>blobs/k7</Key><Code>NoSuchKey</Code>"
                           "</Error></DeleteResult>")});
  auto client = client_for(fake);
  std::vector<std::string> keys;
  for (int i = 0; i < 2500; ++i) {
    keys.push_back("blobs/k" + std::to_string(i));
  }
  auto removed = client->remove_many(keys);
  ASSERT_TRUE(removed.has_value()) << removed.error().message;
  EXPECT_EQ(fake.requests(), 3);
  for (const std::string& line : fake.request_lines()) {
    EXPECT_EQ(line, "POST /bucket?delete= HTTP/1.1");
  }
  EXPECT_TRUE(client->remove_many({}).has_value());
  EXPECT_EQ(fake.requests(), 3) << "nothing to delete, no request";
}

}  // namespace
}  // namespace berth::storage::s3
