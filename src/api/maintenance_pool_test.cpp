// The admin API's garbage collections and retention runs go to the maintenance pool, apart
// from the pool requests use: a collection that takes long (here: one held on a gate) delays no
// request, even with a single request thread. Before, they ran on the request pool, where a
// long collection took a thread every request needed.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "api/api.hpp"
#include "auth/access_control.hpp"
#include "auth/authenticator.hpp"
#include "auth/rate_limiter.hpp"
#include "auth/token_service.hpp"
#include "core/digest.hpp"
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

// An Api over SQLite in memory and a memory blob store, served on one I/O thread, with the
// pools and collection the test gives.
class ServedApi {
 public:
  ServedApi(http::BlockingPool& requests, http::BlockingPool* maintenance,
            http::BlockingPool* lookups,
            std::function<core::Result<lifecycle::GcReport>(bool, const std::string&)>
                collect_garbage = {})
      : blobs_(testing::make_memory_blob_store(clock_)),
        stores_(meta::open_sqlite_stores(meta::SqliteOptions{":memory:"}).value()),
        registry_(*blobs_, *stores_.metadata, clock_),
        access_(*stores_.accounts, clock_, auth::AccessControlOptions{}),
        limiter_(auth::RateLimitOptions{}, clock_),
        authenticator_(*stores_.accounts, nullptr, limiter_, clock_),
        tokens_(auth::TokenService::open(dir_.path() / "key.pem", {}, clock_).value()),
        api_(ApiServices{.registry = registry_,
                         .pool = requests,
                         .maintenance = maintenance,
                         .lookups = lookups,
                         .options = {},
                         .ready = [] { return true; },
                         .accounts = *stores_.accounts,
                         .access = access_,
                         .authenticator = authenticator_,
                         .tokens = *tokens_,
                         .auth = {},
                         .clock = clock_,
                         .collect_garbage = std::move(collect_garbage)}),
        server_(server_options(),
                [this](http::Exchange& exchange) { return api_.handle(exchange); }, requests, {}) {
    const auto endpoint = server_.listen();
    if (!endpoint) {
      throw std::runtime_error(endpoint.error().message());
    }
    port_ = endpoint->port();
    runner_ = std::thread([this] { server_.run(); });
  }
  ~ServedApi() {
    server_.stop();
    runner_.join();
  }

  std::unique_ptr<testing::HttpClient> client(std::chrono::seconds timeout) const {
    auto client = std::make_unique<testing::HttpClient>("127.0.0.1", port_);
    client->set_timeout(timeout);
    return client;
  }

 private:
  static http::ServerOptions server_options() {
    http::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.io_threads = 1;
    return options;
  }

  testing::FakeClock clock_;
  TempDir dir_;
  std::unique_ptr<storage::BlobStore> blobs_;
  meta::Stores stores_;
  registry::Registry registry_;
  auth::AccessControl access_;
  auth::LoginRateLimiter limiter_;
  auth::Authenticator authenticator_;
  std::unique_ptr<auth::TokenService> tokens_;
  Api api_;
  http::Server server_;
  std::uint16_t port_ = 0;
  std::thread runner_;
};

TEST(ApiMaintenancePool, AGarbageCollectionHeldUpDelaysNoRequest) {
  // One thread each: a request pool with a collection on it would serve nothing else.
  http::BlockingPool requests(1, "requests");
  http::BlockingPool maintenance(1, "maintenance");
  Gate collecting;
  Gate finish;
  ServedApi served(requests, &maintenance, nullptr,
                   [&](bool, const std::string&) -> core::Result<lifecycle::GcReport> {
                     collecting.open();
                     finish.wait();
                     return lifecycle::GcReport{};
                   });

  auto gc = std::async(std::launch::async, [&served] {
    return served.client(2 * kPatience)->post("/api/v1/gc", "").status;
  });
  ASSERT_TRUE(collecting.wait()) << "the collection never started";

  try {
    const auto tags = served.client(kPatience)->get("/v2/app/web/tags/list");
    EXPECT_EQ(tags.status, 404) << tags.body;  // NAME_UNKNOWN, read on the request pool
    EXPECT_EQ(gc.wait_for(0s), std::future_status::timeout) << "the collection had ended";
  } catch (const testing::HttpClientError& e) {
    ADD_FAILURE() << "a request waited behind the collection: " << e.what();
  }

  finish.open();
  EXPECT_EQ(gc.get(), 200u);
}

// Takes the one thread of `pool` until `release` opens; false if the pool never ran the job.
bool hold_the_thread(http::BlockingPool& pool, Gate& release) {
  auto holding = std::make_shared<Gate>();
  pool.post([holding, &release] {
    holding->open();
    release.wait();
  });
  return holding->wait();
}

// The quick reads of pulls run on the lookup pool: with every request thread held (here on a
// gate; in production by fsyncs of pushes), manifest HEADs, tag lists and the catalog are
// still answered.
TEST(ApiLookupPool, PullsAreAnsweredWhileEveryRequestThreadIsHeld) {
  // Before the pools: a pool joins, ending the holding job, before the gate goes.
  Gate release;
  http::BlockingPool requests(1, "requests");
  http::BlockingPool lookups(1, "lookups");
  ServedApi served(requests, nullptr, &lookups);
  ASSERT_TRUE(hold_the_thread(requests, release)) << "the request pool never ran the holding job";

  try {
    auto client = served.client(kPatience);
    EXPECT_EQ(client->get("/v2/app/web/tags/list").status, 404);  // NAME_UNKNOWN
    EXPECT_EQ(client->head("/v2/app/web/manifests/latest").status, 404);
    EXPECT_EQ(client->get("/v2/_catalog").status, 200);
  } catch (const testing::HttpClientError& e) {
    ADD_FAILURE() << "a pull's lookup waited for the request pool: " << e.what();
  }
  release.open();
}

// A manifest GET whose bytes are in memory (a push leaves them there) is answered from the
// lookup pool as well; only bytes that must be read from the blob store wait for the request
// pool.
TEST(ApiLookupPool, AGetOfACachedManifestIsAnsweredWhileEveryRequestThreadIsHeld) {
  Gate release;
  http::BlockingPool requests(1, "requests");
  http::BlockingPool lookups(1, "lookups");
  ServedApi served(requests, nullptr, &lookups);
  const std::string config = "{}";
  const std::string config_digest = core::Digest::of(config).str();
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      config_digest + R"(","size":2},"layers":[]})";
  auto pusher = served.client(kPatience);
  ASSERT_EQ(pusher->post("/v2/app/web/blobs/uploads/?digest=" + config_digest, config).status,
            201u);
  ASSERT_EQ(pusher
                ->put("/v2/app/web/manifests/latest", manifest,
                      {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}})
                .status,
            201u);
  ASSERT_TRUE(hold_the_thread(requests, release)) << "the request pool never ran the holding job";

  try {
    const auto got = served.client(kPatience)->get("/v2/app/web/manifests/latest");
    EXPECT_EQ(got.status, 200u);
    EXPECT_EQ(got.body, manifest);
  } catch (const testing::HttpClientError& e) {
    ADD_FAILURE() << "a GET of a cached manifest waited for the request pool: " << e.what();
  }
  release.open();
}

}  // namespace
}  // namespace berth::api
