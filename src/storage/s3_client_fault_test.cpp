// The S3 client against a fake S3 endpoint that fails on purpose: 5xx, SlowDown, 429,
// connections reset or left unanswered, errors inside a 200. Retries must happen with growing
// pauses and then give up cleanly as kUnavailable; client errors must not be retried.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/s3_client.hpp"

namespace berth::storage::s3 {
namespace {

using core::ErrorCode;

// What the fake does with one request.
struct Action {
  enum Kind { kAnswer, kReset, kSilence } kind = kAnswer;
  unsigned status = 200;
  std::string body;
};

Action answer(unsigned status, std::string body = {}) {
  return {Action::kAnswer, status, std::move(body)};
}
Action error_body(unsigned status, std::string_view code, std::string_view message = {}) {
  return answer(status, "<?xml version=\"1.0\"?><Error><Code>" + std::string(code) +
                            "</Code><Message>" + std::string(message) + "</Message></Error>");
}
Action reset() { return {Action::kReset, 0, {}}; }
Action silence() { return {Action::kSilence, 0, {}}; }

// An HTTP/1.1 server on 127.0.0.1 (a port the kernel picks) that plays `script` one request at
// a time; when the script runs out it repeats the last action.
class FakeS3 {
 public:
  explicit FakeS3(std::vector<Action> script) : script_(script.begin(), script.end()) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(listener_, 16);
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeS3() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
    for (int fd : silent_) {
      ::close(fd);
    }
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }
  std::vector<std::string> request_lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  void serve() {
    while (!stopping_) {
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) {
        return;
      }
      if (!converse(fd)) {
        continue;
      }
      ::close(fd);
    }
  }

  // Answers requests on one connection; false when the fd was handed elsewhere.
  bool converse(int fd) {
    std::string buffer;
    while (true) {
      std::size_t end;
      while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
        char chunk[4096];
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) {
          return true;
        }
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      std::size_t length = 0;
      if (auto at = buffer.find("content-length: "); at != std::string::npos && at < end) {
        length = std::stoul(buffer.substr(at + 16));
      } else if (auto at2 = buffer.find("Content-Length: ");
                 at2 != std::string::npos && at2 < end) {
        length = std::stoul(buffer.substr(at2 + 16));
      }
      while (buffer.size() < end + 4 + length) {
        char chunk[4096];
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) {
          return true;
        }
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      {
        std::lock_guard lock(mutex_);
        lines_.push_back(buffer.substr(0, buffer.find("\r\n")));
        buffer_line_is_head_ = buffer.starts_with("HEAD ");
      }
      buffer.erase(0, end + 4 + length);
      ++requests_;
      const Action action = next();
      if (action.kind == Action::kReset) {
        linger hard{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        return true;
      }
      if (action.kind == Action::kSilence) {
        silent_.push_back(fd);
        return false;
      }
      // A HEAD's answer has the length of the body it does not send.
      const bool head = buffer_line_is_head_;
      const std::string response = "HTTP/1.1 " + std::to_string(action.status) +
                                   " X\r\nContent-Length: " + std::to_string(action.body.size()) +
                                   "\r\n\r\n" + (head ? std::string() : action.body);
      if (::write(fd, response.data(), response.size()) < 0) {
        return true;
      }
    }
  }

  Action next() {
    std::lock_guard lock(mutex_);
    Action action = script_.front();
    if (script_.size() > 1) {
      script_.pop_front();
    }
    return action;
  }

  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::mutex mutex_;  // guards script_ and lines_
  std::deque<Action> script_;
  std::vector<std::string> lines_;
  std::vector<int> silent_;           // touched by the server thread, then by the destructor
  bool buffer_line_is_head_ = false;  // server thread only
};

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
  FakeS3 fake({error_body(500, "InternalError", "We encountered an internal error."),
               error_body(503, "SlowDown", "Please reduce your request rate."), reset(),
               answer(429), answer(200)});
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
  FakeS3 fake({error_body(503, "SlowDown", "Please reduce your request rate.")});
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
  FakeS3 fake({reset()});
  auto client = client_for(fake, 3);
  auto put = client->put("blobs/x", body("bytes"));
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().code, ErrorCode::kUnavailable) << put.error().message;
  EXPECT_EQ(fake.requests(), 3);
}

TEST_F(S3FaultTest, AnUnansweredRequestTimesOut) {
  FakeS3 fake({silence()});
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
  FakeS3 fake({error_body(403, "AccessDenied", "")});
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
  FakeS3 fake({answer(200, "<Error><Code>InternalError</Code><Message>x</Message></Error>"),
               answer(200, "<CopyObjectResult><ETag>\"e\"</ETag></CopyObjectResult>")});
  auto client = client_for(fake);
  auto copied = client->copy("uploads/a/piece-00000", "blobs/x", false);
  ASSERT_TRUE(copied.has_value()) << copied.error().message;
  EXPECT_TRUE(*copied);
  EXPECT_EQ(fake.requests(), 2);
}

TEST_F(S3FaultTest, AbsentKeysAreAnswersNotErrors) {
  FakeS3 fake({error_body(404, "NoSuchKey")});
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
  FakeS3 fake({answer(200,
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
  FakeS3 fake({answer(200,
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
