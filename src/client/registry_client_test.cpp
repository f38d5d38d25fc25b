// The client against a scripted upstream (an http::Server on loopback): the token dance and
// its cache, basic auth, redirects that drop credentials, retries, and streamed bodies.
#include "client/registry_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/server.hpp"
#include "testing/fake_clock.hpp"

namespace berth::client {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

struct Seen {
  std::string target;
  std::string authorization;
};

// An upstream whose behaviour each test scripts with a function of the request.
class Upstream {
 public:
  using Script = std::function<http::Response(const http::RequestHeader&)>;
  explicit Upstream(Script script) : script_(std::move(script)), pool_(2) {
    http::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.io_threads = 1;
    server_ = std::make_unique<http::Server>(
        options, [this](http::Exchange& ex) { return handle(ex); }, pool_, nullptr);
    port_ = server_->listen()->port();
    thread_ = std::thread([this] { server_->run(); });
  }
  ~Upstream() {
    server_->stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Seen> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  asio::awaitable<void> handle(http::Exchange& ex) {
    {
      std::lock_guard lock(mutex_);
      seen_.push_back(Seen{std::string(ex.request().target()),
                           std::string(ex.request()[bhttp::field::authorization])});
    }
    http::Response response = script_(ex.request());
    co_await ex.respond(std::move(response));
  }

  Script script_;
  http::BlockingPool pool_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  unsigned short port_ = 0;
  std::mutex mutex_;
  std::vector<Seen> seen_;
};

ClientOptions options_for(std::string url, std::string user = "", std::string password = "") {
  ClientOptions options;
  options.url = std::move(url);
  options.username = std::move(user);
  options.password = std::move(password);
  options.backoff = 1ms;
  return options;
}

http::Response reply(unsigned status, std::string body = {}) {
  http::Response response{static_cast<bhttp::status>(status), 11};
  response.body() = std::move(body);
  return response;
}

// Runs one request on a fresh io_context and returns the status and body.
struct Outcome {
  core::Result<unsigned> status;
  std::string body;
};
Outcome fetch(RegistryClient& client, std::string target, std::string scope = "s") {
  asio::io_context io;
  Request request;
  request.target = std::move(target);
  request.scope = std::move(scope);
  auto run = [&client, request]() -> asio::awaitable<Outcome> {
    auto response = co_await client.send(request);
    if (!response) {
      co_return Outcome{std::unexpected(response.error()), {}};
    }
    auto body = co_await (*response)->read_all(1 << 20);
    co_return Outcome{(*response)->status(), body.value_or("<error>")};
  };
  auto future = asio::co_spawn(io, run(), asio::use_future);
  io.run();
  return future.get();
}

TEST(RegistryClient, TokenDanceGetsATokenWithCredentialsAndCachesIt) {
  std::string realm;
  Upstream upstream([&](const http::RequestHeader& request) {
    const std::string target(request.target());
    if (target.starts_with("/token")) {
      EXPECT_EQ(request[bhttp::field::authorization], basic_authorization("u", "p"));
      return reply(200, R"({"token":"T1","expires_in":300})");
    }
    if (request[bhttp::field::authorization] != "Bearer T1") {
      auto challenge = reply(401);
      challenge.set(bhttp::field::www_authenticate,
                    "Bearer realm=\"" + realm + "\",service=\"up\",scope=\"repository:a:pull\"");
      return challenge;
    }
    return reply(200, "manifest");
  });
  realm = upstream.url() + "/token";
  testing::FakeClock clock;
  auto client = RegistryClient::make(options_for(upstream.url(), "u", "p"), clock);
  ASSERT_TRUE(client);
  auto first = fetch(**client, "/v2/a/manifests/1", "repository:a:pull");
  ASSERT_TRUE(first.status) << first.status.error().message;
  EXPECT_EQ(*first.status, 200u);
  EXPECT_EQ(first.body, "manifest");
  auto seen = upstream.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].target, "/token?service=up&scope=repository:a:pull");
  // Cached: the second request goes out with the token at once.
  auto second = fetch(**client, "/v2/a/manifests/2", "repository:a:pull");
  EXPECT_EQ(second.status.value_or(0), 200u);
  EXPECT_EQ(upstream.seen().size(), 4u);
  // Expired: the next one asks again.
  clock.advance(301s);
  auto third = fetch(**client, "/v2/a/manifests/3", "repository:a:pull");
  EXPECT_EQ(third.status.value_or(0), 200u);
  EXPECT_EQ(upstream.seen().size(), 7u);
}

TEST(RegistryClient, RefusedCredentialsAreUnauthorized) {
  std::string realm;
  Upstream upstream([&](const http::RequestHeader& request) {
    if (std::string(request.target()).starts_with("/token")) {
      return reply(401);
    }
    auto challenge = reply(401);
    challenge.set(bhttp::field::www_authenticate, "Bearer realm=\"" + realm + "\"");
    return challenge;
  });
  realm = upstream.url() + "/token";
  testing::FakeClock clock;
  auto client = RegistryClient::make(options_for(upstream.url(), "u", "wrong"), clock);
  auto outcome = fetch(**client, "/v2/a/manifests/1");
  ASSERT_FALSE(outcome.status);
  EXPECT_EQ(outcome.status.error().code, core::ErrorCode::kUnauthorized);
}

TEST(RegistryClient, BasicChallengeIsAnsweredWithCredentials) {
  Upstream upstream([&](const http::RequestHeader& request) {
    if (request[bhttp::field::authorization] != basic_authorization("u", "p")) {
      auto challenge = reply(401);
      challenge.set(bhttp::field::www_authenticate, "Basic realm=\"registry\"");
      return challenge;
    }
    return reply(200, "ok");
  });
  testing::FakeClock clock;
  auto client = RegistryClient::make(options_for(upstream.url(), "u", "p"), clock);
  EXPECT_EQ(fetch(**client, "/v2/").body, "ok");
  EXPECT_EQ(fetch(**client, "/v2/").body, "ok");
  // The second request sent the credentials at once.
  EXPECT_EQ(upstream.seen().size(), 3u);
}

TEST(RegistryClient, RetriesServerErrorsWithBackoffThenGivesTheLastAnswer) {
  std::atomic<int> calls{0};
  Upstream upstream(
      [&](const http::RequestHeader&) { return ++calls < 3 ? reply(503) : reply(200, "finally"); });
  testing::FakeClock clock;
  auto client = RegistryClient::make(options_for(upstream.url()), clock);
  EXPECT_EQ(fetch(**client, "/v2/").body, "finally");
  EXPECT_EQ(calls.load(), 3);

  calls = -10;
  auto failing = fetch(**client, "/v2/");
  EXPECT_EQ(failing.status.value_or(0), 503u);
}

TEST(RegistryClient, ConnectionRefusedIsUnavailableNamingTheUpstream) {
  testing::FakeClock clock;
  std::string url;
  {
    Upstream gone([](const http::RequestHeader&) { return reply(200); });
    url = gone.url();
  }
  auto client = RegistryClient::make(options_for(url), clock);
  auto outcome = fetch(**client, "/v2/");
  ASSERT_FALSE(outcome.status);
  EXPECT_EQ(outcome.status.error().code, core::ErrorCode::kUnavailable);
  EXPECT_NE(outcome.status.error().message.find("connect"), std::string::npos);
}

TEST(RegistryClient, RedirectToAnotherHostDropsTheAuthorization) {
  Upstream cdn([](const http::RequestHeader&) { return reply(200, "blob bytes"); });
  Upstream upstream([&](const http::RequestHeader& request) {
    if (request[bhttp::field::authorization].empty()) {
      auto challenge = reply(401);
      challenge.set(bhttp::field::www_authenticate, "Basic realm=\"r\"");
      return challenge;
    }
    auto redirect = reply(307);
    redirect.set(bhttp::field::location, cdn.url() + "/blob?sig=1");
    return redirect;
  });
  testing::FakeClock clock;
  auto client = RegistryClient::make(options_for(upstream.url(), "u", "p"), clock);
  EXPECT_EQ(fetch(**client, "/v2/a/blobs/sha256:x").body, "blob bytes");
  auto seen = cdn.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].target, "/blob?sig=1");
  EXPECT_EQ(seen[0].authorization, "");
}

TEST(RegistryClient, MissingCaFileIsAnError) {
  testing::FakeClock clock;
  auto options = options_for("https://example.invalid");
  options.ca_file = "/nonexistent/ca.pem";
  auto client = RegistryClient::make(options, clock);
  ASSERT_FALSE(client);
  EXPECT_NE(client.error().message.find("/nonexistent/ca.pem"), std::string::npos);
}

}  // namespace
}  // namespace berth::client
