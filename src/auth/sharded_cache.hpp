// A bounded map from a string key to a value: what the auth layer's caches (token_cache,
// account_cache, credential_cache) keep their entries in.
//
// Request threads look entries up all the time and rarely add one, so the map is split into
// shards, each behind its own mutex held only for the map operation (never across I/O or a
// check of a secret): two requests wait on each other only when their keys fall in one shard.
// A full shard evicts its oldest entry (in insertion order). Every cache here keeps an entry
// for a fixed lifetime or for one account version, so the oldest is the next to go stale
// anyway, and first-in-first-out costs nothing on a hit (an LRU would write on every hit).
// Eviction is by insertion sequence: an entry replaced or dropped since leaves its place in
// the order behind, and those places are swept once the order holds twice the shard's size.
//
// Thread-safe. Values are copied out, so keep them small or behind a shared_ptr.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace berth::auth {

template <class Value>
class ShardedCache {
 public:
  static constexpr std::size_t kShards = 16;

  // `capacity` entries in all (at least one per shard).
  explicit ShardedCache(std::size_t capacity)
      : per_shard_(capacity / kShards > 0 ? capacity / kShards : 1) {}
  ShardedCache(const ShardedCache&) = delete;
  ShardedCache& operator=(const ShardedCache&) = delete;

  // A copy of the value under `key`, if there is one and `good(value)` says it still holds; one
  // that does not is dropped.
  template <class Good>
  [[nodiscard]] std::optional<Value> find(std::string_view key, Good&& good) {
    Shard& shard = shard_of(key);
    std::lock_guard lock(shard.mutex);
    auto it = shard.entries.find(key);
    if (it == shard.entries.end()) {
      return std::nullopt;
    }
    if (!good(it->second.value)) {
      shard.entries.erase(it);
      return std::nullopt;
    }
    return it->second.value;
  }

  // Adds or replaces the value under `key`, evicting the shard's oldest entry when it is full.
  void put(std::string key, Value value) {
    Shard& shard = shard_of(key);
    std::lock_guard lock(shard.mutex);
    const std::uint64_t sequence = ++shard.last;
    shard.entries.insert_or_assign(key, Entry{std::move(value), sequence});
    shard.order.emplace_back(std::move(key), sequence);
    while (shard.entries.size() > per_shard_ && !shard.order.empty()) {
      auto [oldest, placed] = std::move(shard.order.front());
      shard.order.pop_front();
      auto found = shard.entries.find(oldest);
      if (found != shard.entries.end() && found->second.sequence == placed) {
        shard.entries.erase(found);
      }
    }
    if (shard.order.size() > 2 * per_shard_) {
      sweep(shard);
    }
  }

  // Drops every entry whose value `gone(value)` says so.
  template <class Gone>
  void erase_if(Gone&& gone) {
    for (Shard& shard : shards_) {
      std::lock_guard lock(shard.mutex);
      std::erase_if(shard.entries, [&](const auto& item) { return gone(item.second.value); });
    }
  }

  [[nodiscard]] std::size_t size() const {
    std::size_t total = 0;
    for (const Shard& shard : shards_) {
      std::lock_guard lock(shard.mutex);
      total += shard.entries.size();
    }
    return total;
  }

  [[nodiscard]] std::size_t capacity() const { return per_shard_ * kShards; }

 private:
  struct Entry {
    Value value;
    // When it was put, to tell its place in `order` from those of values it replaced.
    std::uint64_t sequence = 0;
  };
  // Finds std::string keys by std::string_view without making a string.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const {
      return std::hash<std::string_view>{}(key);
    }
  };
  struct Shard {
    mutable std::mutex mutex;  // guards everything below
    std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries;
    // Keys in insertion order, each with the sequence it was put with.
    std::deque<std::pair<std::string, std::uint64_t>> order;
    std::uint64_t last = 0;
  };

  Shard& shard_of(std::string_view key) {
    // The map hashes the key again; the shard takes high bits so that the two do not agree.
    return shards_[(Hash{}(key) >> 20) % kShards];
  }

  // Keeps only the places of entries still in the map.
  static void sweep(Shard& shard) {
    std::erase_if(shard.order, [&](const auto& place) {
      auto found = shard.entries.find(place.first);
      return found == shard.entries.end() || found->second.sequence != place.second;
    });
  }

  const std::size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace berth::auth
