// Connection-level behaviour seen from a client: keep-alive, pipelining, limits and malformed
// requests, clients that vanish mid-upload, and concurrent clients.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "api_fixture.hpp"

namespace berth::testing {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class ConnectionTest : public ApiTest {};

// parse_response() of nothing trips an assertion inside Beast, so an empty answer (the server
// closed without a word) is reported here instead.
HttpResponse parse_answer(const std::string& bytes) {
  if (bytes.empty()) {
    ADD_FAILURE() << "the server closed the connection without answering";
    return {};
  }
  return parse_response(bytes);
}

TEST_F(ConnectionTest, KeepAliveAcrossManyRequests) {
  const std::string name = repo();
  const auto image = registry().push_image(name, "v1");
  const std::size_t before = http().connects();
  for (int i = 0; i < 200; ++i) {
    const auto base = http().get("/v2/");
    ASSERT_EQ(base.status, 200u) << BERTH_DESCRIBE(base);
    ASSERT_FALSE(base.closes_connection);
    const auto missing = http().get("/v2/" + name + "/manifests/missing" + std::to_string(i));
    ASSERT_EQ(missing.status, 404u) << BERTH_DESCRIBE(missing);
    ASSERT_FALSE(missing.closes_connection);
    const auto head = http().head("/v2/" + name + "/blobs/" + image.layers[0].digest);
    ASSERT_EQ(head.status, 200u) << BERTH_DESCRIBE(head);
    const auto blob = http().get("/v2/" + name + "/blobs/" + image.layers[0].digest);
    ASSERT_EQ(blob.status, 200u);
    ASSERT_EQ(blob.body, image.layers[0].bytes);
  }
  // Uploads (bodies read by the handler) keep the connection too.
  for (int i = 0; i < 20; ++i) {
    registry().push_blob(name, random_bytes(1000 + i));
  }
  EXPECT_EQ(http().connects(), before) << "the server closed a keep-alive connection";
}

TEST_F(ConnectionTest, ErrorsBeforeTheBodyKeepTheConnectionWhenTheBodyIsSmall) {
  const std::string name = repo();
  http().get("/v2/");
  const std::size_t before = http().connects();
  // Refused before the body is read; the server must skip the body, not parse it as a request.
  const auto bad = http().post("/v2/" + name + "/blobs/uploads/?digest=sha256:bad", "x-body-x");
  EXPECT_EQ(bad.status, 400u) << BERTH_DESCRIBE(bad);
  const auto next = http().get("/v2/");
  EXPECT_EQ(next.status, 200u) << BERTH_DESCRIBE(next);
  EXPECT_EQ(http().connects(), before);
}

TEST_F(ConnectionTest, PipelinedRequestsAreAnsweredInOrder) {
  RawConnection connection("127.0.0.1", port());
  const std::string name = repo();
  connection.send(
      "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v2/" +
      name +
      "/tags/list HTTP/1.1\r\nHost: x\r\n\r\n"
      "HEAD /v2/ HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto first = connection.read_response();
  EXPECT_EQ(first.status, 200u) << BERTH_DESCRIBE(first);
  const auto second = connection.read_response();
  EXPECT_EQ(second.status, 404u) << BERTH_DESCRIBE(second);
  EXPECT_EQ(error_code(second), "NAME_UNKNOWN");
  const auto third = connection.read_response(std::chrono::seconds(10), /*head_request=*/true);
  EXPECT_EQ(third.status, 200u) << BERTH_DESCRIBE(third);
  const auto fourth = connection.read_response();
  EXPECT_EQ(fourth.status, 200u) << BERTH_DESCRIBE(fourth);
}

TEST_F(ConnectionTest, HugeHeaderIs431) {
  RawConnection connection("127.0.0.1", port());
  const std::string request =
      "GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(200 * 1024, 'a') + "\r\n\r\n";
  // The server may stop reading once it has decided; the answer must arrive all the same.
  try {
    connection.send(request);
  } catch (const HttpClientError&) {
  }
  const auto r = parse_answer(connection.read_until_close());
  EXPECT_EQ(r.status, 431u) << BERTH_DESCRIBE(r);
  EXPECT_TRUE(r.closes_connection);
  EXPECT_FALSE(r.header("X-Request-Id").empty());
}

TEST_F(ConnectionTest, ManyHeadersOverTheLimitIs431) {
  std::string request = "GET /v2/ HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 4000; ++i) {
    request += "X-H" + std::to_string(i) + ": " + std::string(30, 'v') + "\r\n";
  }
  request += "\r\n";
  RawConnection connection("127.0.0.1", port());
  try {
    connection.send(request);
  } catch (const HttpClientError&) {
  }
  const auto r = parse_answer(connection.read_until_close());
  EXPECT_EQ(r.status, 431u) << BERTH_DESCRIBE(r);
}

TEST_F(ConnectionTest, HugeTargetIsRefused) {
  RawConnection connection("127.0.0.1", port());
  try {
    connection.send("GET /v2/" + std::string(100 * 1024, 'a') +
                    "/tags/list HTTP/1.1\r\nHost: x\r\n\r\n");
  } catch (const HttpClientError&) {
  }
  const auto r = parse_answer(connection.read_until_close());
  EXPECT_THAT(r.status, AnyOf(414u, 431u)) << BERTH_DESCRIBE(r);
  EXPECT_EQ(http().get("/v2/").status, 200u);
}

TEST_F(ConnectionTest, MalformedRequestLineIs400) {
  for (const char* bytes : {"GARBAGE\r\n\r\n", "GET\r\n\r\n", "GET /v2/ HTTP/1.1 extra\r\n\r\n",
                            "GET  HTTP/1.1\r\nHost: x\r\n\r\n", "\x01\x02\x03 / HTTP/1.1\r\n\r\n",
                            "GET /v2/ HTTX/1.1\r\nHost: x\r\n\r\n"}) {
    SCOPED_TRACE(bytes);
    const std::string answer = raw_exchange("127.0.0.1", port(), bytes);
    const auto r = parse_answer(answer);
    EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
    EXPECT_FALSE(r.header("X-Request-Id").empty());
  }
  // The server is still fine.
  EXPECT_EQ(http().get("/v2/").status, 200u);
}

TEST_F(ConnectionTest, MalformedHeadersAre400) {
  for (const char* bytes :
       {"GET /v2/ HTTP/1.1\r\nHost x\r\n\r\n",
        "POST /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        "POST /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "POST /v2/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\n"}) {
    SCOPED_TRACE(bytes);
    const std::string answer = raw_exchange("127.0.0.1", port(), bytes);
    const auto r = parse_answer(answer);
    EXPECT_THAT(r.status, AnyOf(400u, 405u)) << BERTH_DESCRIBE(r);
  }
}

TEST_F(ConnectionTest, UnsupportedHttpVersionIsRefused) {
  const auto r = parse_answer(raw_exchange("127.0.0.1", port(), "GET /v2/ HTTP/2.0\r\n\r\n"));
  EXPECT_THAT(r.status, AnyOf(400u, 505u)) << BERTH_DESCRIBE(r);
}

TEST_F(ConnectionTest, Http10IsAnsweredAndClosed) {
  const std::string answer =
      raw_exchange("127.0.0.1", port(), "GET /v2/ HTTP/1.0\r\nHost: x\r\n\r\n");
  const auto r = parse_answer(answer);
  EXPECT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.version, 10u);
  EXPECT_TRUE(r.closes_connection);
  EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
}

TEST_F(ConnectionTest, ConnectionCloseIsHonoured) {
  RawConnection connection("127.0.0.1", port());
  connection.send("GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const auto r = connection.read_response();
  EXPECT_EQ(r.status, 200u);
  EXPECT_TRUE(r.closes_connection);
  EXPECT_TRUE(connection.wait_closed()) << "the server kept the connection open";
}

TEST_F(ConnectionTest, ClientVanishingMidUploadLeavesAResumableUpload) {
  const std::string name = repo();
  const std::string bytes = random_bytes(100000);
  const std::string digest = sha256_digest(bytes);
  const std::string location = registry().start_upload(name);
  {
    RawConnection connection("127.0.0.1", port());
    connection.send("PATCH " + location +
                    " HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                    "Content-Type: application/octet-stream\r\n\r\n" +
                    bytes.substr(0, 50000));
    connection.close();
  }
  // Resume as a client would: ask where the upload stands and send the rest from there. The
  // server may still be finishing the cut-off request (the upload is then busy, or grows under
  // us), so a refused resume is retried after asking again.
  bool resumed = false;
  std::string next;
  for (int attempt = 0; attempt < 500 && !resumed; ++attempt) {
    const auto status = http().get(location);
    ASSERT_EQ(status.status, 204u) << BERTH_DESCRIBE(status);
    const std::string range = status.header("Range");
    ASSERT_THAT(range, StartsWith("0-"));
    std::size_t have = std::stoull(range.substr(2)) + 1;
    if (range == "0-0") {
      have = 0;  // Distribution's convention for an empty upload.
    }
    ASSERT_LE(have, 50000u) << "more bytes than the client sent";
    const auto patch = http().patch(location, bytes.substr(have),
                                    {{"Content-Range", std::to_string(have) + "-99999"}});
    if (patch.status == 202) {
      resumed = true;
      next = location_target(patch);
      break;
    }
    ASSERT_THAT(patch.status, AnyOf(400u, 416u)) << BERTH_DESCRIBE(patch);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(resumed);
  const auto put =
      http().put(next + (next.find('?') == std::string::npos ? "?" : "&") + "digest=" + digest, "");
  ASSERT_EQ(put.status, 201u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(registry().pull_blob(name, digest), bytes);
}

TEST_F(ConnectionTest, ShortBodyThenCloseStoresNothing) {
  const std::string name = repo();
  const std::string bytes = random_bytes(10000);
  const std::string digest = sha256_digest(bytes);
  {
    RawConnection connection("127.0.0.1", port());
    connection.send("POST /v2/" + name + "/blobs/uploads/?digest=" + digest +
                    " HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n" +
                    bytes.substr(0, 9999));
    connection.close();
  }
  // Whenever the server gets to it, the truncated monolithic upload must not become a blob.
  EXPECT_EQ(http().head("/v2/" + name + "/blobs/" + digest).status, 404u);
  EXPECT_EQ(http().get("/v2/").status, 200u);
}

TEST_F(ConnectionTest, ConcurrentClientsPushAndPull) {
  constexpr int kClients = 8;
  const std::string name = repo();
  std::atomic<int> failures{0};
  std::vector<std::string> errors(kClients);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      try {
        RegistryClient client("127.0.0.1", port());
        for (int i = 0; i < 3; ++i) {
          const auto image =
              client.push_image(name, "c" + std::to_string(c) + "-" + std::to_string(i),
                                ImageOptions()
                                    .with_layer_size(100 * 1024 + static_cast<std::size_t>(c))
                                    .with_chunked_above(64 * 1024));
          client.verify_image(name, image);
        }
      } catch (const std::exception& e) {
        ++failures;
        errors[c] = e.what();
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (const auto& error : errors) {
    EXPECT_TRUE(error.empty()) << error;
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(registry().list_tags(name).size(), static_cast<std::size_t>(kClients * 3));
}

TEST_F(ConnectionTest, ConcurrentPushesOfTheSameContent) {
  // Several clients push the same blob and the same manifest under different tags at once:
  // every push succeeds and the content reads back whole.
  constexpr int kClients = 6;
  const std::string name = repo();
  const std::string bytes = random_bytes(512 * 1024);
  const std::string config = R"({"architecture":"amd64","os":"linux"})";
  const std::string manifest = make_image_manifest(describe(media_types::kOciConfig, config),
                                                   {describe(media_types::kOciLayer, bytes)});
  std::vector<std::string> errors(kClients);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      try {
        RegistryClient client("127.0.0.1", port());
        client.push_blob(name, bytes);
        client.push_blob(name, config);
        client.push_manifest(name, "c" + std::to_string(c), manifest, media_types::kOciManifest);
      } catch (const std::exception& e) {
        errors[c] = e.what();
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (const auto& error : errors) {
    EXPECT_TRUE(error.empty()) << error;
  }
  EXPECT_EQ(registry().pull_blob(name, sha256_digest(bytes)), bytes);
  EXPECT_EQ(registry().list_tags(name).size(), static_cast<std::size_t>(kClients));
  EXPECT_EQ(registry().get_manifest(name, "c0").body, manifest);
}

TEST_F(ConnectionTest, ConcurrentPatchesToOneUploadNeverInterleave) {
  const std::string name = repo();
  const std::string location = registry().start_upload(name);
  constexpr int kClients = 4;
  const std::string chunk = random_bytes(256 * 1024);
  std::vector<unsigned> statuses(kClients);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      try {
        HttpClient client("127.0.0.1", port());
        statuses[c] = client.patch(location, chunk, {{"Content-Range", "0-262143"}}).status;
      } catch (const HttpClientError&) {
        statuses[c] = 0;  // no answer at all: fails below
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  // Exactly one chunk starting at 0 can win; the others are out of order or find it busy.
  int accepted = 0;
  for (unsigned status : statuses) {
    EXPECT_THAT(status, AnyOf(202u, 400u, 416u));
    accepted += status == 202 ? 1 : 0;
  }
  EXPECT_EQ(accepted, 1);
  const auto status = http().get(location);
  ASSERT_EQ(status.status, 204u) << BERTH_DESCRIBE(status);
  EXPECT_EQ(status.header("Range"), "0-262143");
  const auto put = http().put(location + "?digest=" + sha256_digest(chunk), "");
  EXPECT_EQ(put.status, 201u) << BERTH_DESCRIBE(put);
}

TEST_F(ConnectionTest, ErrorResponsesAreJsonWithTheApiVersionHeader) {
  const auto r = http().get("/v2/" + repo() + "/blobs/sha256:" + std::string(64, 'a'));
  EXPECT_EQ(r.status, 404u);
  EXPECT_THAT(r.header("Content-Type"), StartsWith("application/json"));
  EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
  EXPECT_THAT(r.body, HasSubstr("BLOB_UNKNOWN"));
}

}  // namespace
}  // namespace berth::testing
