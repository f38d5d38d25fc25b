// Cached content and the lifecycle: in a proxy project, images nobody pulls any more are
// deleted by the project's retention policy (not_pulled_days) and their blobs by garbage
// collection, like in any project, while what is still pulled stays; a deleted image is
// fetched again on its next pull. The proxy, registry, retention and collector run in this
// process on a fake clock, so that days can pass; the stores are the real SQLite file and
// filesystem, the upstream a real Distribution (htpasswd auth).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "lifecycle/garbage_collector.hpp"
#include "lifecycle/registry_policy_impl.hpp"
#include "lifecycle/retention.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "proxy/proxy.hpp"
#include "proxy_support.hpp"
#include "storage/fs_blob_store.hpp"
#include "testing/fake_clock.hpp"

namespace berth::testing {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class CacheLifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    stores_ = std::move(
        *meta::open_sqlite_stores(meta::SqliteOptions{(dir_.path() / "metadata.db").string()}));
    blobs_ = std::move(*storage::open_fs_blob_store(dir_.path() / "blobs"));
    policy_ = std::make_unique<lifecycle::RegistryPolicyImpl>(*stores_.policies, *stores_.metadata,
                                                              clock_);
    registry_ = std::make_unique<registry::Registry>(*blobs_, *stores_.metadata, clock_,
                                                     registry::RegistryOptions{}, policy_.get());
    proxy::ProxyOptions options;
    options.project = "hub";
    options.upstream.url = upstream_.url();
    options.upstream.username = kUpstreamUser;
    options.upstream.password = kUpstreamPassword;
    auto made = proxy::ProxyProject::make(options, *registry_, *stores_.proxy, pool_, clock_);
    ASSERT_TRUE(made) << made.error().message;
    proxy_ = std::move(*made);
    ASSERT_TRUE(stores_.accounts->create_project(meta::Project{"hub", false, clock_.now()}));
  }

  // Pulls the image through the cache as a client would: the manifest by tag, then every blob
  // to its end. True when everything arrived.
  bool pull(const std::string& repo, const std::string& tag, const PushedImage& image) {
    auto body = [&]() -> asio::awaitable<bool> {
      const auto name = *core::RepositoryName::parse(repo);
      auto manifest = co_await proxy_->manifest(name, *core::Reference::parse(tag), false);
      if (!manifest || *manifest->bytes != image.manifest) {
        co_return false;
      }
      std::vector<std::string> digests{image.config.digest};
      for (const auto& layer : image.layers) {
        digests.push_back(layer.digest);
      }
      for (const auto& digest : digests) {
        auto answer = co_await proxy_->blob(name, *core::Digest::parse(digest), false);
        if (!answer) {
          co_return false;
        }
        if (answer->stream) {
          std::vector<std::byte> piece(64 * 1024);
          for (;;) {
            auto n = co_await answer->stream->next(piece);
            if (!n) {
              co_return false;
            }
            if (*n == 0) {
              break;
            }
          }
          co_await answer->stream->finish();
        }
      }
      co_return true;
    };
    asio::io_context io;
    auto done = asio::co_spawn(io, body(), asio::use_future);
    io.run();
    return done.get();
  }

  bool stored(const std::string& digest) {
    auto size = blobs_->stat(*core::Digest::parse(digest));
    EXPECT_TRUE(size) << size.error().message;
    return size && size->has_value();
  }

  DistributionProcess upstream_;
  TempDir dir_;
  FakeClock clock_;
  http::BlockingPool pool_{2};
  meta::SqliteStores stores_;
  std::unique_ptr<storage::BlobStore> blobs_;
  std::unique_ptr<lifecycle::RegistryPolicyImpl> policy_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<proxy::ProxyProject> proxy_;
};

TEST_F(CacheLifecycle, ImagesNotPulledForDaysAreDeletedAndCollectedThenFetchedAgain) {
  auto stale = push_upstream(upstream_, "team/old", "v1", 2);
  auto busy = push_upstream(upstream_, "team/busy", "v1", 2);
  ASSERT_TRUE(pull("hub/team/old", "v1", stale));
  ASSERT_TRUE(pull("hub/team/busy", "v1", busy));
  ASSERT_TRUE(policy_->flush());

  // Ten days on, only team/busy is still pulled (from the cache).
  clock_.advance(std::chrono::days(10));
  ASSERT_TRUE(pull("hub/team/busy", "v1", busy));
  ASSERT_TRUE(policy_->flush());
  EXPECT_EQ(upstream_.count("GET", "/v2/team/busy/blobs/" + busy.layers[0].digest), 1);

  meta::ProjectSettings settings;
  settings.retention_json = R"({"rules": {"not_pulled_days": 7}})";
  ASSERT_TRUE(stores_.policies->set_settings("hub", settings));
  lifecycle::Retention retention(*stores_.policies, clock_);
  auto outcome = retention.apply("hub");
  ASSERT_TRUE(outcome) << outcome.error().message;
  ASSERT_EQ(outcome->deleted.tags.size(), 1u);
  EXPECT_EQ(outcome->deleted.tags[0].repository.str(), "hub/team/old");
  EXPECT_EQ(outcome->deleted.tags[0].tag.str(), "v1");

  lifecycle::GarbageCollector collector(*stores_.gc, *blobs_, clock_);
  lifecycle::GcOptions gc;
  gc.blob_grace = 0ms;
  auto report = collector.run(gc);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(report->errors.empty());
  for (const auto& layer : stale.layers) {
    EXPECT_FALSE(stored(layer.digest)) << layer.digest;
  }
  EXPECT_FALSE(stored(stale.digest));
  for (const auto& layer : busy.layers) {
    EXPECT_TRUE(stored(layer.digest)) << layer.digest;
  }
  EXPECT_TRUE(stored(busy.digest));

  // The next pull of the deleted image goes to the upstream again, and is whole.
  ASSERT_TRUE(pull("hub/team/old", "v1", stale));
  EXPECT_EQ(upstream_.count("GET", "/v2/team/old/blobs/" + stale.layers[0].digest), 2);
  EXPECT_TRUE(stored(stale.layers[0].digest));
}

}  // namespace
}  // namespace berth::testing
