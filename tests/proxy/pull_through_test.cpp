// Proxy projects end to end: berth caching an upstream Distribution (htpasswd auth) or an
// upstream berth (token auth). Pulls through the cache are byte-identical, 32 concurrent cold
// pulls cost one upstream request per blob, an upstream killed mid-blob leaves nothing
// corrupt, and an upstream that is down still lets cached images pull. Overlay projects take
// pushes and fall back to the upstream; the mirror serves docker's `registry-mirrors` requests
// (upstream names, no project) beside hosted projects.
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
  EXPECT_NE(post.body.find("pull-through cache"), std::string::npos) << describe(post);
  auto put = berth.client.http().put("/v2/cache/team/app/manifests/v1", "{}",
                                     {{"Content-Type", std::string(media_types::kOciManifest)}});
  EXPECT_EQ(put.status, 403u) << describe(put);
}

// The refusal names the upstream: with access control on, only a caller who could push into
// the project otherwise hears it; anyone else is asked to authenticate, as for any push.
TEST_F(PullThrough, OnlyACallerWhoCouldPushLearnsTheProjectIsACache) {
  CachingBerth berth(upstream.url(), "", {{"BERTH_ADMIN_PASSWORD", "admin-secret"}});
  auto anonymous = berth.client.http().post("/v2/cache/team/app/blobs/uploads/", "");
  EXPECT_EQ(anonymous.status, 401u) << describe(anonymous);
  EXPECT_EQ(anonymous.body.find(upstream.url()), std::string::npos) << describe(anonymous);
  auto wrong = berth.client.http().post("/v2/cache/team/app/blobs/uploads/", "",
                                        {{"Authorization", basic_header("admin", "wrong")}});
  EXPECT_EQ(wrong.status, 401u) << describe(wrong);
  EXPECT_EQ(wrong.body.find(upstream.url()), std::string::npos) << describe(wrong);

  auto admin = berth.client.http().post("/v2/cache/team/app/blobs/uploads/", "",
                                        {{"Authorization", basic_header("admin", "admin-secret")}});
  EXPECT_EQ(admin.status, 403u) << describe(admin);
  EXPECT_NE(admin.body.find("pull-through cache of " + upstream.url()), std::string::npos)
      << describe(admin);
}

// Credentials belong in username/password: in the URL they would show in logs, `config show`
// and error messages, so such a URL is refused, and never echoed.
TEST_F(PullThrough, UpstreamUrlWithCredentialsIsRefusedAndTheSecretShownNowhere) {
  TempDir dir;
  const std::string with_secret = "http://" + std::string(kUpstreamUser) + ":" + kUpstreamPassword +
                                  "@127.0.0.1:" + std::to_string(upstream.port());
  const auto config = write_proxy_config(dir.path(), "cache", with_secret, "", "", "");
  BerthCommand serve({"serve", "--listen", "127.0.0.1:0", "--data", (dir.path() / "data").string(),
                      "--config", config.string()});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (serve.running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const bool refused = !serve.running();
  const CommandResult served = refused ? serve.wait() : serve.kill();
  ASSERT_TRUE(refused) << "berth started with credentials in the upstream URL:\n" << served.err;
  EXPECT_NE(served.status, 0);
  EXPECT_NE(served.err.find("carries credentials"), std::string::npos) << served.err;
  const CommandResult shown = run_berth({"config", "show", "--config", config.string()});
  for (const CommandResult* result : {&served, &shown}) {
    EXPECT_EQ((result->out + result->err).find(kUpstreamPassword), std::string::npos)
        << result->out << result->err;
  }

  // The password in its own key is used, and shown nowhere either.
  const auto proper = write_proxy_config(dir.path(), "cache", upstream.url());
  auto listed = run_berth({"config", "show", "--config", proper.string()});
  EXPECT_EQ(listed.status, 0) << listed.err;
  EXPECT_NE(listed.out.find("username: upstream"), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find(kUpstreamPassword), std::string::npos) << listed.out;
  CachingBerth berth(upstream.url());
  auto image = push_upstream(upstream, "team/app", "v1");
  berth.client.verify_image("cache/team/app", image);
  EXPECT_EQ(berth.process.log().find(kUpstreamPassword), std::string::npos);
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
  ASSERT_NE(berth.process.log().find(began), std::string::npos) << "the fetch never began:\n"
                                                                << berth.process.log();
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

// A TTL of 0 checks the tag on every pull, so the upstream's absence shows at once (how TTLs
// and max_staleness count time is proxy_test's, on a fake clock).
TEST_F(PullThrough, UpstreamDownServesCachedImagesStaleAndRefusesUncachedClearly) {
  auto image = push_upstream(upstream, "team/app", "v1");
  push_upstream(upstream, "team/other", "v1");
  CachingBerth berth(upstream.url(), "    manifest_ttl: 0\n    max_staleness: 1h\n");
  berth.client.verify_image("cache/team/app", image);
  ASSERT_EQ(berth.client.get_manifest("cache/team/app", "v1").status, 200u);
  // Checked upstream (TTL 0), unchanged.
  auto checked = berth.client.get_manifest("cache/team/app", "v1");
  ASSERT_EQ(checked.status, 200u);
  EXPECT_EQ(checked.headers.get("Berth-Cache"), "hit");

  upstream.kill();
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

// The configured TTL reaches the cache: within it (1 h here) a tag is not checked upstream...
TEST_F(PullThrough, TagWithinItsTtlIsServedWithoutAskingTheUpstream) {
  push_upstream(upstream, "team/steady", "v1");
  CachingBerth berth(upstream.url(), "    manifest_ttl: 1h\n");
  const std::string head_path = "/v2/team/steady/manifests/v1";
  ASSERT_EQ(berth.client.get_manifest("cache/team/steady", "v1").status, 200u);
  const int heads = upstream.count("HEAD", head_path);
  ASSERT_EQ(berth.client.get_manifest("cache/team/steady", "v1").headers.get("Berth-Cache"), "hit");
  EXPECT_EQ(upstream.count("HEAD", head_path), heads) << "within the TTL the upstream is not asked";
}

// ...and past it (at once, with a TTL of 0) one HEAD checks the tag, and a moved tag is fetched.
TEST_F(PullThrough, ExpiredTagIsCheckedWithAHeadAndFollowsAMovedTag) {
  push_upstream(upstream, "team/moving", "v1");
  CachingBerth berth(upstream.url(), "    manifest_ttl: 0\n");
  const std::string head_path = "/v2/team/moving/manifests/v1";
  ASSERT_EQ(berth.client.get_manifest("cache/team/moving", "v1").status, 200u);
  const int heads = upstream.count("HEAD", head_path, "200");
  auto checked = berth.client.get_manifest("cache/team/moving", "v1");
  EXPECT_EQ(checked.headers.get("Berth-Cache"), "hit");
  EXPECT_EQ(upstream.count("HEAD", head_path, "200"), heads + 1) << "past the TTL: one HEAD";
  EXPECT_EQ(upstream.count("GET", "/v2/team/moving/manifests/v1"), 0);

  auto moved = push_upstream(upstream, "team/moving", "v1");
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

// An overlay project: pushes land locally, everything else comes from the upstream, and a
// push over an upstream tag is logged and wins from then on.
TEST_F(PullThrough, OverlayProjectTakesPushesAndFallsBackToTheUpstream) {
  auto upstream_image = push_upstream(upstream, "team/app", "v1");
  CachingBerth berth(upstream.url(), "    overlay: yes\n");

  auto mine = berth.client.push_image("cache/team/mine", "v1", ImageOptions().with_layers(2));
  berth.client.verify_image("cache/team/mine", mine);
  auto pulled_mine = berth.client.get_manifest("cache/team/mine", "v1");
  EXPECT_FALSE(pulled_mine.headers.get("Berth-Cache")) << describe(pulled_mine);
  EXPECT_EQ(upstream.count("GET", "/v2/team/mine/manifests/v1"), 0);

  auto fallback = berth.client.get_manifest("cache/team/app", "v1");
  ASSERT_EQ(fallback.status, 200u) << describe(fallback);
  EXPECT_EQ(fallback.body, upstream_image.manifest);
  EXPECT_EQ(fallback.headers.get("Berth-Cache"), "miss");
  berth.client.verify_image("cache/team/app", upstream_image);
  EXPECT_EQ(berth.process.log().find("shadows"), std::string::npos);

  auto shadowing = berth.client.push_image("cache/team/app", "v1");
  // Logged after the push was answered, once the upstream has answered a HEAD.
  const std::string shadowed =
      "the push of cache/team/app:v1 shadows team/app:v1 of " + upstream.url();
  for (int i = 0; i < 100 && berth.process.log().find(shadowed) == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(berth.process.log().find(shadowed), std::string::npos) << berth.process.log();
  auto after = berth.client.get_manifest("cache/team/app", "v1");
  ASSERT_EQ(after.status, 200u) << describe(after);
  EXPECT_EQ(after.body, shadowing.manifest);
  EXPECT_FALSE(after.headers.get("Berth-Cache"));
  berth.client.verify_image("cache/team/app", shadowing);
  // The upstream's manifest stays pullable by digest.
  auto by_digest = berth.client.get_manifest("cache/team/app", upstream_image.digest);
  EXPECT_EQ(by_digest.status, 200u) << describe(by_digest);
}

// Docker's registry-mirrors sends the upstream's names (library/alpine) with no project;
// containerd adds ?ns=. Names of projects and repositories here are never sent upstream.
TEST_F(PullThrough, MirrorServesUpstreamNamesBesideHostedProjects) {
  auto image = push_upstream(upstream, "library/app", "v1", 2);
  CachingBerth berth(upstream.url(), "    mirror: yes\n");

  auto mirrored = berth.client.get_manifest("library/app", "v1");
  ASSERT_EQ(mirrored.status, 200u) << describe(mirrored) << berth.process.log();
  EXPECT_EQ(mirrored.body, image.manifest);
  EXPECT_EQ(mirrored.headers.get("Berth-Cache"), "miss");
  berth.client.verify_image("library/app", image);
  // The same cache as under the project's own name.
  auto by_project = berth.client.get_manifest("cache/library/app", "v1");
  EXPECT_EQ(by_project.headers.get("Berth-Cache"), "hit") << describe(by_project);
  auto by_ns = berth.client.http().get("/v2/library/app/manifests/v1?ns=127.0.0.1:" +
                                       std::to_string(upstream.port()));
  EXPECT_EQ(by_ns.status, 200u) << describe(by_ns);
  EXPECT_EQ(upstream.count("GET", "/v2/library/app/manifests/" + image.digest), 1);

  // A hosted project: pushes are not mirrored, and its names never go upstream.
  auto hosted = berth.client.push_image("team/app", "v1");
  berth.client.verify_image("team/app", hosted);
  auto unknown_here = berth.client.get_manifest("team/none", "v1");
  EXPECT_EQ(unknown_here.status, 404u) << describe(unknown_here);
  EXPECT_EQ(upstream.count("HEAD", "/v2/team/none/manifests/v1") +
                upstream.count("GET", "/v2/team/none/manifests/v1"),
            0);
}

TEST_F(PullThrough, MirrorTokensGrantTheNameDockerAsksFor) {
  auto image = push_upstream(upstream, "library/app", "v1");
  CachingBerth berth(upstream.url(), "    mirror: yes\n",
                     {{"BERTH_ADMIN_PASSWORD", "admin-secret"}});
  auto anonymous = berth.client.get_manifest("library/app", "v1");
  ASSERT_EQ(anonymous.status, 401u) << describe(anonymous);
  // The challenge names the repository the request is served from.
  EXPECT_NE(anonymous.headers.get("WWW-Authenticate")
                .value_or("")
                .find("repository:cache/library/app:pull"),
            std::string::npos)
      << describe(anonymous);
  // Docker asks for a token for the name it pulls.
  auto token =
      berth.client.http().get("/token?service=berth&scope=repository%3Alibrary%2Fapp%3Apull",
                              {{"Authorization", basic_header("admin", "admin-secret")}});
  ASSERT_EQ(token.status, 200u) << describe(token);
  const auto start = token.body.find("\"token\":\"");
  ASSERT_NE(start, std::string::npos) << token.body;
  const auto value = start + 9;
  const std::string bearer = token.body.substr(value, token.body.find('"', value) - value);
  berth.client.http().set_default_headers({{"Authorization", "Bearer " + bearer}});
  auto pulled = berth.client.get_manifest("library/app", "v1");
  ASSERT_EQ(pulled.status, 200u) << describe(pulled);
  EXPECT_EQ(pulled.body, image.manifest);
  berth.client.verify_image("library/app", image);
}

}  // namespace
}  // namespace berth::testing
