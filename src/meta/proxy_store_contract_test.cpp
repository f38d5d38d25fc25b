// The ProxyStore contract suite (proxy_store.hpp): cached tags and partial manifests, and that
// both survive closing and reopening the database (what a restart of the server does). Run
// against every implementation that keeps its state across a reopening: SQLite in a file and
// PostgreSQL.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "testing/store_openers.hpp"

namespace berth::meta {
namespace {

using namespace std::chrono_literals;

core::RepositoryName repo(const std::string& name) { return *core::RepositoryName::parse(name); }
core::Tag tag(const std::string& name) { return *core::Tag::parse(name); }
core::Digest digest(const std::string& bytes) { return core::Digest::of(bytes); }
core::TimePoint at(std::int64_t ms) { return core::from_unix_ms(ms); }

class ProxyStoreContract : public StoresContract {
 protected:
  ProxyStore& store() { return *stores_.proxy; }
};

TEST_P(ProxyStoreContract, CachedTagIsRecordedReplacedAndForgotten) {
  EXPECT_FALSE(store().cached_tag(repo("hub/library/alpine"), tag("3.20")).value());

  ASSERT_TRUE(store().put_cached_tag(repo("hub/library/alpine"), tag("3.20"),
                                     CachedTag{digest("one"), at(1000)}));
  auto found = store().cached_tag(repo("hub/library/alpine"), tag("3.20")).value();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->digest, digest("one"));
  EXPECT_EQ(found->checked, at(1000));
  // Other tags and repositories are separate.
  EXPECT_FALSE(store().cached_tag(repo("hub/library/alpine"), tag("3.21")).value());
  EXPECT_FALSE(store().cached_tag(repo("hub/library/busybox"), tag("3.20")).value());

  ASSERT_TRUE(store().put_cached_tag(repo("hub/library/alpine"), tag("3.20"),
                                     CachedTag{digest("two"), at(2000)}));
  found = store().cached_tag(repo("hub/library/alpine"), tag("3.20")).value();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->digest, digest("two"));
  EXPECT_EQ(found->checked, at(2000));

  ASSERT_TRUE(store().forget_cached_tag(repo("hub/library/alpine"), tag("3.20")));
  EXPECT_FALSE(store().cached_tag(repo("hub/library/alpine"), tag("3.20")).value());
  // Forgetting what is not there is not an error.
  EXPECT_TRUE(store().forget_cached_tag(repo("hub/library/alpine"), tag("3.20")));
}

TEST_P(ProxyStoreContract, PartialManifestsAreListedOldestFirstAndExpire) {
  const auto r = repo("hub/app");
  ASSERT_TRUE(store().put_partial_manifest(r, digest("b"), at(2000)));
  ASSERT_TRUE(store().put_partial_manifest(r, digest("a"), at(1000)));
  ASSERT_TRUE(store().put_partial_manifest(repo("hub/other"), digest("c"), at(3000)));

  auto listed = store().partial_manifests(r, at(0)).value();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0], digest("a"));
  EXPECT_EQ(listed[1], digest("b"));

  // Older than `since`: dropped for good.
  listed = store().partial_manifests(r, at(1500)).value();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0], digest("b"));
  EXPECT_EQ(store().partial_manifests(r, at(0)).value().size(), 1u);

  ASSERT_TRUE(store().forget_partial_manifest(r, digest("b")));
  EXPECT_TRUE(store().partial_manifests(r, at(0)).value().empty());
  EXPECT_EQ(store().partial_manifests(repo("hub/other"), at(0)).value().size(), 1u);
}

TEST_P(ProxyStoreContract, FindsARepositoryOfTheProjectLinkingABlob) {
  const BlobRef layer{digest("layer"), 5};
  EXPECT_FALSE(store().repository_linking("hub", layer.digest).value());
  // Another project's link, and a project whose name starts like this one's, do not count.
  ASSERT_TRUE(stores_.metadata->link_blob(repo("team/app"), layer, at(1)));
  ASSERT_TRUE(stores_.metadata->link_blob(repo("hubble/app"), layer, at(1)));
  ASSERT_TRUE(stores_.metadata->link_blob(repo("hub"), BlobRef{digest("other"), 5}, at(1)));
  EXPECT_FALSE(store().repository_linking("hub", layer.digest).value());

  ASSERT_TRUE(stores_.metadata->link_blob(repo("hub/library/b"), layer, at(1)));
  ASSERT_TRUE(stores_.metadata->link_blob(repo("hub/library/a"), layer, at(1)));
  auto found = store().repository_linking("hub", layer.digest).value();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->str(), "hub/library/a");

  ASSERT_TRUE(stores_.metadata->unlink_blob(repo("hub/library/a"), layer.digest));
  EXPECT_EQ(store().repository_linking("hub", layer.digest).value()->str(), "hub/library/b");
}

TEST_P(ProxyStoreContract, StateSurvivesReopening) {
  ASSERT_TRUE(store().put_cached_tag(repo("hub/app"), tag("v1"), CachedTag{digest("m"), at(5)}));
  ASSERT_TRUE(store().put_partial_manifest(repo("hub/app"), digest("m"), at(7)));
  open();
  auto found = store().cached_tag(repo("hub/app"), tag("v1")).value();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->digest, digest("m"));
  EXPECT_EQ(store().partial_manifests(repo("hub/app"), at(0)).value().size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ProxyStoreContract,
                         ::testing::Values(Backend{"SqliteFile", sqlite_file}),
                         [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(Postgres, ProxyStoreContract,
                         ::testing::Values(Backend{"Postgres", postgres}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace berth::meta
