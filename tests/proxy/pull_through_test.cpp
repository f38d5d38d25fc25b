// Proxy projects end to end: berth caching an upstream Distribution (htpasswd auth) or an
// upstream berth (token auth). Pulls through the cache are byte-identical, 32 concurrent cold
// pulls cost one upstream request per blob, an upstream killed mid-blob leaves nothing
// corrupt, and an upstream that is down still lets cached images pull.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "berth_process.hpp"
#include "proxy_support.hpp"
#include "registry_client.hpp"

namespace berth::testing {
namespace {

// A berth with one proxy project "cache" in front of `upstream`.
struct CachingBerth {
  CachingBerth(const std::string& upstream, const std::string& extra = "",
               std::map<std::string, std::string> env = {}, const std::string& user = kUpstreamUser,
               const std::string& password = kUpstreamPassword)
      : config(write_proxy_config(dir.path(), "cache", upstream, extra, user, password)),
        process(BerthOptions{.data = {}, .args = {"--config", config.string()}, .env = env}),
        client("127.0.0.1", process.port()) {}

  TempDir dir;
  std::filesystem::path config;
  BerthProcess process;
  RegistryClient client;
};

// One blob into Distribution: POST, then a PUT ?digest= with the whole body (it has no
// monolithic POST).
std::string push_upstream_blob(RegistryClient& pusher, const std::string& repo,
                               const std::string& bytes) {
  const std::string location = pusher.start_upload(repo);
  const std::string digest = sha256_digest(bytes);
  const char separator = location.find('?') == std::string::npos ? '?' : '&';
  auto put = pusher.http().put(location + separator + "digest=" + digest, bytes,
                               {{"Content-Type", "application/octet-stream"}});
  if (put.status != 201) {
    throw RegistryClientError("upstream blob PUT: " + describe(put));
  }
  return digest;
}

// Pushes an image (a config and `layers` random layers) to the upstream with its credentials.
PushedImage push_upstream(DistributionProcess& upstream, const std::string& repo,
                          const std::string& tag, std::size_t layers = 1,
                          std::size_t layer_size = 64 * 1024) {
  RegistryClient pusher("127.0.0.1", upstream.port());
  pusher.http().set_default_headers(
      {{"Authorization", basic_header(kUpstreamUser, kUpstreamPassword)}});
  PushedImage image;
  image.media_type = std::string(media_types::kOciManifest);
  image.config.bytes = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"},)"
                       R"("config":{"Labels":{"t":")" +
                       random_token(16) + R"("}}})";
  image.config.digest = push_upstream_blob(pusher, repo, image.config.bytes);
  std::vector<Descriptor> descriptors;
  for (std::size_t i = 0; i < layers; ++i) {
    PushedBlob layer;
    layer.bytes = random_bytes(layer_size);
    layer.digest = push_upstream_blob(pusher, repo, layer.bytes);
    descriptors.push_back(describe(media_types::kOciLayer, layer.bytes));
    image.layers.push_back(std::move(layer));
  }
  image.manifest =
      make_image_manifest(describe(media_types::kOciConfig, image.config.bytes), descriptors);
  image.digest = pusher.push_manifest(repo, tag, image.manifest, media_types::kOciManifest);
  image.descriptor = describe(media_types::kOciManifest, image.manifest);
  return image;
}

class PullThrough : public ::testing::Test {
 protected:
  DistributionProcess upstream;
};

TEST_F(PullThrough, PullIsByteIdenticalAndTheSecondPullIsAHit) {
  auto image = push_upstream(upstream, "team/app", "v1", 2, 1 << 20);
  CachingBerth berth(upstream.url());

  auto first = berth.client.get_manifest("cache/team/app", "v1");
  ASSERT_EQ(first.status, 200u) << describe(first);
  EXPECT_EQ(first.body, image.manifest);
  EXPECT_EQ(first.headers.get("Docker-Content-Digest"), image.digest);
  EXPECT_EQ(first.headers.get("Berth-Cache"), "miss");
  // Every blob, byte for byte, streamed on the miss and read from the cache after.
  berth.client.verify_image("cache/team/app", image);
  berth.client.verify_image("cache/team/app", image);
  auto second = berth.client.get_manifest("cache/team/app", "v1");
  EXPECT_EQ(second.headers.get("Berth-Cache"), "hit");
  for (const auto& layer : image.layers) {
    EXPECT_EQ(upstream.count("GET", "/v2/team/app/blobs/" + layer.digest), 1);
  }
  // By digest too, and the cache is an ordinary repository of the project.
  auto by_digest = berth.client.get_manifest("cache/team/app", image.digest);
  EXPECT_EQ(by_digest.status, 200u);
  auto tags = berth.client.list_tags("cache/team/app");
  EXPECT_EQ(tags, std::vector<std::string>{"v1"});
}

TEST_F(PullThrough, UnknownUpstreamContentIsUnknownHere) {
  CachingBerth berth(upstream.url());
  auto manifest = berth.client.get_manifest("cache/team/none", "v1");
  EXPECT_EQ(manifest.status, 404u) << describe(manifest);
  EXPECT_EQ(error_code(manifest), "MANIFEST_UNKNOWN");
  auto blob = berth.client.http().get("/v2/cache/team/none/blobs/sha256:" + std::string(64, 'a'));
  EXPECT_EQ(blob.status, 404u) << describe(blob);
}

TEST_F(PullThrough, PushesIntoTheProxyProjectAreRefused) {
  CachingBerth berth(upstream.url());
  auto post = berth.client.http().post("/v2/cache/team/app/blobs/uploads/", "");
  EXPECT_EQ(post.status, 403u) << describe(post);
  EXPECT_EQ(error_code(post), "DENIED");
  auto put = berth.client.http().put("/v2/cache/team/app/manifests/v1", "{}",
                                     {{"Content-Type", std::string(media_types::kOciManifest)}});
  EXPECT_EQ(put.status, 403u) << describe(put);
}

TEST_F(PullThrough, ThirtyTwoConcurrentColdPullsMakeOneUpstreamRequestPerBlob) {
  auto image = push_upstream(upstream, "team/busy", "v1", 3, 4 << 20);
  CachingBerth berth(upstream.url());
  constexpr int kClients = 32;
  std::atomic<int> identical{0};
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      try {
        RegistryClient client("127.0.0.1", berth.process.port());
        auto manifest = client.get_manifest("cache/team/busy", "v1");
        if (manifest.status != 200 || manifest.body != image.manifest) {
          failures[i] = describe(manifest);
          return;
        }
        client.verify_image("cache/team/busy", image);
        ++identical;
      } catch (const std::exception& e) {
        failures[i] = e.what();
      }
    });
  }
  for (auto& thread : clients) {
    thread.join();
  }
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(failures[i], "") << "client " << i;
  }
  EXPECT_EQ(identical.load(), kClients);
  EXPECT_EQ(upstream.count("GET", "/v2/team/busy/manifests/" + image.digest), 1)
      << berth.process.log();
  EXPECT_EQ(upstream.count("GET", "/v2/team/busy/blobs/" + image.config.digest), 1);
  for (const auto& layer : image.layers) {
    EXPECT_EQ(upstream.count("GET", "/v2/team/busy/blobs/" + layer.digest), 1) << layer.digest;
  }
  // The tag: one check and one fetch, not one per client. (Counting answered requests: the
  // very first request to the upstream also drew its 401 Basic challenge.)
  EXPECT_EQ(upstream.count("HEAD", "/v2/team/busy/manifests/v1", "200") +
                upstream.count("GET", "/v2/team/busy/manifests/v1", "200") +
                upstream.count("GET", "/v2/team/busy/manifests/" + image.digest, "200"),
            2);
}

TEST_F(PullThrough, UpstreamKilledMidBlobCachesNothingAndTheNextPullSucceeds) {
  // Big enough that the kill lands while it streams.
  auto image = push_upstream(upstream, "team/big", "v1", 1, 96 << 20);
  CachingBerth berth(upstream.url());
  ASSERT_EQ(berth.client.get_manifest("cache/team/big", "v1").status, 200u);
  const auto& layer = image.layers[0];
  const std::string path = "/v2/cache/team/big/blobs/" + layer.digest;

  // berth's fetch does not wait for its clients (a slow reader no longer holds it mid-blob), so
  // the upstream is killed as soon as berth logs that the fetch began: 96 MiB take far longer
  // than the few milliseconds until the kill. A reader with a tiny receive buffer that reads
  // nothing yet keeps what berth can send it before then small.
  RawConnection slow("127.0.0.1", berth.process.port(), 4096);
  slow.send("GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n");
  const std::string began = "fetching team/big@" + layer.digest;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (berth.process.log().find(began) == std::string::npos &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  upstream.kill();
  const std::string received = slow.read_until_close(std::chrono::seconds(120));
  EXPECT_TRUE(slow.closed()) << "berth must end a response it cannot complete";
  ASSERT_TRUE(received.starts_with("HTTP/1.1 200")) << received.substr(0, 300);
  const auto header_end = received.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos);
  const std::uint64_t body_bytes = received.size() - header_end - 4;
  EXPECT_LT(body_bytes, layer.bytes.size()) << "the client must not get a complete body";

  // Nothing was cached: with the upstream down the blob is unavailable, not served.
  auto head = berth.client.http().head(path);
  EXPECT_EQ(head.status, 503u) << describe(head);

  upstream.start();
  EXPECT_EQ(berth.client.pull_blob("cache/team/big", layer.digest), layer.bytes);
}

TEST_F(PullThrough, UpstreamDownServesCachedImagesStaleAndRefusesUncachedClearly) {
  auto image = push_upstream(upstream, "team/app", "v1");
  push_upstream(upstream, "team/other", "v1");
  CachingBerth berth(upstream.url(), "    manifest_ttl: 1s\n    max_staleness: 1h\n");
  berth.client.verify_image("cache/team/app", image);
  ASSERT_EQ(berth.client.get_manifest("cache/team/app", "v1").status, 200u);

  upstream.kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto stale = berth.client.get_manifest("cache/team/app", "v1");
  ASSERT_EQ(stale.status, 200u) << describe(stale);
  EXPECT_EQ(stale.body, image.manifest);
  EXPECT_EQ(stale.headers.get("Berth-Cache"), "stale");
  EXPECT_TRUE(stale.headers.get("Warning").value_or("").starts_with("110")) << describe(stale);
  berth.client.verify_image("cache/team/app", image);
  EXPECT_NE(berth.process.log().find("stale"), std::string::npos);

  auto uncached = berth.client.get_manifest("cache/team/other", "v1");
  EXPECT_EQ(uncached.status, 503u) << describe(uncached);
  EXPECT_EQ(error_code(uncached), "UNAVAILABLE");
  EXPECT_NE(uncached.body.find(upstream.url()), std::string::npos) << describe(uncached);
}

TEST_F(PullThrough, TagTtlRechecksWithAHeadAndFollowsAMovedTag) {
  push_upstream(upstream, "team/moving", "v1");
  CachingBerth berth(upstream.url(), "    manifest_ttl: 2s\n");
  const std::string head_path = "/v2/team/moving/manifests/v1";
  ASSERT_EQ(berth.client.get_manifest("cache/team/moving", "v1").status, 200u);
  const int heads = upstream.count("HEAD", head_path);
  ASSERT_EQ(berth.client.get_manifest("cache/team/moving", "v1").headers.get("Berth-Cache"), "hit");
  EXPECT_EQ(upstream.count("HEAD", head_path), heads) << "within the TTL the upstream is not asked";
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  auto checked = berth.client.get_manifest("cache/team/moving", "v1");
  EXPECT_EQ(checked.headers.get("Berth-Cache"), "hit");
  EXPECT_EQ(upstream.count("HEAD", head_path), heads + 1) << "after the TTL: one HEAD";
  EXPECT_EQ(upstream.count("GET", "/v2/team/moving/manifests/v1"), 0);

  auto moved = push_upstream(upstream, "team/moving", "v1");
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  auto fresh = berth.client.get_manifest("cache/team/moving", "v1");
  EXPECT_EQ(fresh.headers.get("Berth-Cache"), "miss");
  EXPECT_EQ(fresh.body, moved.manifest);
}

TEST_F(PullThrough, PullingThroughTheCacheNeedsPullRights) {
  auto image = push_upstream(upstream, "team/app", "v1");
  CachingBerth berth(upstream.url(), "", {{"BERTH_ADMIN_PASSWORD", "admin-secret"}});
  auto anonymous = berth.client.get_manifest("cache/team/app", "v1");
  EXPECT_EQ(anonymous.status, 401u) << describe(anonymous);
  berth.client.http().set_default_headers(
      {{"Authorization", basic_header("admin", "admin-secret")}});
  auto admin = berth.client.get_manifest("cache/team/app", "v1");
  EXPECT_EQ(admin.status, 200u) << describe(admin);
  berth.client.verify_image("cache/team/app", image);
}

TEST(PullThroughBerth, AnUpstreamBerthWithTokenAuthIsCached) {
  // The upstream: a berth with access control, so the proxy goes through the token dance.
  BerthProcess upstream(
      BerthOptions{.data = {}, .args = {}, .env = {{"BERTH_ADMIN_PASSWORD", "up-admin"}}});
  RegistryClient pusher("127.0.0.1", upstream.port());
  pusher.http().set_default_headers({{"Authorization", basic_header("admin", "up-admin")}});
  auto image = pusher.push_image("team/app", "v1", ImageOptions().with_layers(2));
  // Anonymous access to the upstream is refused: only the token dance gets through.
  RegistryClient anonymous("127.0.0.1", upstream.port());
  ASSERT_EQ(anonymous.get_manifest("team/app", "v1").status, 401u);

  CachingBerth berth("http://127.0.0.1:" + std::to_string(upstream.port()), "", {}, "admin",
                     "up-admin");
  auto manifest = berth.client.get_manifest("cache/team/app", "v1");
  ASSERT_EQ(manifest.status, 200u) << describe(manifest) << berth.process.log();
  EXPECT_EQ(manifest.body, image.manifest);
  berth.client.verify_image("cache/team/app", image);
}

}  // namespace
}  // namespace berth::testing
