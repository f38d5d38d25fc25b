#include "registry/manifest_cache.hpp"

#include <gtest/gtest.h>

namespace berth::registry {
namespace {

std::shared_ptr<const std::string> bytes(std::size_t n, char c) {
  return std::make_shared<const std::string>(n, c);
}

TEST(ManifestCacheTest, ReturnsWhatWasPut) {
  ManifestCache cache(100);
  cache.put("a", bytes(10, 'a'));
  ASSERT_NE(cache.get("a"), nullptr);
  EXPECT_EQ(*cache.get("a"), std::string(10, 'a'));
  EXPECT_EQ(cache.get("b"), nullptr);
}

TEST(ManifestCacheTest, EvictsLeastRecentlyUsedBeyondCapacity) {
  ManifestCache cache(30);
  cache.put("a", bytes(10, 'a'));
  cache.put("b", bytes(10, 'b'));
  cache.put("c", bytes(10, 'c'));
  ASSERT_NE(cache.get("a"), nullptr);  // a is now the most recent
  cache.put("d", bytes(10, 'd'));      // evicts b
  EXPECT_EQ(cache.get("b"), nullptr);
  EXPECT_NE(cache.get("a"), nullptr);
  EXPECT_NE(cache.get("c"), nullptr);
  EXPECT_NE(cache.get("d"), nullptr);
  EXPECT_LE(cache.size_bytes(), 30u);
}

TEST(ManifestCacheTest, IgnoresEntriesLargerThanTheWholeCache) {
  ManifestCache cache(5);
  cache.put("big", bytes(6, 'x'));
  EXPECT_EQ(cache.get("big"), nullptr);
  EXPECT_EQ(cache.size_bytes(), 0u);
}

}  // namespace
}  // namespace berth::registry
