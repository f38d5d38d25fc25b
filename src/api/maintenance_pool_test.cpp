// The admin API's garbage collections and retention runs go to the maintenance pool, apart
// from the pool requests use: a collection that takes long (here: one held on a gate) delays no
// request, even with a single request thread. Before, they ran on the request pool, where a
// long collection took a thread every request needed.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "api/api.hpp"
#include "auth/access_control.hpp"
#include "auth/authenticator.hpp"
#include "auth/rate_limiter.hpp"
#include "auth/token_service.hpp"
#include "http/blocking_pool.hpp"
#include "http/server.hpp"
#include "lifecycle/garbage_collector.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "registry/registry.hpp"
#include "testing/fake_clock.hpp"
#include "testing/http_client.hpp"
#include "testing/memory_blob_store.hpp"

namespace berth::api {
namespace {

using namespace std::chrono_literals;

// Long enough never to matter on a loaded machine; reaching it means the test failed.
constexpr auto kPatience = 20s;

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
  bool wait() { return future_.wait_for(kPatience) == std::future_status::ready; }

 private:
  std::promise<void> promise_;
  std::shared_future<void> future_ = promise_.get_future().share();
  std::atomic<bool> opened_{false};
};

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "berth-api-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(ApiMaintenancePool, AGarbageCollectionHeldUpDelaysNoRequest) {
  testing::FakeClock clock;
  TempDir dir;
  auto blobs = testing::make_memory_blob_store(clock);
  auto stores = meta::open_sqlite_stores(meta::SqliteOptions{":memory:"}).value();
  registry::Registry registry(*blobs, *stores.metadata, clock);
  auth::AccessControl access(*stores.accounts, clock, auth::AccessControlOptions{});
  auth::LoginRateLimiter limiter(auth::RateLimitOptions{}, clock);
  auth::Authenticator authenticator(*stores.accounts, nullptr, limiter, clock);
  auto tokens = auth::TokenService::open(dir.path() / "key.pem", {}, clock).value();
  // One thread each: a request pool with a collection on it would serve nothing else.
  http::BlockingPool requests(1, "requests");
  http::BlockingPool maintenance(1, "maintenance");

  Gate collecting;
  Gate finish;
  Api api(ApiServices{
      .registry = registry,
      .pool = requests,
      .maintenance = &maintenance,
      .options = {},
      .ready = [] { return true; },
      .accounts = *stores.accounts,
      .access = access,
      .authenticator = authenticator,
      .tokens = *tokens,
      .auth = {},
      .clock = clock,
      .collect_garbage = [&](bool, const std::string&) -> core::Result<lifecycle::GcReport> {
        collecting.open();
        finish.wait();
        return lifecycle::GcReport{};
      }});
  http::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.io_threads = 1;
  http::Server server(options, [&api](http::Exchange& exchange) { return api.handle(exchange); },
                      requests, {});
  const auto endpoint = server.listen();
  ASSERT_TRUE(endpoint) << endpoint.error().message();
  const auto port = endpoint->port();
  std::thread runner([&] { server.run(); });

  auto gc = std::async(std::launch::async, [port] {
    testing::HttpClient client("127.0.0.1", port);
    client.set_timeout(2 * kPatience);
    return client.post("/api/v1/gc", "").status;
  });
  ASSERT_TRUE(collecting.wait()) << "the collection never started";

  try {
    testing::HttpClient client("127.0.0.1", port);
    client.set_timeout(kPatience);
    const auto tags = client.get("/v2/app/web/tags/list");
    EXPECT_EQ(tags.status, 404) << tags.body;  // NAME_UNKNOWN, read on the request pool
    EXPECT_EQ(gc.wait_for(0s), std::future_status::timeout) << "the collection had ended";
  } catch (const testing::HttpClientError& e) {
    ADD_FAILURE() << "a request waited behind the collection: " << e.what();
  }

  finish.open();
  EXPECT_EQ(gc.get(), 200u);
  server.stop();
  runner.join();
}

}  // namespace
}  // namespace berth::api
