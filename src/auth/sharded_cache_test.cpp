// The bounded map under the auth caches: bounds, stale entries dropped on lookup, erase_if,
// and that a key put again is not evicted for its older place in the order.
#include "auth/sharded_cache.hpp"

#include <gtest/gtest.h>

#include <string>

namespace berth::auth {
namespace {

TEST(ShardedCache, FindsWhatWasPutAndReplacesAValue) {
  ShardedCache<int> cache(64);
  cache.put("a", 1);
  cache.put("b", 2);
  auto any = [](int) { return true; };
  EXPECT_EQ(cache.find("a", any), 1);
  EXPECT_EQ(cache.find("b", any), 2);
  EXPECT_EQ(cache.find("c", any), std::nullopt);
  cache.put("a", 3);
  EXPECT_EQ(cache.find("a", any), 3);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(ShardedCache, AStaleEntryIsDroppedWhenFound) {
  ShardedCache<int> cache(64);
  cache.put("a", 1);
  EXPECT_EQ(cache.find("a", [](int value) { return value != 1; }), std::nullopt);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.find("a", [](int) { return true; }), std::nullopt);
}

TEST(ShardedCache, NeverHoldsMoreThanItsCapacityAndKeepsTheNewest) {
  ShardedCache<int> cache(ShardedCache<int>::kShards * 4);
  for (int i = 0; i < 10'000; ++i) {
    cache.put("key-" + std::to_string(i), i);
    ASSERT_LE(cache.size(), cache.capacity());
  }
  EXPECT_EQ(cache.capacity(), ShardedCache<int>::kShards * 4);
  // Each shard evicts its oldest: the last key put is always there.
  EXPECT_EQ(cache.find("key-9999", [](int) { return true; }), 9999);
  EXPECT_EQ(cache.find("key-0", [](int) { return true; }), std::nullopt);
}

TEST(ShardedCache, AKeyPutAgainKeepsItsPlaceAsTheNewest) {
  // One entry per shard: a second key in a shard evicts the first, unless the first was put
  // again since (its old place in the order must not evict it).
  ShardedCache<int> cache(ShardedCache<int>::kShards);
  auto any = [](int) { return true; };
  for (int round = 0; round < 100; ++round) {
    cache.put("hot", round);
  }
  EXPECT_EQ(cache.find("hot", any), 99);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(ShardedCache, EraseIfDropsTheMatchingValuesOnly) {
  ShardedCache<int> cache(64);
  for (int i = 0; i < 20; ++i) {
    cache.put(std::to_string(i), i);
  }
  cache.erase_if([](int value) { return value % 2 == 0; });
  EXPECT_EQ(cache.size(), 10u);
  EXPECT_EQ(cache.find("3", [](int) { return true; }), 3);
  EXPECT_EQ(cache.find("4", [](int) { return true; }), std::nullopt);
}

}  // namespace
}  // namespace berth::auth
