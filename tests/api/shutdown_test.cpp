// Graceful shutdown seen from clients: SIGTERM stops new connections, lets the request in
// flight finish (an upload streaming its body included), closes idle connections, and the
// process exits 0. What was stored survives into the next start on the same data directory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "api_fixture.hpp"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

// Opens once, on open() or at the latest on destruction, so a failing test never leaves a
// thread waiting on it.
class Gate {
 public:
  ~Gate() { open(); }
  void open() {
    if (!opened_.exchange(true)) {
      promise_.set_value();
    }
  }
  void wait() { future_.wait(); }

 private:
  std::promise<void> promise_;
  std::shared_future<void> future_ = promise_.get_future().share();
  std::atomic<bool> opened_{false};
};

// True once a fresh connection to the server is refused: it has closed its listener. Polls
// for up to about 30 s.
bool wait_until_refusing(std::uint16_t port) {
  for (int attempt = 0; attempt < 3000; ++attempt) {
    try {
      HttpClient probe("127.0.0.1", port);
      probe.set_timeout(std::chrono::seconds(5));
      probe.get("/healthz");
    } catch (const HttpClientError&) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string upload_range(HttpClient& client, const std::string& location) {
  const auto r = client.get(location);
  return r.status == 204 ? r.header("Range") : "status " + std::to_string(r.status);
}

TEST(ShutdownTest, SigtermWhileAnUploadStreamsLetsItFinish) {
  TempDir data;
  BerthOptions options;
  options.data = data.path() / "data";
  auto server = std::make_unique<BerthProcess>(options);
  RegistryClient registry("127.0.0.1", server->port());
  const std::string name = "shutdown/streaming";
  const auto image = registry.push_image(name, "before");
  const std::string location = registry.start_upload(name);

  constexpr std::size_t kSize = 8u << 20;
  constexpr std::size_t kPiece = 256u << 10;
  constexpr std::size_t kBeforeSignal = 1u << 20;
  const std::string bytes = random_bytes(kSize);
  const std::string digest = sha256_digest(bytes);

  HttpResponse uploaded;
  std::string upload_error;
  Gate paused;  // the uploader has sent kBeforeSignal bytes and waits
  std::jthread uploader;
  Gate resume;  // declared after the thread: opened (on destruction) before it is joined
  uploader = std::jthread([&] {
    try {
      HttpClient client("127.0.0.1", server->port());
      RequestOptions options;
      options.timeout = std::chrono::minutes(2);
      std::size_t sent = 0;
      uploaded = client.request_stream(
          "PATCH", location,
          {{"Content-Type", "application/octet-stream"},
           {"Content-Range", "0-" + std::to_string(kSize - 1)}},
          [&]() -> std::string {
            if (sent == kBeforeSignal) {
              paused.open();
              resume.wait();
            }
            const std::size_t n = std::min(kPiece, kSize - sent);
            std::string piece = bytes.substr(sent, n);
            sent += n;
            return piece;
          },
          kSize, options);
    } catch (const std::exception& e) {
      upload_error = e.what();
    }
  });

  paused.wait();
  // Wait until the server has taken in everything sent so far, so the request is surely in
  // its handler (not a connection still waiting for its first bytes) when the signal comes.
  HttpClient status_client("127.0.0.1", server->port());
  const std::string expected_range = "0-" + std::to_string(kBeforeSignal - 1);
  std::string range;
  for (int attempt = 0; attempt < 3000 && range != expected_range; ++attempt) {
    range = upload_range(status_client, location);
    if (range != expected_range) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ASSERT_EQ(range, expected_range);
  status_client.close();

  int exit_status = -1;
  std::jthread stopper([&] { exit_status = server->stop(std::chrono::seconds(60)); });
  EXPECT_TRUE(wait_until_refusing(server->port())) << "berth still accepts after SIGTERM";

  // The rest of the body goes to a server that is shutting down; the request must complete.
  resume.open();
  uploader.join();
  EXPECT_TRUE(upload_error.empty()) << upload_error;
  EXPECT_EQ(uploaded.status, 202u) << BERTH_DESCRIBE(uploaded);
  EXPECT_EQ(uploaded.header("Range"), "0-" + std::to_string(kSize - 1));
  EXPECT_TRUE(uploaded.closes_connection) << "a draining server should close after responding";

  stopper.join();
  EXPECT_EQ(exit_status, 0) << server->log();
  EXPECT_THAT(server->log(), HasSubstr("SIGTERM"));
  server.reset();

  // Everything stored survives into the next start: the image, and the upload, which can be
  // finished now.
  BerthProcess restarted(options);
  RegistryClient again("127.0.0.1", restarted.port());
  EXPECT_NO_THROW(again.verify_image(name, image));
  EXPECT_EQ(upload_range(again.http(), location), "0-" + std::to_string(kSize - 1));
  const auto put = again.http().put(location + "?digest=" + digest, "");
  ASSERT_EQ(put.status, 201u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(sha256_digest(again.pull_blob(name, digest)), digest);
  EXPECT_EQ(restarted.stop(), 0) << restarted.log();
}

TEST(ShutdownTest, SigtermClosesIdleConnectionsAndExitsZero) {
  BerthProcess server;
  RawConnection idle("127.0.0.1", server.port());
  idle.send("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto r = idle.read_response();
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  ASSERT_FALSE(r.closes_connection);
  // The connection now sits idle between requests; SIGTERM must not wait for its idle timeout.
  EXPECT_EQ(server.stop(std::chrono::seconds(60)), 0) << server.log();
  EXPECT_TRUE(idle.wait_closed(std::chrono::seconds(10)));
}

TEST(ShutdownTest, SigtermWithAHalfSentRequestHeaderExitsZero) {
  // A client that never finishes its request cannot hold the shutdown past the drain deadline.
  BerthOptions options;
  options.env["BERTH_HTTP_DRAIN_TIMEOUT"] = "2s";
  BerthProcess server(options);
  RawConnection partial("127.0.0.1", server.port());
  partial.send("GET /v2/ HTTP/1.1\r\nHost: x\r\n");  // no blank line: the header never ends
  EXPECT_EQ(server.stop(std::chrono::seconds(60)), 0) << server.log();
  EXPECT_TRUE(partial.wait_closed(std::chrono::seconds(10)));
}

}  // namespace
}  // namespace berth::testing
