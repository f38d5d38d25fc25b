#include "registry/manifest_cache.hpp"

namespace berth::registry {

std::shared_ptr<const std::string> ManifestCache::get(const std::string& digest) {
  std::lock_guard lock(mutex_);
  auto it = index_.find(digest);
  if (it == index_.end()) {
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->bytes;
}

void ManifestCache::put(const std::string& digest, std::shared_ptr<const std::string> bytes) {
  if (!bytes || bytes->size() > capacity_) {
    return;
  }
  std::lock_guard lock(mutex_);
  if (index_.contains(digest)) {
    return;
  }
  used_ += bytes->size();
  lru_.push_front(Entry{digest, std::move(bytes)});
  index_.emplace(digest, lru_.begin());
  while (used_ > capacity_ && !lru_.empty()) {
    auto& victim = lru_.back();
    used_ -= victim.bytes->size();
    index_.erase(victim.digest);
    lru_.pop_back();
  }
}

std::size_t ManifestCache::size_bytes() const {
  std::lock_guard lock(mutex_);
  return used_;
}

}  // namespace berth::registry
