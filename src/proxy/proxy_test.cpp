// ProxyProject against a scripted upstream (an http::Server on loopback) and a real Registry
// on the in-memory blob store and SQLite in memory, with a fake clock for tag TTLs and
// staleness.
#include "proxy/proxy.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

#include "meta/sqlite_metadata_store.hpp"
#include "testing/fake_clock.hpp"
#include "testing/memory_blob_store.hpp"

namespace berth::proxy {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

// An upstream registry holding one repository, "library/app", whose content each test sets.
class FakeUpstream {
 public:
  FakeUpstream() : pool_(2) {
    http::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.io_threads = 1;
    server_ = std::make_unique<http::Server>(
        options, [this](http::Exchange& ex) { return handle(ex); }, pool_, nullptr);
    port_ = server_->listen()->port();
    thread_ = std::thread([this] { server_->run(); });
  }
  ~FakeUpstream() {
    server_->stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void put(const std::string& path, std::string body, std::string type = "") {
    std::lock_guard lock(mutex_);
    content_[path] = {std::move(body), std::move(type)};
  }
  // Every request answers this status instead (0: normal service).
  void fail_with(unsigned status) { failing_ = status; }
  // The body of every GET is sent with this byte changed (a corrupt upstream).
  void corrupt(bool on) { corrupt_ = on; }
  int count(const std::string& method_and_path) {
    std::lock_guard lock(mutex_);
    return counts_[method_and_path];
  }
  // GETs of `path` send their first `bytes`, then wait for release() before the rest (or, with
  // `cut`, close the connection instead).
  void hold(const std::string& path, std::size_t bytes) {
    std::lock_guard lock(mutex_);
    held_path_ = path;
    held_bytes_ = bytes;
  }
  void release(bool cut = false) {
    cut_ = cut;
    gate_.set();
  }

 private:
  asio::awaitable<void> handle(http::Exchange& ex) {
    const std::string path(ex.request().target());
    const bool head = ex.request().method() == bhttp::verb::head;
    std::optional<std::pair<std::string, std::string>> found;
    {
      std::lock_guard lock(mutex_);
      ++counts_[std::string(head ? "HEAD " : "GET ") + path];
      if (auto it = content_.find(path); it != content_.end()) {
        found = it->second;
      }
    }
    http::Response response{bhttp::status::ok, 11};
    if (failing_ != 0) {
      response.result(failing_.load());
    } else if (!found) {
      response.result(bhttp::status::not_found);
    } else {
      std::string body = found->first;
      response.set("Docker-Content-Digest", core::Digest::of(body).str());
      if (!found->second.empty()) {
        response.set(bhttp::field::content_type, found->second);
      }
      if (corrupt_ && !body.empty()) {
        body[body.size() / 2] ^= 1;
      }
      if (head) {
        response.content_length(body.size());
      } else if (path == held_path()) {
        co_return co_await respond_held(ex, std::move(body));
      } else {
        response.body() = std::move(body);
      }
    }
    co_await ex.respond(std::move(response));
  }

  std::string held_path() {
    std::lock_guard lock(mutex_);
    return held_path_;
  }

  struct HeldBody {
    std::string bytes;
    std::size_t sent = 0;
    std::size_t hold_at = 0;
  };

  asio::awaitable<http::IoResult<std::size_t>> next_held(HeldBody& held, std::span<std::byte> out) {
    if (held.sent == held.hold_at) {
      co_await gate_.wait();
      if (cut_) {
        co_return 0;
      }
    }
    const std::size_t limit = held.sent < held.hold_at ? held.hold_at : held.bytes.size();
    const std::size_t n = std::min(out.size(), limit - held.sent);
    std::memcpy(out.data(), held.bytes.data() + held.sent, n);
    held.sent += n;
    co_return n;
  }

  asio::awaitable<void> respond_held(http::Exchange& ex, std::string body) {
    http::ResponseHeader header;
    header.result(bhttp::status::ok);
    header.version(11);
    header.set("Docker-Content-Digest", core::Digest::of(body).str());
    auto held = std::make_shared<HeldBody>();
    held->bytes = std::move(body);
    {
      std::lock_guard lock(mutex_);
      held->hold_at = held_bytes_;
    }
    const std::size_t size = held->bytes.size();
    http::Exchange::NextPiece next = [this, held](std::span<std::byte> out) {
      return next_held(*held, out);
    };
    co_await ex.respond_async(std::move(header), size, std::move(next));
  }

  http::BlockingPool pool_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  unsigned short port_ = 0;
  std::mutex mutex_;
  std::map<std::string, std::pair<std::string, std::string>> content_;
  std::map<std::string, int> counts_;
  std::atomic<unsigned> failing_{0};
  std::atomic<bool> corrupt_{false};
  std::string held_path_;
  std::size_t held_bytes_ = 0;
  Event gate_;
  std::atomic<bool> cut_{false};
};

// Holds the threads that pass it while it is closed: a moment inside the registry (a
// publication, a quota check) is then as long as a test wants.
class Gate {
 public:
  ~Gate() { open(); }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      closed_ = false;
    }
    changed_.notify_all();
  }
  // Whether a thread is held now.
  bool holding() {
    std::lock_guard lock(mutex_);
    return held_ > 0;
  }
  void pass() {
    std::unique_lock lock(mutex_);
    ++held_;
    changed_.wait(lock, [this] { return !closed_; });
    --held_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool closed_ = false;  // guarded by mutex_
  int held_ = 0;         // guarded by mutex_
};

// The in-memory store, whose publish_upload() passes a gate.
class GatedBlobStore final : public storage::BlobStore {
 public:
  GatedBlobStore(std::unique_ptr<storage::BlobStore> inner, Gate& gate)
      : inner_(std::move(inner)), gate_(gate) {}

  Result<void> publish_upload(const core::UploadId& id, const core::Digest& digest) override {
    gate_.pass();
    return inner_->publish_upload(id, digest);
  }

  Result<std::optional<std::uint64_t>> stat(const core::Digest& digest) override {
    return inner_->stat(digest);
  }
  Result<std::unique_ptr<storage::BlobReader>> open(const core::Digest& digest) override {
    return inner_->open(digest);
  }
  Result<void> put(const core::Digest& digest, std::string_view bytes) override {
    return inner_->put(digest, bytes);
  }
  Result<void> remove(const core::Digest& digest) override { return inner_->remove(digest); }
  Result<std::optional<core::TimePoint>> modified(const core::Digest& digest) override {
    return inner_->modified(digest);
  }
  Result<void> for_each_blob(
      const std::function<void(const core::Digest&, std::uint64_t size)>& fn) override {
    return inner_->for_each_blob(fn);
  }
  Result<void> for_each_blob_entry(
      const std::function<void(const storage::BlobEntry&)>& fn) override {
    return inner_->for_each_blob_entry(fn);
  }
  Result<void> create_upload(const core::UploadId& id) override {
    return inner_->create_upload(id);
  }
  Result<std::unique_ptr<storage::UploadWriter>> append_upload(const core::UploadId& id) override {
    return inner_->append_upload(id);
  }
  Result<std::unique_ptr<storage::BlobReader>> read_upload(const core::UploadId& id) override {
    return inner_->read_upload(id);
  }
  Result<void> commit_upload(const core::UploadId& id, const core::Digest& digest) override {
    return inner_->commit_upload(id, digest);
  }
  Result<void> delete_upload(const core::UploadId& id) override {
    return inner_->delete_upload(id);
  }
  Result<std::vector<storage::UploadEntry>> list_uploads() override {
    return inner_->list_uploads();
  }

 private:
  std::unique_ptr<storage::BlobStore> inner_;
  Gate& gate_;
};

// No immutable tags; check_blob() passes a gate, then refuses a blob larger than the room
// left (unlimited unless a test sets it).
class GatedPolicy final : public registry::RegistryPolicy {
 public:
  explicit GatedPolicy(Gate& gate) : gate_(gate) {}
  core::Result<void> check_blob(const core::RepositoryName&, const core::Digest&,
                                std::uint64_t size) override {
    gate_.pass();
    if (size > room_) {
      return core::fail(core::ErrorCode::kDenied, "quota exceeded: " + std::to_string(room_) +
                                                      " bytes left, the blob has " +
                                                      std::to_string(size));
    }
    return {};
  }
  void set_room(std::uint64_t bytes) { room_ = bytes; }
  core::Result<void> check_manifest(const core::RepositoryName&, const core::Digest&, std::uint64_t,
                                    const std::vector<core::Tag>&) override {
    return {};
  }
  core::Result<bool> tag_is_immutable(const core::RepositoryName&, const core::Tag&) override {
    return false;
  }
  void record_pull(const core::RepositoryName& repo, const core::Digest& digest,
                   const std::optional<core::Tag>& tag) override {
    std::lock_guard lock(mutex_);
    pulls_.push_back(repo.str() + (tag ? ":" + tag->str() : "@" + digest.str()));
  }
  std::vector<std::string> pulls() {
    std::lock_guard lock(mutex_);
    return pulls_;
  }

 private:
  Gate& gate_;
  std::atomic<std::uint64_t> room_{std::numeric_limits<std::uint64_t>::max()};
  std::mutex mutex_;
  std::vector<std::string> pulls_;
};

std::string image_manifest(const core::Digest& config, std::size_t config_size,
                           const core::Digest& layer, std::size_t layer_size) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
         R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
         config.str() + R"(","size":)" + std::to_string(config_size) +
         R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
         layer.str() + R"(","size":)" + std::to_string(layer_size) + "}]}";
}

constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    blobs_ =
        std::make_unique<GatedBlobStore>(testing::make_memory_blob_store(clock_), publication_);
    stores_ = std::move(*meta::open_sqlite_stores(meta::SqliteOptions{":memory:"}));
    registry_ = std::make_unique<registry::Registry>(*blobs_, *stores_.metadata, clock_,
                                                     registry::RegistryOptions{}, &policy_);
    ProxyOptions options;
    options.project = "hub";
    options.upstream.url = upstream_.url();
    options.upstream.attempts = 1;
    options.manifest_ttl = 5min;
    options.max_staleness = 1h;
    options_ = options;
    proxy_ = std::move(*ProxyProject::make(options, *registry_, *stores_.proxy, pool_, clock_));
    repo_ = *core::RepositoryName::parse("hub/app");

    config_ = R"({"architecture":"amd64","os":"linux"})";
    layer_ = std::string(700 * 1024, 'x');
    for (std::size_t i = 0; i < layer_.size(); i += 97) {
      layer_[i] = static_cast<char>('a' + i % 26);
    }
    manifest_ = image_manifest(core::Digest::of(config_), config_.size(), core::Digest::of(layer_),
                               layer_.size());
    upstream_.put("/v2/library/app/manifests/v1", manifest_, std::string(kOciManifest));
    upstream_.put("/v2/library/app/manifests/" + core::Digest::of(manifest_).str(), manifest_,
                  std::string(kOciManifest));
    upstream_.put(blob_path(config_), config_);
    upstream_.put(blob_path(layer_), layer_);
  }

  static std::string blob_path(const std::string& bytes) {
    return "/v2/library/app/blobs/" + core::Digest::of(bytes).str();
  }

  template <class Awaitable>
  auto run(Awaitable awaitable) {
    asio::io_context io;
    auto future = asio::co_spawn(io, std::move(awaitable), asio::use_future);
    io.run();
    return future.get();
  }

  // co_spawn's futures need a default-constructible result, which Result is not.
  asio::awaitable<std::optional<Result<ManifestAnswer>>> manifest_coroutine(
      core::Reference reference) {
    co_return co_await proxy_->manifest(repo_, reference, false);
  }
  asio::awaitable<std::optional<Result<ManifestAnswer>>> head_coroutine(core::Reference reference) {
    co_return co_await proxy_->manifest(repo_, reference, true);
  }
  Result<ManifestAnswer> manifest(const std::string& reference) {
    return *run(manifest_coroutine(*core::Reference::parse(reference)));
  }

  // One client pulling the blob; true when it was served completely.
  asio::awaitable<bool> pull_to_end(core::Digest digest) {
    auto answer = co_await proxy_->blob(repo_, digest, false);
    if (!answer) {
      co_return false;
    }
    if (answer->stream) {
      std::vector<std::byte> piece(16 * 1024);
      for (;;) {
        auto n = co_await answer->stream->next(piece);
        if (!n || *n == 0) {
          break;
        }
      }
      co_await answer->stream->finish();
      co_return answer->stream->stored();
    }
    co_return registry_->stat_blob(repo_, digest).has_value();
  }

  // Pulls a blob as a client would: fetches and drains it. Returns the bytes the client got
  // and whether the response completed.
  std::pair<std::string, bool> pull_blob(const std::string& bytes) {
    return pull_blob(repo_, bytes);
  }
  std::pair<std::string, bool> pull_blob(const core::RepositoryName& repo,
                                         const std::string& bytes) {
    auto digest = core::Digest::of(bytes);
    auto body = [&]() -> asio::awaitable<std::pair<std::string, bool>> {
      auto answer = co_await proxy_->blob(repo, digest, false);
      if (!answer) {
        last_error_ = answer.error();
        co_return std::pair<std::string, bool>{"", false};
      }
      if (!answer->stream) {
        auto reader = registry_->open_blob(repo, digest);
        std::string all((*reader)->size(), '\0');
        auto n = (*reader)->read_at(0, std::as_writable_bytes(std::span(all)));
        co_return std::pair<std::string, bool>{all, n && *n == all.size()};
      }
      std::string got;
      std::vector<std::byte> piece(64 * 1024);
      bool complete = false;
      for (;;) {
        auto n = co_await answer->stream->next(piece);
        if (!n) {
          break;
        }
        if (*n == 0) {
          complete = got.size() == answer->stream->size();
          break;
        }
        got.append(reinterpret_cast<const char*>(piece.data()), *n);
      }
      co_await answer->stream->finish();
      co_return std::pair<std::string, bool>{got, complete};
    };
    return run(body());
  }

  // A restart: a new ProxyProject over the same stores, with nothing in memory.
  void restart(ProxyOptions options) {
    proxy_.reset();
    proxy_ = std::move(*ProxyProject::make(options, *registry_, *stores_.proxy, pool_, clock_));
  }

  // Reads a stream as a client would, until it ends or has `upto` bytes. Returns the bytes and
  // whether the stream ended (which it does only after all of the blob).
  static asio::awaitable<std::pair<std::string, bool>> read_stream(
      std::shared_ptr<BlobStream> stream,
      std::size_t upto = std::numeric_limits<std::size_t>::max()) {
    std::string got;
    std::vector<std::byte> piece(64 * 1024);
    while (got.size() < upto) {
      auto n = co_await stream->next(piece);
      if (!n) {
        co_return std::pair<std::string, bool>{got, false};
      }
      if (*n == 0) {
        co_return std::pair<std::string, bool>{got, true};
      }
      got.append(reinterpret_cast<const char*>(piece.data()), *n);
    }
    co_return std::pair<std::string, bool>{got, false};
  }

  bool cached(const std::string& bytes) {
    return registry_->stat_blob(repo_, core::Digest::of(bytes)).has_value();
  }

  testing::FakeClock clock_;
  FakeUpstream upstream_;
  // Passed by every publication of an upload, and by every quota check of a blob.
  Gate publication_;
  Gate quota_check_;
  GatedPolicy policy_{quota_check_};
  http::BlockingPool pool_{4};
  std::unique_ptr<storage::BlobStore> blobs_;
  meta::SqliteStores stores_;
  std::unique_ptr<registry::Registry> registry_;
  ProxyOptions options_;
  std::unique_ptr<ProxyProject> proxy_;
  core::RepositoryName repo_ = *core::RepositoryName::parse("x/y");
  // What the last pull_blob() that failed at once failed with.
  std::optional<core::Error> last_error_;
  std::string config_;
  std::string layer_;
  std::string manifest_;
};

TEST_F(ProxyTest, UpstreamNameAddsLibraryOnlyForDockerHub) {
  EXPECT_EQ(proxy_->upstream_name(*core::RepositoryName::parse("hub/team/app")), "team/app");
  EXPECT_EQ(proxy_->upstream_name(*core::RepositoryName::parse("hub/app")), "app");
  ProxyOptions options;
  options.project = "dh";
  options.upstream.url = "https://registry-1.docker.io";
  auto hub = ProxyProject::make(options, *registry_, *stores_.proxy, pool_, clock_);
  ASSERT_TRUE(hub);
  EXPECT_EQ((*hub)->upstream_name(*core::RepositoryName::parse("dh/alpine")), "library/alpine");
  EXPECT_EQ((*hub)->upstream_name(*core::RepositoryName::parse("dh/bitnami/redis")),
            "bitnami/redis");
}

TEST_F(ProxyTest, MirrorRequestsGoToTheProxyOfTheRegistryTheyName) {
  auto make = [&](const std::string& project, const std::string& url, bool mirror) {
    ProxyOptions options;
    options.project = project;
    options.upstream.url = url;
    options.mirror = mirror;
    return std::move(*ProxyProject::make(options, *registry_, *stores_.proxy, pool_, clock_));
  };
  Proxies proxies;
  proxies.add(make("ghcr", "https://ghcr.io", false));
  proxies.add(make("a-hub", "https://registry-1.docker.io", false));
  proxies.add(make("hub", "https://registry-1.docker.io", true));
  proxies.add(make("local", "http://127.0.0.1:5001", false));
  // Of two Docker Hub proxies, the one marked as the mirror.
  EXPECT_EQ(proxies.mirror_for("docker.io")->options().project, "hub");
  EXPECT_EQ(proxies.mirror_for("ghcr.io")->options().project, "ghcr");
  EXPECT_EQ(proxies.mirror_for("127.0.0.1:5001")->options().project, "local");
  EXPECT_EQ(proxies.mirror_for("quay.io"), nullptr);
  EXPECT_EQ(proxies.mirror()->options().project, "hub");
}

class ProxyHubTest : public ProxyTest {
 protected:
  void SetUp() override {
    ProxyTest::SetUp();
    // Serve the upstream's content under app/ too, as "hub/app" asks for "app".
    upstream_.put("/v2/app/manifests/v1", manifest_, std::string(kOciManifest));
    upstream_.put("/v2/app/manifests/" + core::Digest::of(manifest_).str(), manifest_,
                  std::string(kOciManifest));
    upstream_.put("/v2/app/blobs/" + core::Digest::of(config_).str(), config_);
    upstream_.put("/v2/app/blobs/" + core::Digest::of(layer_).str(), layer_);
  }
  int gets(const std::string& path) { return upstream_.count("GET /v2/app/" + path); }
  int heads(const std::string& path) { return upstream_.count("HEAD /v2/app/" + path); }
};

TEST_F(ProxyHubTest, TagIsFetchedOnceThenServedForItsTtlThenCheckedWithAHead) {
  auto first = manifest("v1");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->fetched);
  EXPECT_EQ(*first->bytes, manifest_);
  EXPECT_EQ(first->record.digest, core::Digest::of(manifest_));

  clock_.advance(4min);
  auto second = manifest("v1");
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->fetched);
  EXPECT_EQ(heads("manifests/v1") + gets("manifests/v1"), 1);

  // TTL over, tag unchanged upstream: one HEAD, no GET.
  clock_.advance(2min);
  auto third = manifest("v1");
  ASSERT_TRUE(third);
  EXPECT_FALSE(third->fetched);
  EXPECT_FALSE(third->stale);
  EXPECT_EQ(heads("manifests/v1"), 2);
  EXPECT_EQ(gets("manifests/" + core::Digest::of(manifest_).str()), 1);

  // The tag moves upstream: the next check fetches the new manifest.
  const std::string moved = image_manifest(core::Digest::of(config_), config_.size(),
                                           core::Digest::of(config_), config_.size());
  upstream_.put("/v2/app/manifests/v1", moved, std::string(kOciManifest));
  upstream_.put("/v2/app/manifests/" + core::Digest::of(moved).str(), moved,
                std::string(kOciManifest));
  clock_.advance(6min);
  auto fourth = manifest("v1");
  ASSERT_TRUE(fourth) << fourth.error().message;
  EXPECT_TRUE(fourth->fetched);
  EXPECT_EQ(*fourth->bytes, moved);
}

TEST_F(ProxyHubTest, ManifestByDigestIsCachedForever) {
  const std::string digest = core::Digest::of(manifest_).str();
  ASSERT_TRUE(manifest(digest));
  clock_.advance(24h * 365);
  upstream_.fail_with(503);
  auto again = manifest(digest);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->stale);
  EXPECT_EQ(gets("manifests/" + digest), 1);
}

TEST_F(ProxyHubTest, UpstreamDownServesStaleUpToMaxStalenessThenFails) {
  ASSERT_TRUE(manifest("v1"));
  upstream_.fail_with(503);
  clock_.advance(10min);
  auto stale = manifest("v1");
  ASSERT_TRUE(stale) << stale.error().message;
  EXPECT_TRUE(stale->stale);
  EXPECT_EQ(*stale->bytes, manifest_);
  EXPECT_EQ(proxy_->stats().stale_serves, 1u);
  EXPECT_EQ(proxy_->stats().upstream_errors, 1u) << "the failed check is counted";

  clock_.advance(2h);
  auto too_old = manifest("v1");
  ASSERT_FALSE(too_old);
  EXPECT_EQ(too_old.error().code, core::ErrorCode::kUnavailable);
  EXPECT_NE(too_old.error().message.find("503"), std::string::npos);
  EXPECT_EQ(proxy_->stats().upstream_errors, 2u);
}

TEST_F(ProxyHubTest, UnknownUpstreamTagIsManifestUnknown) {
  auto missing = manifest("nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, core::ErrorCode::kManifestUnknown);
}

TEST_F(ProxyHubTest, UncachedManifestWithUpstreamDownIsUnavailable) {
  upstream_.fail_with(502);
  auto missing = manifest("v1");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, core::ErrorCode::kUnavailable);
}

TEST_F(ProxyHubTest, BlobStreamsToTheClientAndIsCachedVerified) {
  ASSERT_TRUE(manifest("v1"));
  auto [bytes, complete] = pull_blob(layer_);
  EXPECT_TRUE(complete);
  EXPECT_EQ(bytes, layer_);
  EXPECT_TRUE(cached(layer_));
  // Served from the cache afterwards.
  auto [again, again_complete] = pull_blob(layer_);
  EXPECT_TRUE(again_complete);
  EXPECT_EQ(again, layer_);
  EXPECT_EQ(gets("blobs/" + core::Digest::of(layer_).str()), 1);
}

TEST_F(ProxyHubTest, CorruptUpstreamBlobIsNeitherCachedNorDeliveredWhole) {
  upstream_.corrupt(true);
  auto [bytes, complete] = pull_blob(layer_);
  EXPECT_FALSE(complete);
  EXPECT_LT(bytes.size(), layer_.size());
  EXPECT_FALSE(cached(layer_));
  upstream_.corrupt(false);
  auto [good, good_complete] = pull_blob(layer_);
  EXPECT_TRUE(good_complete);
  EXPECT_EQ(good, layer_);
  EXPECT_TRUE(cached(layer_));
}

TEST_F(ProxyHubTest, ConcurrentMissesShareOneUpstreamRequest) {
  const auto digest = core::Digest::of(layer_);
  asio::io_context io;
  std::vector<std::future<bool>> done;
  for (int i = 0; i < 8; ++i) {
    done.push_back(asio::co_spawn(io, pull_to_end(digest), asio::use_future));
  }
  io.run();
  for (auto& result : done) {
    EXPECT_TRUE(result.get());
  }
  EXPECT_EQ(gets("blobs/" + digest.str()), 1);
}

// Pull statistics (retention's not_pulled_days) count each GET once, a miss and an expired
// tag's check included, and no HEAD.
TEST_F(ProxyHubTest, EachGetCountsOnePullAndHeadsNone) {
  const std::string digest = core::Digest::of(manifest_).str();
  ASSERT_TRUE(manifest("v1"));  // a miss
  ASSERT_TRUE(manifest("v1"));  // a hit
  clock_.advance(6min);
  ASSERT_TRUE(manifest("v1"));  // checked upstream with a HEAD
  ASSERT_TRUE(manifest(digest));
  auto head = run(head_coroutine(*core::Reference::parse("v1")));
  ASSERT_TRUE(head && *head);
  EXPECT_EQ(policy_.pulls(), (std::vector<std::string>{"hub/app:v1", "hub/app:v1", "hub/app:v1",
                                                       "hub/app@" + digest}));
}

TEST_F(ProxyHubTest, TagChecksSurviveARestart) {
  ASSERT_TRUE(manifest("v1"));
  restart(options_);
  clock_.advance(4min);
  auto within_ttl = manifest("v1");
  ASSERT_TRUE(within_ttl) << within_ttl.error().message;
  EXPECT_FALSE(within_ttl->fetched);
  EXPECT_EQ(heads("manifests/v1") + gets("manifests/v1"), 1);

  // Staleness also counts from the recorded check, not from when the tag was first cached.
  clock_.advance(50min);
  ASSERT_TRUE(manifest("v1"));  // checked with a HEAD at 54 min
  EXPECT_EQ(heads("manifests/v1"), 2);
  restart(options_);
  upstream_.fail_with(503);
  clock_.advance(30min);
  auto stale = manifest("v1");
  ASSERT_TRUE(stale) << stale.error().message;  // 30 min after the last check < 1 h
  EXPECT_TRUE(stale->stale);
}

// The relations of a manifest cached before its blobs fill in as the blobs arrive, even
// across a restart in between (so garbage collection keeps those blobs).
TEST_F(ProxyHubTest, PartiallyCachedManifestFillsInAfterARestart) {
  ASSERT_TRUE(manifest("v1"));
  auto references = [&] {
    auto snapshot = stores_.policies->retention_snapshot("hub");
    EXPECT_TRUE(snapshot);
    EXPECT_EQ(snapshot->manifests.size(), 1u);
    return snapshot->manifests.empty() ? 0 : snapshot->manifests[0].blobs.size();
  };
  EXPECT_EQ(references(), 0u);
  restart(options_);
  EXPECT_TRUE(pull_blob(config_).second);
  EXPECT_EQ(references(), 1u);
  restart(options_);
  EXPECT_TRUE(pull_blob(layer_).second);
  EXPECT_EQ(references(), 2u);
  // Complete now: no longer on the list.
  EXPECT_TRUE(stores_.proxy->partial_manifests(repo_, core::TimePoint()).value().empty());
}

TEST_F(ProxyHubTest, BlobOverTheQuotaIsRefusedBeforeItsBodyIsFetched) {
  policy_.set_room(layer_.size() - 1);
  auto [bytes, complete] = pull_blob(layer_);
  EXPECT_FALSE(complete);
  ASSERT_TRUE(last_error_) << "the pull should fail at once, not as a cut stream";
  EXPECT_EQ(last_error_->code, core::ErrorCode::kDenied);
  EXPECT_NE(last_error_->message.find("quota exceeded"), std::string::npos) << last_error_->message;
  EXPECT_EQ(proxy_->stats().blob_fetches, 0u);
  EXPECT_EQ(proxy_->stats().blob_bytes_fetched, 0u);
  EXPECT_FALSE(cached(layer_));
  // Room again: fetched.
  policy_.set_room(layer_.size());
  EXPECT_TRUE(pull_blob(layer_).second);
  EXPECT_TRUE(cached(layer_));
}

// A layer cached for one repository of the project is linked into another that asks for it,
// as a cross-repository mount, not fetched again.
TEST_F(ProxyHubTest, LayerCachedUnderAnotherRepositoryIsLinkedNotFetchedAgain) {
  const auto other = *core::RepositoryName::parse("hub/other");
  const std::string other_path = "/v2/other/blobs/" + core::Digest::of(layer_).str();
  upstream_.put(other_path, layer_);
  ASSERT_TRUE(pull_blob(layer_).second);
  EXPECT_EQ(proxy_->stats().blob_fetches, 1u);

  auto [bytes, complete] = pull_blob(other, layer_);
  EXPECT_TRUE(complete);
  EXPECT_TRUE(bytes == layer_);
  EXPECT_EQ(upstream_.count("GET " + other_path), 0);
  EXPECT_EQ(proxy_->stats().blob_fetches, 1u);
  EXPECT_EQ(proxy_->stats().blob_links, 1u);
  EXPECT_TRUE(registry_->stat_blob(other, core::Digest::of(layer_)));
}

// Rights are a project's: a blob of another project is never linked into this one.
TEST_F(ProxyHubTest, BlobsOfOtherProjectsAreNotLinked) {
  const auto elsewhere = *core::RepositoryName::parse("team/app");
  auto lease = registry_->start_single_request_upload(elsewhere);
  ASSERT_TRUE(lease);
  ASSERT_TRUE(lease->append(std::as_bytes(std::span(layer_))));
  ASSERT_TRUE(registry_->finish_upload(std::move(*lease), core::Digest::of(layer_)));

  ASSERT_TRUE(pull_blob(layer_).second);
  EXPECT_EQ(gets("blobs/" + core::Digest::of(layer_).str()), 1);
  EXPECT_EQ(proxy_->stats().blob_links, 0u);
}

class OverlayTest : public ProxyHubTest {
 protected:
  void SetUp() override {
    ProxyHubTest::SetUp();
    options_.overlay = true;
    restart(options_);
  }
  // A push of `bytes` as hub/app:tag, as the registry's manifest PUT stores it.
  void push(const std::string& bytes, const std::string& tag) {
    for (const std::string* blob : {&config_, &layer_}) {
      auto lease = registry_->start_single_request_upload(repo_);
      ASSERT_TRUE(lease);
      ASSERT_TRUE(lease->append(std::as_bytes(std::span(*blob))));
      ASSERT_TRUE(registry_->finish_upload(std::move(*lease), core::Digest::of(*blob)));
    }
    auto put = registry_->put_manifest(repo_, *core::Reference::parse(tag), bytes,
                                       std::string(kOciManifest), {});
    ASSERT_TRUE(put) << put.error().message;
  }
  std::vector<core::Tag> note_push(const std::string& tag) {
    auto body = [&]() -> asio::awaitable<std::vector<core::Tag>> {
      std::vector<core::Tag> tags;
      tags.push_back(*core::Tag::parse(tag));
      co_return co_await proxy_->note_push(repo_, std::move(tags));
    };
    return run(body());
  }
  std::string own_manifest() const {
    // Another manifest over the same blobs: layers listed twice.
    return image_manifest(core::Digest::of(config_), config_.size(), core::Digest::of(layer_),
                          layer_.size()) +
           " ";
  }
};

TEST_F(OverlayTest, PushedTagIsServedLocallyWithoutAskingTheUpstream) {
  push(own_manifest(), "mine");
  auto pulled = manifest("mine");
  ASSERT_TRUE(pulled) << pulled.error().message;
  EXPECT_TRUE(pulled->local);
  EXPECT_FALSE(pulled->fetched);
  EXPECT_EQ(*pulled->bytes, own_manifest());
  clock_.advance(24h);
  upstream_.fail_with(503);
  auto later = manifest("mine");
  ASSERT_TRUE(later);
  EXPECT_FALSE(later->stale);
  EXPECT_EQ(heads("manifests/mine") + gets("manifests/mine"), 0);
  // Nothing upstream has "mine": the push shadows nothing.
  upstream_.fail_with(0);
  EXPECT_TRUE(note_push("mine").empty());
}

TEST_F(OverlayTest, TagsNotPushedFallBackToTheUpstreamAndFollowIt) {
  auto cached = manifest("v1");
  ASSERT_TRUE(cached) << cached.error().message;
  EXPECT_TRUE(cached->fetched);
  EXPECT_FALSE(cached->local);
  // A cached tag is the cache's: checked again after its TTL.
  clock_.advance(6min);
  auto checked = manifest("v1");
  ASSERT_TRUE(checked);
  EXPECT_FALSE(checked->local);
  EXPECT_EQ(heads("manifests/v1"), 2);
}

TEST_F(OverlayTest, PushOverAnUpstreamTagShadowsItFromThenOn) {
  ASSERT_TRUE(manifest("v1"));
  push(own_manifest(), "v1");
  auto shadowed = note_push("v1");
  ASSERT_EQ(shadowed.size(), 1u);
  EXPECT_EQ(shadowed[0].str(), "v1");
  const int asked = heads("manifests/v1") + gets("manifests/v1");
  clock_.advance(24h);
  auto pulled = manifest("v1");
  ASSERT_TRUE(pulled) << pulled.error().message;
  EXPECT_TRUE(pulled->local);
  EXPECT_EQ(*pulled->bytes, own_manifest());
  // Served without asking the upstream again (note_push's HEAD was the last question).
  EXPECT_EQ(heads("manifests/v1") + gets("manifests/v1"), asked);
}

// Clients that join a blob's fetch (single flight), with an upstream that sends the first
// 2.5 MiB of a 4 MiB blob and then waits for the test.
class ProxyFlightTest : public ProxyHubTest {
 protected:
  static constexpr std::size_t kHeld = 2 * 1024 * 1024 + 512 * 1024;

  void SetUp() override {
    ProxyHubTest::SetUp();
    big_ = std::string(4 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < big_.size(); ++i) {
      big_[i] = static_cast<char>((i * 7919 + i / 4096) & 0xff);
    }
    digest_ = core::Digest::of(big_);
    path_ = "/v2/app/blobs/" + digest_.str();
    upstream_.put(path_, big_);
    upstream_.hold(path_, kHeld);
  }

  // Runs body for at most 30 s. A stream that waited for the end of the fetch instead of
  // streaming would wait forever for the held upstream: then the upstream is cut, to end it.
  void run_bounded(asio::awaitable<void> body) {
    asio::io_context io;
    auto done = asio::co_spawn(io, std::move(body), asio::use_future);
    io.run_for(30s);
    if (done.wait_for(0s) != std::future_status::ready) {
      ADD_FAILURE() << "still waiting after 30 s";
      upstream_.release(true);
      publication_.open();
      quota_check_.open();
      io.restart();
      io.run();
    }
    done.get();
  }

  // The streams of a fetch's leader and of a follower joined to it.
  using TwoStreams = std::function<asio::awaitable<void>(std::shared_ptr<BlobStream> leader,
                                                         std::shared_ptr<BlobStream> follower)>;
  // Starts the fetch, joins it, and runs body with both streams.
  asio::awaitable<void> with_two_streams(TwoStreams body) {
    auto leader = co_await proxy_->blob(repo_, digest_, false);
    auto follower = co_await proxy_->blob(repo_, digest_, false);
    if (!leader || !leader->stream || !follower || !follower->stream) {
      ADD_FAILURE() << "both should stream the fetch";
      co_return;
    }
    std::shared_ptr<BlobStream> leading = leader->stream;
    std::shared_ptr<BlobStream> following = follower->stream;
    co_await body(std::move(leading), std::move(following));
  }

  // Reads the stream to its end, then waits for the fetch: all of the blob, stored.
  asio::awaitable<void> read_whole(std::shared_ptr<BlobStream> stream) {
    auto all = co_await read_stream(stream);
    EXPECT_TRUE(all.second);
    EXPECT_TRUE(all.first == big_);
    co_await stream->finish();
    EXPECT_TRUE(stream->stored());
  }

  static asio::awaitable<void> sleep_for(std::chrono::milliseconds how_long) {
    asio::steady_timer timer(co_await asio::this_coro::executor, how_long);
    co_await timer.async_wait(asio::use_awaitable);
  }

  // Reads the stream to its end into *out.
  static asio::awaitable<void> read_into(std::shared_ptr<BlobStream> stream,
                                         std::shared_ptr<std::optional<std::string>> out) {
    auto got = co_await read_stream(std::move(stream));
    out->emplace(got.second ? got.first : std::string());
  }

  void expect_cached_by_one_fetch() {
    EXPECT_TRUE(big_cached());
    EXPECT_EQ(gets("blobs/" + digest_.str()), 1);
  }

  bool big_cached() { return registry_->stat_blob(repo_, digest_).has_value(); }

  std::string big_;
  core::Digest digest_ = core::Digest::of("");
  std::string path_;
};

TEST_F(ProxyFlightTest, FollowerJoiningMidFetchStreamsIdenticalBytesAsTheyArrive) {
  TwoStreams body = [this](std::shared_ptr<BlobStream> leader,
                           std::shared_ptr<BlobStream> follower) -> asio::awaitable<void> {
    // The upstream has sent only kHeld bytes: the follower reads while the fetch goes on.
    auto early = co_await read_stream(follower, 1024 * 1024);
    EXPECT_GE(early.first.size(), 1024u * 1024u);
    EXPECT_FALSE(big_cached());
    upstream_.release();
    auto rest = co_await read_stream(follower);
    EXPECT_TRUE(rest.second);
    EXPECT_TRUE(early.first + rest.first == big_);
    co_await read_whole(leader);
  };
  run_bounded(with_two_streams(std::move(body)));
  expect_cached_by_one_fetch();
}

TEST_F(ProxyFlightTest, LeadersClientGoneMidwayStillCachesTheBlobForAFollower) {
  auto body = [this]() -> asio::awaitable<void> {
    auto leader = co_await proxy_->blob(repo_, digest_, false);
    if (!leader || !leader->stream) {
      ADD_FAILURE() << "no fetch";
      co_return;
    }
    auto first = co_await read_stream(leader->stream, 1);
    EXPECT_FALSE(first.first.empty());
    // The leader's client disconnects; its request is gone with its stream.
    leader->stream.reset();
    auto joined = co_await proxy_->blob(repo_, digest_, false);
    if (!joined || !joined->stream) {
      ADD_FAILURE() << "the follower should stream the fetch";
      co_return;
    }
    std::shared_ptr<BlobStream> follower = joined->stream;
    upstream_.release();
    co_await read_whole(follower);
  };
  run_bounded(body());
  expect_cached_by_one_fetch();
}

TEST_F(ProxyFlightTest, UpstreamCutMidBlobCutsEveryStreamCachesNothingAndTheNextPullSucceeds) {
  TwoStreams body = [this](std::shared_ptr<BlobStream> leader,
                           std::shared_ptr<BlobStream> follower) -> asio::awaitable<void> {
    upstream_.release(true);
    auto led = co_await read_stream(leader);
    auto followed = co_await read_stream(follower);
    EXPECT_FALSE(led.second);
    EXPECT_FALSE(followed.second);
    EXPECT_LE(led.first.size(), kHeld);
    EXPECT_LE(followed.first.size(), kHeld);
    co_await leader->finish();
    EXPECT_FALSE(leader->stored());
  };
  run_bounded(with_two_streams(std::move(body)));
  EXPECT_FALSE(big_cached());
  upstream_.hold("", 0);
  auto [again, complete] = pull_blob(big_);
  EXPECT_TRUE(complete);
  EXPECT_TRUE(again == big_);
  EXPECT_TRUE(big_cached());
}

TEST_F(ProxyFlightTest, FollowerOfACorruptFetchNeverGetsTheWholeBlob) {
  upstream_.corrupt(true);
  TwoStreams body = [this](std::shared_ptr<BlobStream> leader,
                           std::shared_ptr<BlobStream> follower) -> asio::awaitable<void> {
    upstream_.release();
    auto followed = co_await read_stream(follower);
    auto led = co_await read_stream(leader);
    EXPECT_FALSE(followed.second);
    EXPECT_FALSE(led.second);
    EXPECT_LT(followed.first.size(), big_.size());
    EXPECT_LT(led.first.size(), big_.size());
  };
  run_bounded(with_two_streams(std::move(body)));
  EXPECT_FALSE(big_cached());
}

TEST_F(ProxyFlightTest, NoStreamGetsTheLastByteBeforeTheBlobIsVerified) {
  TwoStreams body = [this](std::shared_ptr<BlobStream> leader,
                           std::shared_ptr<BlobStream> follower) -> asio::awaitable<void> {
    // After the admission of the fetch, before its verification.
    quota_check_.close();
    upstream_.release();
    const std::size_t all_but_one = big_.size() - 1;
    auto led = co_await read_stream(leader, all_but_one);
    auto followed = co_await read_stream(follower, all_but_one);
    EXPECT_TRUE(led.first == big_.substr(0, all_but_one));
    EXPECT_TRUE(followed.first == big_.substr(0, all_but_one));
    while (!quota_check_.holding()) {
      co_await sleep_for(1ms);
    }
    // Every byte is appended; the verification is held (in the quota check).
    auto last_led = std::make_shared<std::optional<std::string>>();
    auto last_followed = std::make_shared<std::optional<std::string>>();
    auto executor = co_await asio::this_coro::executor;
    asio::co_spawn(executor, read_into(leader, last_led), asio::detached);
    asio::co_spawn(executor, read_into(follower, last_followed), asio::detached);
    co_await sleep_for(200ms);
    EXPECT_FALSE(last_led->has_value());
    EXPECT_FALSE(last_followed->has_value());
    quota_check_.open();
    while (!last_led->has_value() || !last_followed->has_value()) {
      co_await sleep_for(1ms);
    }
    EXPECT_TRUE(**last_led == big_.substr(all_but_one));
    EXPECT_TRUE(**last_followed == big_.substr(all_but_one));
  };
  run_bounded(with_two_streams(std::move(body)));
  expect_cached_by_one_fetch();
}

TEST_F(ProxyFlightTest, StreamsEndOnceVerifiedWithoutWaitingForThePublication) {
  publication_.close();
  TwoStreams body = [this](std::shared_ptr<BlobStream> leader,
                           std::shared_ptr<BlobStream> follower) -> asio::awaitable<void> {
    upstream_.release();
    auto led = co_await read_stream(leader);
    auto followed = co_await read_stream(follower);
    EXPECT_TRUE(led.second);
    EXPECT_TRUE(followed.second);
    EXPECT_TRUE(led.first == big_);
    EXPECT_TRUE(followed.first == big_);
    EXPECT_FALSE(big_cached());
    publication_.open();
    co_await leader->finish();
    EXPECT_TRUE(leader->stored());
  };
  run_bounded(with_two_streams(std::move(body)));
  expect_cached_by_one_fetch();
}

// Two repositories of the project missing the same blob at once: one fetch, both linked.
TEST_F(ProxyFlightTest, ConcurrentMissesInTwoRepositoriesShareOneFetch) {
  const auto other = *core::RepositoryName::parse("hub/other");
  upstream_.put("/v2/other/blobs/" + digest_.str(), big_);
  auto body = [&]() -> asio::awaitable<void> {
    auto leader = co_await proxy_->blob(repo_, digest_, false);
    // The upstream holds the fetch: the second repository's miss joins it.
    auto follower = co_await proxy_->blob(other, digest_, false);
    if (!leader || !leader->stream || !follower || !follower->stream) {
      ADD_FAILURE() << "both should stream the one fetch";
      upstream_.release(true);
      co_return;
    }
    upstream_.release();
    co_await read_whole(follower->stream);
    co_await read_whole(leader->stream);
  };
  run_bounded(body());
  expect_cached_by_one_fetch();
  EXPECT_EQ(upstream_.count("GET /v2/other/blobs/" + digest_.str()), 0);
  EXPECT_TRUE(registry_->stat_blob(other, digest_));
}

// Two replicas (a Registry and a ProxyProject each, as two `berth serve` processes have) over
// one blob store and one database, both with cluster-wide single flight (fetch_lease.hpp).
class ProxyReplicasTest : public ProxyFlightTest {
 protected:
  void SetUp() override {
    ProxyFlightTest::SetUp();
    restart(replica_options("replica-1"));
    second_registry_ = std::make_unique<registry::Registry>(*blobs_, *stores_.metadata, clock_,
                                                            registry::RegistryOptions{}, &policy_);
    second_ = std::move(*ProxyProject::make(replica_options("replica-2"), *second_registry_,
                                            *stores_.proxy, second_pool_, clock_));
  }

  ProxyOptions replica_options(std::string holder) {
    ProxyOptions options = options_;
    options.fetch_leases = FetchLeaseOptions{
        .store = stores_.gc.get(), .holder = std::move(holder), .ttl = 30s, .poll = 10ms};
    return options;
  }

  // One client pulling the blob from a replica to the end, streamed or from storage; *out gets
  // the bytes it got ("" when it failed or was cut).
  asio::awaitable<void> pull_on(int replica, std::shared_ptr<std::optional<std::string>> out) {
    ProxyProject& proxy = replica == 0 ? *proxy_ : *second_;
    registry::Registry& registry = replica == 0 ? *registry_ : *second_registry_;
    auto answer = co_await proxy.blob(repo_, digest_, false);
    if (!answer) {
      out->emplace(std::string());
      co_return;
    }
    if (answer->stream) {
      co_await read_into(answer->stream, out);
      co_return;
    }
    auto reader = registry.open_blob(repo_, digest_);
    std::string all(reader ? (*reader)->size() : 0, '\0');
    if (reader) {
      (void)(*reader)->read_at(0, std::as_writable_bytes(std::span(all)));
    }
    out->emplace(std::move(all));
  }

  // Waits (a bounded number of 10 ms turns) until done() holds.
  static asio::awaitable<bool> eventually(const std::function<bool()>& done) {
    for (int turn = 0; turn < 1000 && !done(); ++turn) {
      co_await sleep_for(10ms);
    }
    co_return done();
  }

  // Its own threads, as another process has: the first replica's streams do not hold them.
  http::BlockingPool second_pool_{4};
  std::unique_ptr<registry::Registry> second_registry_;
  std::unique_ptr<ProxyProject> second_;
};

TEST_F(ProxyReplicasTest, ColdPullsSpreadOverTwoReplicasFetchTheBlobOnceInTheCluster) {
  constexpr int kPulls = 8;
  std::vector<std::shared_ptr<std::optional<std::string>>> got;
  auto body = [&]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    for (int i = 0; i < kPulls; ++i) {
      got.push_back(std::make_shared<std::optional<std::string>>());
      asio::co_spawn(executor, pull_on(i % 2, got.back()), asio::detached);
    }
    // The upstream holds the one fetch mid-blob while every pull has arrived at its replica:
    // the second replica's must wait for it rather than fetch too.
    EXPECT_TRUE(co_await eventually([&] { return gets("blobs/" + digest_.str()) >= 1; }));
    co_await sleep_for(200ms);
    EXPECT_EQ(gets("blobs/" + digest_.str()), 1) << "the second replica fetched as well";
    upstream_.release();
    EXPECT_TRUE(co_await eventually([&] {
      return std::all_of(got.begin(), got.end(), [](const auto& out) { return out->has_value(); });
    }));
  };
  run_bounded(body());
  for (int i = 0; i < kPulls; ++i) {
    ASSERT_TRUE(got[i]->has_value()) << "pull " << i << " did not end";
    EXPECT_TRUE(**got[i] == big_) << "pull " << i << " on replica " << i % 2 << " got "
                                  << (*got[i])->size() << " bytes, not the blob";
  }
  expect_cached_by_one_fetch();
}

TEST_F(ProxyReplicasTest, TheFetchLeaseOfADeadReplicaLapsesAndAnotherReplicaFetches) {
  upstream_.release();
  // A replica took the lease and died before it fetched anything.
  auto taken = stores_.gc->acquire_lease(fetch_lease_name("hub", digest_), "dead-replica",
                                         clock_.now(), 30s);
  ASSERT_TRUE(taken && *taken);
  auto got = std::make_shared<std::optional<std::string>>();
  auto body = [&]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    asio::co_spawn(executor, pull_on(1, got), asio::detached);
    co_await sleep_for(500ms);
    EXPECT_FALSE(got->has_value()) << "the pull did not wait for the lease";
    EXPECT_EQ(gets("blobs/" + digest_.str()), 0) << "fetched under another replica's lease";
    clock_.advance(31s);
    EXPECT_TRUE(co_await eventually([&] { return got->has_value(); }));
  };
  run_bounded(body());
  ASSERT_TRUE(got->has_value());
  EXPECT_TRUE(**got == big_);
  expect_cached_by_one_fetch();
  // The fetch released its lease: the next holder gets it at once.
  auto next =
      stores_.gc->acquire_lease(fetch_lease_name("hub", digest_), "replica-3", clock_.now(), 30s);
  EXPECT_TRUE(next && *next);
}

// The quota filled by others while a blob is fetched: the fetch stops, it does not read the
// rest of the blob only to be refused at the end.
TEST_F(ProxyFlightTest, QuotaFilledMidFetchStopsTheFetch) {
  const std::string huge(24 * 1024 * 1024, 'h');
  const auto digest = core::Digest::of(huge);
  upstream_.put("/v2/app/blobs/" + digest.str(), huge);
  upstream_.hold("/v2/app/blobs/" + digest.str(), 1024 * 1024 + 512 * 1024);
  options_.quota_recheck_bytes = 1024 * 1024;
  restart(options_);
  auto body = [&]() -> asio::awaitable<void> {
    auto answer = co_await proxy_->blob(repo_, digest, false);
    if (!answer || !answer->stream) {
      ADD_FAILURE() << "the fetch should start";
      upstream_.release(true);
      co_return;
    }
    // Admitted and 1.5 MiB in: now others take all the room.
    auto early = co_await read_stream(answer->stream, 512 * 1024);
    EXPECT_FALSE(early.second);
    policy_.set_room(0);
    upstream_.release();
    auto rest = co_await read_stream(answer->stream);
    EXPECT_FALSE(rest.second) << "the stream of a refused blob must be cut";
    co_await answer->stream->finish();
    EXPECT_FALSE(answer->stream->stored());
  };
  run_bounded(body());
  EXPECT_FALSE(registry_->stat_blob(repo_, digest));
  // Stopped within a few batches of the refusal, far from the end.
  EXPECT_LT(proxy_->stats().blob_bytes_fetched, huge.size() / 2);
  auto refused = pull_blob(huge);
  EXPECT_FALSE(refused.second);
  ASSERT_TRUE(last_error_);
  EXPECT_EQ(last_error_->code, core::ErrorCode::kDenied);
}

}  // namespace
}  // namespace berth::proxy
