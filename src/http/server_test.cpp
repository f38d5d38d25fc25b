// Tests of the HTTP server over loopback: keep-alive, bodies in and out, limits, deadlines,
// shutdown and concurrency. Each test runs a Server on 127.0.0.1:0 in a thread and drives it
// with the blocking test client.
#include "http/server.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/beast/http/error.hpp>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "http/server_test_support.hpp"
#include "testing/http_client.hpp"

namespace berth::http {
namespace {

namespace bhttp = beast::http;
using berth::testing::HttpClient;
using berth::testing::HttpClientError;
using berth::testing::HttpHeaders;
using berth::testing::RawConnection;
using berth::testing::RequestOptions;
using namespace std::chrono_literals;
using test_support::kPatience;
using test_support::make_response;
using test_support::query_number;
using test_support::random_bytes;
using test_support::TempFile;
using test_support::Warnings;

struct Record {
  std::string method;
  std::string target;
  unsigned status = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::string request_id;
  std::string user;
  std::string remote;
};

class TestServer {
 public:
  explicit TestServer(Handler handler, ServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    if (options.io_threads == 0) {
      options.io_threads = 2;
    }
    server_ = std::make_unique<Server>(options, std::move(handler), pool_,
                                       [this](const AccessRecord& record) { log(record); });
    const auto endpoint = server_->listen();
    if (!endpoint) {
      throw std::runtime_error("listen: " + endpoint.error().message());
    }
    port_ = endpoint->port();
    thread_ = std::thread([this] {
      server_->run();
      run_returned_ = true;
    });
  }
  ~TestServer() {
    server_->stop();
    join();
  }

  std::uint16_t port() const { return port_; }
  Server& server() { return *server_; }
  void stop() { server_->stop(); }
  void join() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  bool run_returned() const { return run_returned_; }
  HttpClient client() const { return HttpClient("127.0.0.1", port_); }

  // Records are written after the response went out, so a test waits for them.
  std::vector<Record> wait_for_records(std::size_t count) {
    std::unique_lock lock(mutex_);
    records_changed_.wait_for(lock, kPatience, [&] { return records_.size() >= count; });
    return records_;
  }

 private:
  void log(const AccessRecord& record) {
    std::lock_guard lock(mutex_);
    records_.push_back(Record{
        .method = std::string(record.method),
        .target = std::string(record.target),
        .status = record.status,
        .bytes_in = record.bytes_in,
        .bytes_out = record.bytes_out,
        .request_id = std::string(record.request_id),
        .user = std::string(record.user),
        .remote = std::string(record.remote),
    });
    records_changed_.notify_all();
  }

  BlockingPool pool_{2};
  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> run_returned_{false};
  std::mutex mutex_;
  std::condition_variable records_changed_;
  std::vector<Record> records_;
};

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash = 14695981039346656037ull) {
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

// Reads the whole body and answers with it.
asio::awaitable<void> echo(Exchange& exchange) {
  auto body = co_await exchange.read_body_string(64 * 1024 * 1024);
  if (!body) {
    co_await exchange.respond(make_response(bhttp::status::bad_request, body.error().message()));
    co_return;
  }
  co_await exchange.respond(make_response(bhttp::status::ok, std::move(*body)));
}

bool is_request_id(std::string_view id) {
  return id.size() == 16 && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// ---------------------------------------------------------------------------- keep-alive

TEST(HttpServer, KeepAliveServesManyRequestsOnOneConnection) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(
        make_response(bhttp::status::ok, std::string(exchange.request().target())));
  });
  auto client = server.client();
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    const std::string target = "/item/" + std::to_string(i);
    const auto response = client.get(target);
    ASSERT_EQ(response.status, 200);
    EXPECT_EQ(response.body, target);
    EXPECT_FALSE(response.closes_connection);
    EXPECT_TRUE(is_request_id(response.header("X-Request-Id"))) << response.header("X-Request-Id");
    EXPECT_TRUE(response.has_header("Date"));
    ids.insert(response.header("X-Request-Id"));
  }
  EXPECT_EQ(client.connects(), 1u);
  EXPECT_EQ(ids.size(), 100u);
  EXPECT_EQ(server.server().connection_count(), 1u);
}

// What the audit log records: the exchange knows the status however the handler answered (the
// API's fail() answered through respond() and its status was lost before).
TEST(HttpServer, TheExchangeKnowsTheStatusItAnswered) {
  std::atomic<unsigned> before{1};
  std::atomic<unsigned> after{0};
  TestServer server([&](Exchange& exchange) -> asio::awaitable<void> {
    before = exchange.status();
    co_await exchange.respond(make_response(bhttp::status::conflict, "no"));
    after = exchange.status();
  });
  EXPECT_EQ(server.client().get("/x").status, 409);
  // The handler goes on after the response was sent; its access record comes after it returns.
  server.wait_for_records(1);
  EXPECT_EQ(before.load(), 0u);
  EXPECT_EQ(after.load(), 409u);
}

// An upload in flight is a request carrying blob bytes: a bodiless POST (a mount, the start of
// a chunked upload) on the upload route is not one (it was counted before).
TEST(HttpServer, OnlyUploadsWithABodyAreCountedInFlight) {
  metrics::HttpMetrics metrics;
  ServerOptions options;
  options.metrics = &metrics;
  std::mutex mutex;
  std::vector<bool> counted;
  TestServer server(
      [&](Exchange& exchange) -> asio::awaitable<void> {
        exchange.set_route(metrics::RouteClass::kUpload);
        metrics::Exposition out;
        metrics.write(out);
        {
          std::lock_guard lock(mutex);
          counted.push_back(out.text().find("berth_uploads_in_flight 1\n") != std::string::npos);
        }
        co_await echo(exchange);
      },
      options);
  auto client = server.client();
  EXPECT_EQ(client.post("/v2/a/b/blobs/uploads/?mount=sha256:x", "").status, 200);
  EXPECT_EQ(client.post("/v2/a/b/blobs/uploads/?digest=sha256:y", "layer bytes").status, 200);
  std::lock_guard lock(mutex);
  EXPECT_EQ(counted, (std::vector<bool>{false, true}));
}

TEST(HttpServer, Http10ClosesAfterTheResponse) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(make_response(bhttp::status::ok, "old"));
  });
  RawConnection raw("127.0.0.1", server.port());
  raw.send("GET / HTTP/1.0\r\n\r\n");
  const auto response = berth::testing::parse_response(raw.read_until_close(kPatience));
  EXPECT_TRUE(raw.closed());
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.version, 10u);
  EXPECT_EQ(response.body, "old");
}

TEST(HttpServer, Http10KeepAliveIsHonoured) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(make_response(bhttp::status::ok, "old"));
  });
  RawConnection raw("127.0.0.1", server.port());
  raw.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  const auto first = raw.read_response(kPatience);
  EXPECT_EQ(first.header("Connection"), "keep-alive");
  raw.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_EQ(raw.read_response(kPatience).body, "old");
}

TEST(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(
        make_response(bhttp::status::ok, std::string(exchange.request().target())));
  });
  RawConnection raw("127.0.0.1", server.port());
  raw.send(
      "GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "GET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(raw.read_response(kPatience).body, "/one");
  EXPECT_EQ(raw.read_response(kPatience).body, "/two");
  const auto third = raw.read_response(kPatience);
  EXPECT_EQ(third.body, "/three");
  EXPECT_TRUE(third.closes_connection);
  EXPECT_TRUE(raw.wait_closed(kPatience));
}

TEST(HttpServer, ConnectionCloseFromTheClientIsHonoured) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(make_response(bhttp::status::ok, "bye"));
  });
  auto client = server.client();
  const auto response = client.get("/", {{"Connection", "close"}});
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(response.closes_connection);
  EXPECT_EQ(client.get("/").status, 200);
  EXPECT_EQ(client.connects(), 2u);
}

// ---------------------------------------------------------------------------- HEAD

TEST(HttpServer, HeadSendsTheHandlersContentLengthAndNoBody) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    if (exchange.request().method() == bhttp::verb::head) {
      auto response = make_response(bhttp::status::ok);
      response.set(bhttp::field::content_length, "12345");
      co_await exchange.respond(std::move(response));
      co_return;
    }
    co_await exchange.respond(make_response(bhttp::status::ok, "after"));
  });
  auto client = server.client();
  const auto head = client.head("/blob");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), "12345");
  EXPECT_TRUE(head.body.empty());
  // Had a body been written, it would be read as the start of this response.
  const auto get = client.get("/next");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, "after");
  EXPECT_EQ(client.connects(), 1u);
}

TEST(HttpServer, HeadWithABodyAdvertisesItsLengthButDoesNotSendIt) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(make_response(bhttp::status::ok, "0123456789"));
  });
  RawConnection raw("127.0.0.1", server.port());
  raw.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto head = raw.read_response(kPatience, /*head_request=*/true);
  EXPECT_EQ(head.header("Content-Length"), "10");
  raw.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string rest = raw.read_until_close(kPatience);
  // Exactly one more response: the HEAD wrote no body bytes.
  EXPECT_TRUE(rest.starts_with("HTTP/1.1 200")) << rest;
  EXPECT_TRUE(rest.ends_with("\r\n\r\n0123456789")) << rest;
}

TEST(HttpServer, NoContentResponseHasNoBodyOrLength) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(make_response(bhttp::status::no_content));
  });
  auto client = server.client();
  const auto response = client.del("/thing");
  EXPECT_EQ(response.status, 204);
  EXPECT_FALSE(response.has_header("Content-Length"));
  EXPECT_EQ(client.get("/again").status, 204);
  EXPECT_EQ(client.connects(), 1u);
}

// ---------------------------------------------------------------------------- request bodies

TEST(HttpServer, BodyStreamsIntoASmallBuffer) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    std::array<std::byte, 4096> buffer{};
    std::uint64_t total = 0;
    std::uint64_t hash = 14695981039346656037ull;
    std::size_t largest = 0;
    for (;;) {
      auto got = co_await exchange.read_body(buffer);
      if (!got) {
        co_await exchange.respond(make_response(bhttp::status::bad_request, got.error().message()));
        co_return;
      }
      if (*got == 0) {
        break;
      }
      largest = std::max(largest, *got);
      total += *got;
      hash = fnv1a(std::string_view(reinterpret_cast<const char*>(buffer.data()), *got), hash);
    }
    co_await exchange.respond(make_response(
        bhttp::status::ok, std::to_string(total) + " " + std::to_string(hash) + " " +
                               std::to_string(largest) + " " +
                               std::to_string(exchange.content_length().value_or(0))));
  });
  const std::string body = random_bytes(1024 * 1024);
  auto client = server.client();
  const auto response = client.put("/upload", body);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, std::to_string(body.size()) + " " + std::to_string(fnv1a(body)) +
                               " 4096 " + std::to_string(body.size()));
}

TEST(HttpServer, ChunkedRequestBodyIsDecoded) {
  TestServer server(echo);
  const std::string body = random_bytes(300 * 1000, 7);
  auto client = server.client();
  RequestOptions options;
  options.chunked = true;
  options.piece_size = 999;
  const auto response = client.request("PATCH", "/upload", {}, body, options);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, body);
  // The connection survives a chunked body read to its end.
  EXPECT_EQ(client.get("/").status, 200);
  EXPECT_EQ(client.connects(), 1u);
}

TEST(HttpServer, StreamedChunkedBodyFromAGenerator) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    const bool has_body = exchange.has_body();
    const bool unknown_length = !exchange.content_length().has_value();
    auto body = co_await exchange.read_body_string(1 << 20);
    // Kept out of the co_await expression: GCC 12 miscompiles a conditional there.
    const std::string text = body ? *body : body.error().message();
    co_await exchange.respond(make_response(
        bhttp::status::ok, std::to_string(has_body) + std::to_string(unknown_length) + ":" + text));
  });
  int pieces = 0;
  auto client = server.client();
  const auto response = client.request_stream(
      "PATCH", "/upload", {},
      [&]() -> std::string { return pieces < 5 ? std::string(3, 'a' + pieces++) : ""; },
      std::nullopt);
  EXPECT_EQ(response.body, "11:aaabbbcccdddeee");
}

TEST(HttpServer, ExpectContinueGetsA100BeforeTheBody) {
  TestServer server(echo);
  auto client = server.client();
  RequestOptions options;
  options.expect_continue = true;
  const auto response = client.request("PUT", "/upload", {}, "payload", options);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.continues, 1u);
  EXPECT_EQ(response.body, "payload");
  EXPECT_EQ(client.get("/").status, 200);
  EXPECT_EQ(client.connects(), 1u);
}

TEST(HttpServer, ExpectContinueRefusedWithoutReadingClosesTheConnection) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(make_response(bhttp::status::unauthorized, "no"));
  });
  RawConnection raw("127.0.0.1", server.port());
  raw.send("PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  const auto response = raw.read_response(kPatience, false, /*keep_continue=*/true);
  EXPECT_EQ(response.status, 401);
  EXPECT_TRUE(response.closes_connection);
  EXPECT_TRUE(raw.wait_closed(kPatience));
}

TEST(HttpServer, SmallUnreadBodyIsDrainedAndTheConnectionKept) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(make_response(bhttp::status::accepted, "ignored your body"));
  });
  auto client = server.client();
  const auto first = client.put("/x", std::string(10000, 'x'));
  EXPECT_EQ(first.status, 202);
  EXPECT_FALSE(first.closes_connection);
  EXPECT_EQ(client.get("/y").status, 202);
  EXPECT_EQ(client.connects(), 1u);
  const auto records = server.wait_for_records(2);
  ASSERT_GE(records.size(), 1u);
  EXPECT_EQ(records[0].bytes_in, 10000u);
}

TEST(HttpServer, LargeUnreadBodyClosesTheConnectionAfterTheResponse) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(make_response(bhttp::status::unauthorized, "no"));
  });
  auto client = server.client();
  const auto response = client.put("/x", std::string(1024 * 1024, 'x'));
  EXPECT_EQ(response.status, 401);
  EXPECT_TRUE(response.closes_connection);
  EXPECT_EQ(client.get("/y").status, 401);
  EXPECT_EQ(client.connects(), 2u);
}

// ---------------------------------------------------------------------------- limits

// Answers 413 when the body is over the limit, naming the error the exchange reported.
Handler limited_reader(std::uint64_t limit, std::shared_ptr<std::string> error_seen) {
  return [limit, error_seen](Exchange& exchange) -> asio::awaitable<void> {
    exchange.set_body_limit(limit);
    std::array<std::byte, 1000> buffer{};
    for (;;) {
      auto got = co_await exchange.read_body(buffer);
      if (!got) {
        *error_seen =
            got.error() == bhttp::error::body_limit ? "body_limit" : got.error().message();
        co_await exchange.respond(make_response(bhttp::status::payload_too_large));
        co_return;
      }
      if (*got == 0) {
        break;
      }
    }
    co_await exchange.respond(make_response(bhttp::status::ok, "fits"));
  };
}

TEST(HttpServer, BodyOverTheLimitIsReportedAndTheConnectionClosed) {
  auto error_seen = std::make_shared<std::string>();
  TestServer server(limited_reader(1000, error_seen));
  auto client = server.client();
  const auto response = client.put("/x", std::string(1024 * 1024, 'x'));
  EXPECT_EQ(response.status, 413);
  EXPECT_TRUE(response.closes_connection);
  EXPECT_EQ(*error_seen, "body_limit");
}

TEST(HttpServer, ChunkedBodyOverTheLimitIsReportedAndTheConnectionClosed) {
  auto error_seen = std::make_shared<std::string>();
  TestServer server(limited_reader(1000, error_seen));
  auto client = server.client();
  RequestOptions options;
  options.chunked = true;
  options.piece_size = 300;
  const auto response = client.request("PATCH", "/x", {}, std::string(1001, 'x'), options);
  EXPECT_EQ(response.status, 413);
  EXPECT_TRUE(response.closes_connection);
  EXPECT_EQ(*error_seen, "body_limit");
}

TEST(HttpServer, BodyExactlyAtTheLimitIsAccepted) {
  auto error_seen = std::make_shared<std::string>();
  TestServer server(limited_reader(1000, error_seen));
  auto client = server.client();
  RequestOptions options;
  options.chunked = true;
  options.piece_size = 300;
  const auto response = client.request("PATCH", "/x", {}, std::string(1000, 'x'), options);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(*error_seen, "");
  EXPECT_EQ(client.put("/x", std::string(1000, 'y')).status, 200);
  EXPECT_EQ(client.connects(), 1u);
}

TEST(HttpServer, DefaultBodyLimitAppliesToReadBodyString) {
  ServerOptions options;
  options.default_body_limit = 100;
  TestServer server(echo, options);
  auto client = server.client();
  EXPECT_EQ(client.put("/x", std::string(100, 'x')).body, std::string(100, 'x'));
  const auto over = client.put("/x", std::string(101, 'x'));
  EXPECT_EQ(over.status, 400);
  EXPECT_EQ(over.body, bhttp::make_error_code(bhttp::error::body_limit).message());
  EXPECT_TRUE(over.closes_connection);
}

TEST(HttpServer, ReadBodyStringLimitIsEnforcedForChunkedBodies) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    auto body = co_await exchange.read_body_string(10);
    std::string text = "other";
    if (body) {
      text = "ok:" + *body;
    } else if (body.error() == bhttp::error::body_limit) {
      text = "limit";
    }
    co_await exchange.respond(make_response(bhttp::status::ok, text));
  });
  auto client = server.client();
  RequestOptions options;
  options.chunked = true;
  options.piece_size = 4;
  EXPECT_EQ(client.request("PATCH", "/", {}, "0123456789", options).body, "ok:0123456789");
  EXPECT_EQ(client.request("PATCH", "/", {}, "0123456789A", options).body, "limit");
}

TEST(HttpServer, HeaderOverTheLimitGets431AndClose) {
  ServerOptions options;
  options.header_limit = 1024;
  std::atomic<bool> called{false};
  TestServer server(
      [&](Exchange& exchange) -> asio::awaitable<void> {
        called = true;
        co_await exchange.respond(make_response(bhttp::status::ok));
      },
      options);
  RawConnection raw("127.0.0.1", server.port());
  raw.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'b') + "\r\n\r\n");
  const std::string answer = raw.read_until_close(kPatience);
  EXPECT_TRUE(raw.closed());
  const auto response = berth::testing::parse_response(answer);
  EXPECT_EQ(response.status, 431);
  EXPECT_TRUE(response.closes_connection);
  EXPECT_TRUE(is_request_id(response.header("X-Request-Id")));
  EXPECT_FALSE(called);
  const auto records = server.wait_for_records(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].status, 431u);
}

TEST(HttpServer, MalformedRequestsGet400AndClose) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(make_response(bhttp::status::ok));
  });
  for (const std::string& request : {
           std::string("GARBAGE\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nthis is not a header\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nContent-Length: nope\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n"
                       "\r\n0\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
           std::string("GET  HTTP/1.1\r\n\r\n"),
       }) {
    RawConnection raw("127.0.0.1", server.port());
    raw.send(request);
    const std::string answer = raw.read_until_close(kPatience);
    EXPECT_TRUE(raw.closed()) << request;
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 ")) << request << " -> " << answer;
  }
}

// RFC 9112 3.2: an HTTP/1.1 request without Host, or with two, or with one that is not a
// host[:port], gets 400 and never reaches the handler. HTTP/1.0 had no Host and keeps working.
TEST(HttpServer, Http11RequestWithoutAValidHostGets400) {
  auto handled = std::make_shared<std::atomic<int>>(0);
  TestServer server([handled](Exchange& exchange) -> asio::awaitable<void> {
    ++*handled;
    co_await exchange.respond(make_response(bhttp::status::ok, "served"));
  });
  for (const std::string& request : {
           std::string("GET / HTTP/1.1\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n"),
           std::string("GET / HTTP/1.0\r\nHost: a.example\r\nHost: b.example\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: a.example/path\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: a example\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: a@example\r\n\r\n"),
       }) {
    RawConnection raw("127.0.0.1", server.port());
    raw.send(request);
    const std::string answer = raw.read_until_close(kPatience);
    EXPECT_TRUE(raw.closed()) << request;
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 ")) << request << " -> " << answer;
  }
  EXPECT_EQ(handled->load(), 0);

  for (const std::string& request : {
           std::string("GET / HTTP/1.0\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: registry.example:5000\r\nConnection: "
                       "close\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: [::1]:5000\r\nConnection: close\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
       }) {
    const std::string answer = berth::testing::raw_exchange("127.0.0.1", server.port(), request);
    EXPECT_EQ(answer.substr(0, 13),
              request.find("HTTP/1.0") != std::string::npos ? "HTTP/1.0 200 " : "HTTP/1.1 200 ")
        << request << " -> " << answer;
  }
  EXPECT_EQ(handled->load(), 4);
}

TEST(HttpServer, HttpVersionsOtherThan1xAreRefused) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(make_response(bhttp::status::ok));
  });
  for (const char* version : {"HTTP/0.9", "HTTP/1.2", "HTTP/2.0"}) {
    const std::string answer = berth::testing::raw_exchange(
        "127.0.0.1", server.port(), std::string("GET / ") + version + "\r\n\r\n");
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 ")) << version << " -> " << answer;
  }
}

TEST(HttpServer, BadChunkEncodingIsReportedToTheHandlerAndCloses) {
  auto error_seen = std::make_shared<std::string>();
  TestServer server([error_seen](Exchange& exchange) -> asio::awaitable<void> {
    auto body = co_await exchange.read_body_string(1 << 20);
    *error_seen = body ? "none" : body.error().message();
    co_await exchange.respond(make_response(bhttp::status::bad_request));
  });
  RawConnection raw("127.0.0.1", server.port());
  raw.send(
      "PATCH / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\nzz\r\n");
  const auto response = raw.read_response(kPatience);
  EXPECT_EQ(response.status, 400);
  EXPECT_TRUE(response.closes_connection);
  EXPECT_TRUE(raw.wait_closed(kPatience));
  EXPECT_NE(*error_seen, "none");
  EXPECT_FALSE(error_seen->empty());
}

// ---------------------------------------------------------------------------- responses

TEST(HttpServer, RespondFileSendsTheWholeFileAndWindows) {
  const std::string content = random_bytes(5 * 1024 * 1024 + 17, 3);
  TempFile file(content);
  const std::string path = file.path();
  TestServer server([path, size = content.size()](Exchange& exchange) -> asio::awaitable<void> {
    const std::string_view target = exchange.request().target();
    std::uint64_t offset = query_number(target, "offset");
    std::uint64_t length = target.find("length=") != std::string_view::npos
                               ? query_number(target, "length")
                               : size - offset;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ResponseHeader header;
    header.result(bhttp::status::ok);
    header.set(bhttp::field::content_type, "application/octet-stream");
    co_await exchange.respond_file(std::move(header), fd, offset, length);
    ::close(fd);
  });
  auto client = server.client();
  const auto whole = client.get("/file");
  ASSERT_EQ(whole.status, 200);
  EXPECT_EQ(whole.header("Content-Length"), std::to_string(content.size()));
  EXPECT_TRUE(whole.body == content);

  const auto window = client.get("/file?offset=1000&length=500000");
  ASSERT_EQ(window.status, 200);
  EXPECT_TRUE(window.body == content.substr(1000, 500000));

  const auto tail = client.get("/file?offset=" + std::to_string(content.size() - 5));
  EXPECT_EQ(tail.body, content.substr(content.size() - 5));

  const auto head = client.head("/file");
  EXPECT_EQ(head.header("Content-Length"), std::to_string(content.size()));
  EXPECT_TRUE(head.body.empty());

  const auto empty = client.get("/file?offset=0&length=0");
  EXPECT_EQ(empty.header("Content-Length"), "0");
  EXPECT_TRUE(empty.body.empty());

  EXPECT_EQ(client.connects(), 1u);
  const auto records = server.wait_for_records(5);
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].bytes_out, content.size());
  EXPECT_EQ(records[1].bytes_out, 500000u);
  EXPECT_EQ(records[3].bytes_out, 0u);
}

TEST(HttpServer, RespondFileToASlowReaderWaitsForTheSocket) {
  // Larger than any socket buffer on the way, read through a small window: sendfile(2) must
  // hit EAGAIN and the server must wait for writability rather than give up or spin.
  const std::string content = random_bytes(8 * 1024 * 1024, 5);
  TempFile file(content);
  const std::string path = file.path();
  TestServer server([path, size = content.size()](Exchange& exchange) -> asio::awaitable<void> {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ResponseHeader header;
    header.result(bhttp::status::ok);
    co_await exchange.respond_file(std::move(header), fd, 0, size);
    ::close(fd);
  });
  RawConnection raw("127.0.0.1", server.port(), /*receive_buffer=*/16 * 1024);
  raw.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const auto response = berth::testing::parse_response(raw.read_until_close(kPatience));
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(response.body == content);
}

TEST(HttpServer, RespondFileToAReaderThatStopsIsCutOffAfterTheWriteTimeout) {
  const std::string content = random_bytes(16 * 1024 * 1024, 6);
  TempFile file(content);
  const std::string path = file.path();
  ServerOptions options;
  options.write_timeout = 200ms;
  TestServer server(
      [path, size = content.size()](Exchange& exchange) -> asio::awaitable<void> {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        ResponseHeader header;
        header.result(bhttp::status::ok);
        co_await exchange.respond_file(std::move(header), fd, 0, size);
        ::close(fd);
      },
      options);
  RawConnection raw("127.0.0.1", server.port(), /*receive_buffer=*/16 * 1024);
  raw.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  // Read nothing until the server has given up on this request.
  const auto records = server.wait_for_records(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_LT(records[0].bytes_out, content.size());
  const std::string received = raw.read_until_close(kPatience);
  EXPECT_TRUE(raw.closed());
  EXPECT_LT(received.size(), content.size());
}

TEST(HttpServer, RespondFileShorterThanPromisedClosesTheConnection) {
  TempFile file("only this");
  const std::string path = file.path();
  TestServer server([path](Exchange& exchange) -> asio::awaitable<void> {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ResponseHeader header;
    header.result(bhttp::status::ok);
    co_await exchange.respond_file(std::move(header), fd, 0, 1000);
    ::close(fd);
  });
  // Raw, so that what is checked is what arrived: the header promising 1000 bytes, the 9 the
  // file has, then the close (a client that merely failed to connect would see none of it).
  RawConnection raw("127.0.0.1", server.port());
  raw.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string received = raw.read_until_close(kPatience);
  EXPECT_TRUE(raw.closed());
  ASSERT_TRUE(received.starts_with("HTTP/1.1 200 ")) << received;
  const auto header_end = received.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos) << received;
  EXPECT_NE(received.find("Content-Length: 1000\r\n"), std::string::npos) << received;
  EXPECT_EQ(received.substr(header_end + 4), "only this");
  const auto records = server.wait_for_records(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].bytes_out, 9u);
}

Handler stream_handler(std::shared_ptr<const std::string> source, std::uint64_t cut_at) {
  return [source, cut_at](Exchange& exchange) -> asio::awaitable<void> {
    const std::string_view target = exchange.request().target();
    const std::uint64_t offset = query_number(target, "offset");
    const std::uint64_t length = target.find("length=") != std::string_view::npos
                                     ? query_number(target, "length")
                                     : source->size() - offset;
    ResponseHeader header;
    header.result(bhttp::status::ok);
    // Named, not written inside the co_await: see offload() in blocking_pool.hpp.
    Exchange::ReadAt read_at = [source, cut_at](std::uint64_t at,
                                                std::span<std::byte> out) -> IoResult<std::size_t> {
      const std::uint64_t end = std::min<std::uint64_t>(source->size(), cut_at);
      if (at >= end) {
        return 0;
      }
      // Short reads on purpose: the server must keep asking.
      const std::size_t n = std::min<std::size_t>({out.size(), end - at, 100'000});
      std::memcpy(out.data(), source->data() + at, n);
      return n;
    };
    co_await exchange.respond_stream(std::move(header), offset, length, std::move(read_at));
  };
}

TEST(HttpServer, RespondStreamSendsTheSourcesBytes) {
  auto source = std::make_shared<const std::string>(random_bytes(3 * 1024 * 1024 + 5, 9));
  TestServer server(stream_handler(source, UINT64_MAX));
  auto client = server.client();
  const auto whole = client.get("/");
  ASSERT_EQ(whole.status, 200);
  EXPECT_TRUE(whole.body == *source);
  const auto window = client.get("/?offset=12345&length=777777");
  EXPECT_TRUE(window.body == source->substr(12345, 777777));
  const auto head = client.head("/");
  EXPECT_EQ(head.header("Content-Length"), std::to_string(source->size()));
  EXPECT_EQ(client.connects(), 1u);
}

TEST(HttpServer, RespondStreamEndingEarlyClosesTheConnection) {
  auto source = std::make_shared<const std::string>(random_bytes(1024 * 1024, 9));
  TestServer server(stream_handler(source, 500'000));
  auto client = server.client();
  EXPECT_THROW(client.get("/"), HttpClientError);
  const auto records = server.wait_for_records(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].bytes_out, 500'000u);
}

TEST(HttpServer, RespondStreamReaderErrorClosesTheConnection) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    ResponseHeader header;
    header.result(bhttp::status::ok);
    Exchange::ReadAt read_at = [](std::uint64_t, std::span<std::byte>) -> IoResult<std::size_t> {
      throw std::runtime_error("disk on fire");
    };
    co_await exchange.respond_stream(std::move(header), 0, 100, std::move(read_at));
  });
  // The header went out promising 100 bytes; none followed, and the server closed.
  RawConnection raw("127.0.0.1", server.port());
  raw.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string received = raw.read_until_close(kPatience);
  EXPECT_TRUE(raw.closed());
  ASSERT_TRUE(received.starts_with("HTTP/1.1 200 ")) << received;
  EXPECT_NE(received.find("Content-Length: 100\r\n"), std::string::npos) << received;
  EXPECT_TRUE(received.ends_with("\r\n\r\n")) << "no body byte after the header: " << received;
  const auto records = server.wait_for_records(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].bytes_out, 0u);
}

// ---------------------------------------------------------------------------- deadlines

TEST(HttpServer, SlowClientIsDisconnectedAfterTheReadTimeout) {
  ServerOptions options;
  options.read_timeout = 200ms;
  TestServer server(
      [](Exchange& exchange) -> asio::awaitable<void> {
        co_await exchange.respond(make_response(bhttp::status::ok));
      },
      options);
  RawConnection raw("127.0.0.1", server.port());
  raw.send("GET / HTTP/1.1\r\nHo");
  const std::string answer = raw.read_until_close(kPatience);
  EXPECT_TRUE(raw.closed());
  EXPECT_EQ(answer, "");
}

// Reads a body of up to 1000 bytes and says in `seen` how that went: "none" (no error),
// "timeout", or the error's message.
Handler body_error_reporter(std::shared_ptr<std::string> seen) {
  return [seen](Exchange& exchange) -> asio::awaitable<void> {
    auto body = co_await exchange.read_body_string(1000);
    *seen = body ? "none"
                 : (body.error() == beast::error::timeout ? "timeout" : body.error().message());
    co_await exchange.respond(make_response(bhttp::status::request_timeout));
  };
}

TEST(HttpServer, SlowBodyIsReportedAsTimeout) {
  ServerOptions options;
  options.read_timeout = 200ms;
  auto error_seen = std::make_shared<std::string>();
  TestServer server(body_error_reporter(error_seen), options);
  RawConnection raw("127.0.0.1", server.port());
  raw.send("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_TRUE(raw.wait_closed(kPatience));
  // The record is written after the handler returned.
  const auto records = server.wait_for_records(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].bytes_in, 3u);
  EXPECT_EQ(*error_seen, "timeout");
}

// Regression: every read of a body had read_timeout, and nothing bounded the whole body, so a
// client sending a byte just within read_timeout held its connection (and the handler) as long
// as it liked: 33 s for 8 bytes to /token with read_timeout 5s.
TEST(HttpServer, TricklingBodyIsCutOffAtItsTotalDeadline) {
  ServerOptions options;
  options.read_timeout = 400ms;
  options.body_min_rate = 1000;  // each byte buys a millisecond
  auto error_seen = std::make_shared<std::string>();
  TestServer server(body_error_reporter(error_seen), options);
  RawConnection raw("127.0.0.1", server.port());
  raw.send("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
  // A byte every 100 ms: each well within read_timeout, the whole would take 10 s.
  int sent = 0;
  try {
    for (; sent < 100; ++sent) {
      raw.send("x");
      std::this_thread::sleep_for(100ms);
      if (server.server().connection_count() == 0) {
        break;
      }
    }
  } catch (const HttpClientError&) {
    // The server closed: what the test expects.
  }
  EXPECT_TRUE(raw.wait_closed(kPatience));
  const auto records = server.wait_for_records(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_LT(records[0].bytes_in, 100u) << "the trickle was let finish";
  EXPECT_LT(sent, 100);
  EXPECT_EQ(*error_seen, "timeout");
}

// The other side of the body deadline: it grows with what arrives, so an upload that keeps
// moving outlasts read_timeout many times over (a 10 GB PATCH is never cut off for its size).
TEST(HttpServer, BodyAboveTheMinimumRateOutlastsItsInitialDeadline) {
  ServerOptions options;
  options.read_timeout = 300ms;
  options.body_min_rate = 64 * 1024;  // each 64 KiB piece buys a second
  TestServer server(echo, options);
  constexpr std::size_t kPiece = 64 * 1024;
  constexpr int kPieces = 12;  // 1.2 s at a piece every 100 ms: four times read_timeout
  int produced = 0;
  const berth::testing::BodySource source = [&]() -> std::string {
    if (produced == kPieces) {
      return "";
    }
    if (produced > 0) {
      std::this_thread::sleep_for(100ms);
    }
    return std::string(kPiece, static_cast<char>('a' + produced++));
  };
  auto client = server.client();
  const auto response =
      client.request_stream("PUT", "/", {}, source, std::uint64_t{kPiece * kPieces});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body.size(), kPiece * kPieces);
}

TEST(HttpServer, IdleConnectionIsClosedAfterTheIdleTimeout) {
  ServerOptions options;
  options.idle_timeout = 200ms;
  TestServer server(
      [](Exchange& exchange) -> asio::awaitable<void> {
        co_await exchange.respond(make_response(bhttp::status::ok, "x"));
      },
      options);
  RawConnection raw("127.0.0.1", server.port());
  raw.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(raw.read_response(kPatience).status, 200);
  EXPECT_TRUE(raw.wait_closed(kPatience));
}

TEST(HttpServer, ClientReconnectsAfterTheServerClosedAnIdleConnection) {
  ServerOptions options;
  options.idle_timeout = 100ms;
  TestServer server(
      [](Exchange& exchange) -> asio::awaitable<void> {
        co_await exchange.respond(make_response(bhttp::status::ok, "x"));
      },
      options);
  auto client = server.client();
  EXPECT_EQ(client.get("/").status, 200);
  // Wait (without asserting any timing) until the server has dropped the connection.
  for (int i = 0; i < 2000 && server.server().connection_count() != 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(server.server().connection_count(), 0u);
  EXPECT_EQ(client.get("/").status, 200);
  EXPECT_EQ(client.connects(), 2u);
}

// ---------------------------------------------------------------------------- shutdown

TEST(HttpServer, StopLetsAnInFlightRequestFinishWithConnectionClose) {
  std::promise<void> entered;
  TestServer server([&](Exchange& exchange) -> asio::awaitable<void> {
    entered.set_value();
    auto body = co_await exchange.read_body_string(100);
    const std::string text = body ? *body : "error";
    co_await exchange.respond(make_response(bhttp::status::ok, text));
  });
  RawConnection idle("127.0.0.1", server.port());
  RawConnection raw("127.0.0.1", server.port());
  raw.send("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
  ASSERT_EQ(entered.get_future().wait_for(kPatience), std::future_status::ready);
  server.stop();
  // The idle connection goes at once; the busy one is still waiting for its body.
  EXPECT_TRUE(idle.wait_closed(kPatience));
  raw.send("56789");
  const auto response = raw.read_response(kPatience);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "0123456789");
  EXPECT_EQ(response.header("Connection"), "close");
  EXPECT_TRUE(raw.wait_closed(kPatience));
  server.join();
  EXPECT_TRUE(server.run_returned());
  EXPECT_EQ(server.server().connection_count(), 0u);
}

TEST(HttpServer, StopClosesIdleKeepAliveConnections) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(make_response(bhttp::status::ok, "x"));
  });
  std::vector<std::unique_ptr<RawConnection>> connections;
  for (int i = 0; i < 4; ++i) {
    auto raw = std::make_unique<RawConnection>("127.0.0.1", server.port());
    raw->send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto response = raw->read_response(kPatience);
    EXPECT_FALSE(response.closes_connection);
    connections.push_back(std::move(raw));
  }
  EXPECT_EQ(server.server().connection_count(), 4u);
  server.stop();
  for (auto& raw : connections) {
    EXPECT_TRUE(raw->wait_closed(kPatience));
  }
  server.join();
  EXPECT_TRUE(server.run_returned());
}

TEST(HttpServer, StopCancelsRequestsStillRunningAtTheDrainDeadline) {
  ServerOptions options;
  options.drain_timeout = 200ms;
  std::promise<void> entered;
  auto error_seen = std::make_shared<std::string>();
  TestServer server(
      [&, error_seen](Exchange& exchange) -> asio::awaitable<void> {
        entered.set_value();
        auto body = co_await exchange.read_body_string(100);
        *error_seen = body ? "none" : "error";
        co_await exchange.respond(make_response(bhttp::status::ok));
      },
      options);
  RawConnection raw("127.0.0.1", server.port());
  raw.send("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
  ASSERT_EQ(entered.get_future().wait_for(kPatience), std::future_status::ready);
  server.stop();
  EXPECT_TRUE(raw.wait_closed(kPatience));
  server.join();
  EXPECT_TRUE(server.run_returned());
  EXPECT_EQ(*error_seen, "error");
}

TEST(HttpServer, StopBeforeRunMakesRunReturn) {
  BlockingPool pool(1);
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.io_threads = 2;
  Server server(
      options,
      [](Exchange& exchange) -> asio::awaitable<void> {
        co_await exchange.respond(make_response(bhttp::status::ok));
      },
      pool, nullptr);
  ASSERT_TRUE(server.listen().has_value());
  server.stop();
  server.stop();
  server.run();
  EXPECT_EQ(server.connection_count(), 0u);
}

TEST(HttpServer, DestroyedWithoutRunningIsClean) {
  BlockingPool pool(1);
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.io_threads = 2;
  auto server = std::make_unique<Server>(
      options,
      [](Exchange& exchange) -> asio::awaitable<void> {
        co_await exchange.respond(make_response(bhttp::status::ok));
      },
      pool, nullptr);
  const auto endpoint = server->listen();
  ASSERT_TRUE(endpoint.has_value());
  EXPECT_NE(endpoint->port(), 0);
  // Pending accepts and the io_contexts go with it; ASan checks nothing dangles.
  server.reset();
  EXPECT_EQ(server, nullptr);
}

// ---------------------------------------------------------------------------- access log

TEST(HttpServer, AccessLogRecordsEveryRequest) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    exchange.set_user("alice");
    if (exchange.request().method() == bhttp::verb::put) {
      auto body = co_await exchange.read_body_string(1000);
      co_await exchange.respond(make_response(bhttp::status::created));
      co_return;
    }
    co_await exchange.respond(make_response(bhttp::status::ok, "hello"));
  });
  auto client = server.client();
  const auto get = client.get("/a?x=1");
  const auto put = client.put("/b", std::string(100, 'p'));
  const auto head = client.head("/c");
  const auto records = server.wait_for_records(3);
  ASSERT_EQ(records.size(), 3u);

  EXPECT_EQ(records[0].method, "GET");
  EXPECT_EQ(records[0].target, "/a?x=1");
  EXPECT_EQ(records[0].status, 200u);
  EXPECT_EQ(records[0].bytes_in, 0u);
  EXPECT_EQ(records[0].bytes_out, 5u);
  EXPECT_EQ(records[0].request_id, get.header("X-Request-Id"));
  EXPECT_EQ(records[0].user, "alice");
  EXPECT_TRUE(records[0].remote.starts_with("127.0.0.1:")) << records[0].remote;

  EXPECT_EQ(records[1].method, "PUT");
  EXPECT_EQ(records[1].status, 201u);
  EXPECT_EQ(records[1].bytes_in, 100u);
  EXPECT_EQ(records[1].bytes_out, 0u);
  EXPECT_EQ(records[1].request_id, put.header("X-Request-Id"));

  EXPECT_EQ(records[2].method, "HEAD");
  EXPECT_EQ(records[2].status, 200u);
  EXPECT_EQ(records[2].bytes_out, 0u);
  EXPECT_EQ(records[2].request_id, head.header("X-Request-Id"));
  EXPECT_NE(records[0].request_id, records[1].request_id);
}

// ---------------------------------------------------------------------------- handler failures

TEST(HttpServer, HandlerThatThrowsYields500AndClose) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    if (exchange.request().target() == "/throw") {
      throw std::runtime_error("bug");
    }
    co_await exchange.respond(make_response(bhttp::status::ok, "fine"));
  });
  auto client = server.client();
  const auto response = client.get("/throw");
  EXPECT_EQ(response.status, 500);
  EXPECT_TRUE(response.closes_connection);
  EXPECT_EQ(client.get("/").body, "fine");
  EXPECT_EQ(client.connects(), 2u);
  const auto records = server.wait_for_records(2);
  ASSERT_GE(records.size(), 1u);
  EXPECT_EQ(records[0].status, 500u);
}

TEST(HttpServer, HandlerThatDoesNotRespondYields500) {
  TestServer server([](Exchange&) -> asio::awaitable<void> { co_return; });
  auto client = server.client();
  EXPECT_EQ(client.get("/").status, 500);
}

TEST(HttpServer, HandlerThatThrowsAfterRespondingClosesTheConnection) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(make_response(bhttp::status::ok, "first"));
    // Responding twice is a bug; it surfaces as an exception.
    co_await exchange.respond(make_response(bhttp::status::ok, "second"));
  });
  RawConnection raw("127.0.0.1", server.port());
  raw.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto response = raw.read_response(kPatience);
  EXPECT_EQ(response.body, "first");
  EXPECT_TRUE(raw.wait_closed(kPatience));
}

// ---------------------------------------------------------------------------- concurrency

TEST(HttpServer, ManyConcurrentClientsAllSucceed) {
  TestServer server([](Exchange& exchange) -> asio::awaitable<void> {
    auto body = co_await exchange.read_body_string(1 << 20);
    co_await exchange.respond(make_response(
        bhttp::status::ok, std::string(exchange.request().target()) + ":" + body.value_or("?")));
  });
  constexpr int kClients = 50;
  constexpr int kRequests = 20;
  std::atomic<int> successes{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      try {
        HttpClient client("127.0.0.1", server.port());
        for (int r = 0; r < kRequests; ++r) {
          const std::string target = "/c" + std::to_string(c) + "/r" + std::to_string(r);
          const std::string body = r % 2 == 0 ? "" : std::string(r * 100, 'a' + c % 26);
          const auto response = r % 2 == 0 ? client.get(target) : client.put(target, body);
          if (response.status == 200 && response.body == target + ":" + body) {
            ++successes;
          }
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << "client " << c << ": " << e.what();
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(successes.load(), kClients * kRequests);
  EXPECT_EQ(server.wait_for_records(kClients * kRequests).size(),
            static_cast<std::size_t>(kClients * kRequests));
}

// ---------------------------------------------------------------------------- connection limit

// Collects ServerOptions::warn's messages (called from the server's threads).
// Waits (without asserting any timing) until the server counts `count` open connections.
bool wait_for_connections(Server& server, std::size_t count) {
  for (int i = 0; i < 2000 && server.connection_count() != count; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  return server.connection_count() == count;
}

TEST(HttpServer, ConnectionsBeyondTheLimitGet503AndAreCounted) {
  Warnings warnings;
  ServerOptions options;
  options.max_connections = 2;
  options.warn = warnings.hook();
  TestServer server(
      [](Exchange& exchange) -> asio::awaitable<void> {
        co_await exchange.respond(make_response(bhttp::status::ok, "served"));
      },
      options);
  // Two kept-alive connections take the two places.
  RawConnection first("127.0.0.1", server.port());
  RawConnection second("127.0.0.1", server.port());
  for (RawConnection* raw : {&first, &second}) {
    raw->send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(raw->read_response(kPatience).status, 200);
  }
  ASSERT_EQ(server.server().connection_count(), 2u);

  for (int i = 0; i < 2; ++i) {
    RawConnection refused("127.0.0.1", server.port());
    refused.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string answer = refused.read_until_close(kPatience);
    EXPECT_TRUE(refused.closed());
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 503 ")) << answer;
    EXPECT_NE(answer.find("Retry-After: "), std::string::npos) << answer;
    EXPECT_NE(answer.find("too many connections"), std::string::npos) << answer;
  }
  EXPECT_EQ(server.server().refused_connections(), 2u);
  EXPECT_EQ(server.server().connection_count(), 2u);
  const auto warned = warnings.all();
  ASSERT_EQ(warned.size(), 1u) << "the warning is rate-limited";
  EXPECT_NE(warned[0].find("http.max_connections"), std::string::npos) << warned[0];

  // A place freed is a place taken.
  first.close();
  ASSERT_TRUE(wait_for_connections(server.server(), 1));
  RawConnection third("127.0.0.1", server.port());
  third.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(third.read_response(kPatience).status, 200);
  EXPECT_EQ(server.server().refused_connections(), 2u);
}

// ---------------------------------------------------------------------------- listen

TEST(HttpServer, ListenRejectsABadAddressAndABusyPort) {
  BlockingPool pool(1);
  const Handler handler = [](Exchange& exchange) -> asio::awaitable<void> {
    co_await exchange.respond(make_response(bhttp::status::ok));
  };
  ServerOptions bad;
  bad.listen = "not an address";
  bad.io_threads = 1;
  Server bad_server(bad, handler, pool, nullptr);
  EXPECT_FALSE(bad_server.listen().has_value());

  TestServer first(handler);
  ServerOptions busy;
  busy.listen = "127.0.0.1:" + std::to_string(first.port());
  busy.io_threads = 1;
  Server second(busy, handler, pool, nullptr);
  EXPECT_FALSE(second.listen().has_value());
}

TEST(HttpServer, ListensOnIpv6Loopback) {
  BlockingPool pool(1);
  ServerOptions options;
  options.listen = "[::1]:0";
  options.io_threads = 1;
  Server server(
      options,
      [](Exchange& exchange) -> asio::awaitable<void> {
        co_await exchange.respond(make_response(bhttp::status::ok, std::string(exchange.remote())));
      },
      pool, nullptr);
  const auto endpoint = server.listen();
  if (!endpoint) {
    // A machine without IPv6 cannot bind [::1]; then listen() must say exactly that.
    EXPECT_EQ(endpoint.error(), boost::system::errc::address_not_available)
        << endpoint.error().message();
    return;
  }
  std::thread thread([&] { server.run(); });
  {
    HttpClient client("::1", endpoint->port());
    const auto response = client.get("/");
    EXPECT_EQ(response.status, 200);
    EXPECT_TRUE(response.body.starts_with("[::1]:")) << response.body;
  }
  server.stop();
  thread.join();
}

}  // namespace
}  // namespace berth::http
