// A byte-bounded LRU cache of manifest bytes by digest. Manifests are immutable per digest,
// so an entry can never be stale; whether a repository may see it is decided before the
// cache is asked.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace berth::registry {

class ManifestCache {
 public:
  explicit ManifestCache(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}

  std::shared_ptr<const std::string> get(const std::string& digest);
  void put(const std::string& digest, std::shared_ptr<const std::string> bytes);
  std::size_t size_bytes() const;

 private:
  struct Entry {
    std::string digest;
    std::shared_ptr<const std::string> bytes;
  };
  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::size_t used_ = 0;
  std::list<Entry> lru_;  // front: most recently used
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace berth::registry
