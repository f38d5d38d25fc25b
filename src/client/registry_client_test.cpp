// The client against a scripted upstream (an http::Server on loopback): the token dance and
// its cache, basic auth, redirects that drop credentials, retries, and streamed bodies.
#include "client/registry_client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>

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
  explicit Upstream(Script script, std::string host = "127.0.0.1")
      : script_(std::move(script)), pool_(2), host_(std::move(host)) {
    http::ServerOptions options;
    options.listen = host_ + ":0";
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
  std::string url() const { return "http://" + host_ + ":" + std::to_string(port_); }
  unsigned short port() const { return port_; }
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
  std::string host_;
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

// An IPv4 address of this machine that is not loopback, or nullopt.
std::optional<std::string> outside_address() {
  ifaddrs* all = nullptr;
  if (getifaddrs(&all) != 0) {
    return std::nullopt;
  }
  std::optional<std::string> found;
  for (ifaddrs* entry = all; entry != nullptr && !found; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET) {
      continue;
    }
    char text[INET_ADDRSTRLEN] = {};
    const auto* address = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
    inet_ntop(AF_INET, &address->sin_addr, text, sizeof text);
    if (!std::string_view(text).starts_with("127.")) {
      found = text;
    }
  }
  freeifaddrs(all);
  return found;
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

// A Bearer challenge whose realm is `realm`.
http::Response bearer_challenge(const std::string& realm) {
  auto challenge = reply(401);
  challenge.set(bhttp::field::www_authenticate,
                "Bearer realm=\"" + realm + "\",service=\"up\",scope=\"repository:a:pull\"");
  return challenge;
}

// An upstream whose token service is on another host name: "localhost", where the upstream is
// "127.0.0.1".
struct RealmElsewhere {
  Upstream tokens{[](const http::RequestHeader&) { return reply(200, R"({"token":"T1"})"); }};
  std::string realm = "http://localhost:" + std::to_string(tokens.port()) + "/token";
  Upstream upstream{[this](const http::RequestHeader& request) {
    if (request[bhttp::field::authorization] != "Bearer T1") {
      return bearer_challenge(realm);
    }
    return reply(200, "manifest");
  }};
};

TEST(RegistryClient, CredentialsGoOnlyToTheUpstreamsHostOrAListedRealm) {
  RealmElsewhere elsewhere;
  Upstream& tokens = elsewhere.tokens;
  Upstream& upstream = elsewhere.upstream;
  testing::FakeClock clock;
  auto unlisted = RegistryClient::make(options_for(upstream.url(), "u", "p"), clock);
  ASSERT_TRUE(unlisted);
  auto refused = fetch(**unlisted, "/v2/a/manifests/1", "repository:a:pull");
  ASSERT_FALSE(refused.status);
  EXPECT_EQ(refused.status.error().code, core::ErrorCode::kUnauthorized);
  EXPECT_NE(refused.status.error().message.find("token_realms"), std::string::npos)
      << refused.status.error().message;
  EXPECT_TRUE(tokens.seen().empty()) << "the realm got a request";

  // Listed: the credentials go there.
  auto options = options_for(upstream.url(), "u", "p");
  options.token_realms = {"http://localhost:" + std::to_string(tokens.port())};
  auto listed = RegistryClient::make(options, clock);
  ASSERT_TRUE(listed);
  auto granted = fetch(**listed, "/v2/a/manifests/1", "repository:a:pull");
  ASSERT_TRUE(granted.status) << granted.status.error().message;
  EXPECT_EQ(granted.body, "manifest");
  ASSERT_EQ(tokens.seen().size(), 1u);
  EXPECT_EQ(tokens.seen()[0].authorization, basic_authorization("u", "p"));
}

TEST(RegistryClient, AnonymousTokensMayComeFromAnyRealm) {
  RealmElsewhere elsewhere;
  testing::FakeClock clock;
  auto client = RegistryClient::make(options_for(elsewhere.upstream.url()), clock);
  EXPECT_EQ(fetch(**client, "/v2/a/manifests/1", "repository:a:pull").body, "manifest");
  ASSERT_EQ(elsewhere.tokens.seen().size(), 1u);
  EXPECT_EQ(elsewhere.tokens.seen()[0].authorization, "");
}

TEST(RegistryClient, RedirectsAndRealmsToLinkLocalAddressesAreRefused) {
  const std::string metadata = "http://169.254.169.254/latest/meta-data/";
  Upstream redirecting([&](const http::RequestHeader&) {
    auto redirect = reply(307);
    redirect.set(bhttp::field::location, metadata);
    return redirect;
  });
  Upstream challenging([&](const http::RequestHeader&) { return bearer_challenge(metadata); });
  testing::FakeClock clock;
  for (Upstream* upstream : {&redirecting, &challenging}) {
    auto options = options_for(upstream->url());
    options.attempts = 1;
    // Were the address tried, the test would fail on this rather than hang.
    options.connect_timeout = 2s;
    auto client = RegistryClient::make(options, clock);
    auto outcome = fetch(**client, "/v2/a/blobs/sha256:x");
    ASSERT_FALSE(outcome.status);
    EXPECT_NE(outcome.status.error().message.find("169.254.169.254 is a link-local address"),
              std::string::npos)
        << outcome.status.error().message;
  }
}

TEST(RegistryClient, RedirectsToLoopbackAreRefusedUnlessTheUpstreamIsThere) {
  const auto outside = outside_address();
  if (!outside) {
    GTEST_SKIP() << "this machine has no IPv4 address but loopback";
  }
  Upstream local([](const http::RequestHeader&) { return reply(200, "local secrets"); });
  // By name: what counts is where "localhost" resolves to.
  const std::string location = "http://localhost:" + std::to_string(local.port()) + "/admin";
  auto redirect_to_local = [&](const http::RequestHeader&) {
    auto redirect = reply(307);
    redirect.set(bhttp::field::location, location);
    return redirect;
  };
  Upstream remote(redirect_to_local, *outside);
  testing::FakeClock clock;
  auto options = options_for(remote.url());
  options.attempts = 1;
  auto client = RegistryClient::make(options, clock);
  auto refused = fetch(**client, "/v2/a/blobs/sha256:x");
  ASSERT_FALSE(refused.status);
  EXPECT_NE(refused.status.error().message.find("is a loopback address"), std::string::npos)
      << refused.status.error().message;
  EXPECT_TRUE(local.seen().empty());

  // An upstream on loopback itself may send us there.
  Upstream loopback(redirect_to_local);
  auto allowed = RegistryClient::make(options_for(loopback.url()), clock);
  EXPECT_EQ(fetch(**allowed, "/v2/a/blobs/sha256:x").body, "local secrets");
}

TEST(RegistryClient, CredentialsInTheUrlAreRefusedWithoutShowingThem) {
  testing::FakeClock clock;
  auto client =
      RegistryClient::make(options_for("http://user:hunter2@registry.example.com"), clock);
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, core::ErrorCode::kInvalidRequest);
  EXPECT_NE(client.error().message.find("http://***@registry.example.com"), std::string::npos)
      << client.error().message;
  EXPECT_EQ(client.error().message.find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace berth::client
