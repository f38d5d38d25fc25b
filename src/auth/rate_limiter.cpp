// Sliding-window counting of failed logins. Each key keeps the times of its newest failures
// (at most its limit), so a key costs a few hundred bytes whatever an attacker does; keys
// are ordered by their last failure so that expired ones are pruned, and the least recently
// failing one evicted, in constant time.
#include "auth/rate_limiter.hpp"

#include <algorithm>

#include "auth/password.hpp"

namespace berth::auth {
namespace {

// User names and forwarded addresses come from the client: past this length a key is
// replaced by its hash, so that a key's size is bounded too.
constexpr std::size_t kMaxKeyLength = 128;

std::string make_key(std::string_view kind, const std::string& value) {
  if (value.size() + kind.size() <= kMaxKeyLength) {
    return std::string(kind) + value;
  }
  return std::string(kind) + "#" + token_hash(value);
}

}  // namespace

LoginRateLimiter::LoginRateLimiter(RateLimitOptions options, const core::Clock& clock)
    : options_(options), clock_(clock) {}

std::optional<std::chrono::seconds> LoginRateLimiter::check(const std::string& address,
                                                            const std::string& user) {
  const core::TimePoint now = clock_.now();
  std::optional<core::TimePoint> until;
  std::lock_guard lock(mutex_);
  for (const auto& [value, kind, limit] :
       {std::tuple{&address, "addr:", options_.max_failures_per_address},
        std::tuple{&user, "user:", options_.max_failures_per_user}}) {
    if (value->empty() || limit == 0) {
      continue;
    }
    if (auto blocked = blocked_until_locked(make_key(kind, *value), limit, now)) {
      until = std::max(until.value_or(*blocked), *blocked);
    }
  }
  if (!until) {
    return std::nullopt;
  }
  // At least a second: "Retry-After: 0" would invite an immediate retry that is refused.
  return std::max(std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(*until - now));
}

void LoginRateLimiter::record_failure(const std::string& address, const std::string& user) {
  const core::TimePoint now = clock_.now();
  std::lock_guard lock(mutex_);
  if (!address.empty() && options_.max_failures_per_address > 0) {
    record_locked(make_key("addr:", address), options_.max_failures_per_address, now);
  }
  if (!user.empty() && options_.max_failures_per_user > 0) {
    record_locked(make_key("user:", user), options_.max_failures_per_user, now);
  }
}

std::size_t LoginRateLimiter::tracked_keys() const {
  std::lock_guard lock(mutex_);
  return failures_.size();
}

std::optional<core::TimePoint> LoginRateLimiter::blocked_until_locked(const std::string& key,
                                                                      std::size_t limit,
                                                                      core::TimePoint now) {
  auto it = failures_.find(key);
  if (it == failures_.end()) {
    return std::nullopt;
  }
  auto& failures = it->second.failures;
  const core::TimePoint horizon = now - options_.window;
  failures.erase(failures.begin(), std::find_if(failures.begin(), failures.end(),
                                                [&](core::TimePoint t) { return t > horizon; }));
  if (failures.empty()) {
    erase_locked(it);
    return std::nullopt;
  }
  if (failures.size() < limit) {
    return std::nullopt;
  }
  // A clock that stepped back could put this past a whole window; never ask for more.
  return std::min(failures.front() + options_.window, now + options_.window);
}

void LoginRateLimiter::record_locked(const std::string& key, std::size_t limit,
                                     core::TimePoint now) {
  const core::TimePoint horizon = now - options_.window;
  auto it = failures_.find(key);
  if (it == failures_.end()) {
    // Keys whose newest failure left the window hold nothing; they go first.
    while (!by_last_failure_.empty()) {
      auto oldest = failures_.find(*by_last_failure_.front());
      if (oldest->second.failures.back() > horizon &&
          failures_.size() < options_.max_tracked_keys) {
        break;
      }
      erase_locked(oldest);
    }
    it = failures_.try_emplace(key).first;
    it->second.position = by_last_failure_.insert(by_last_failure_.end(), &it->first);
  } else {
    by_last_failure_.splice(by_last_failure_.end(), by_last_failure_, it->second.position);
  }
  auto& failures = it->second.failures;
  failures.erase(failures.begin(), std::find_if(failures.begin(), failures.end(),
                                                [&](core::TimePoint t) { return t > horizon; }));
  failures.push_back(now);
  if (failures.size() > limit) {
    failures.erase(failures.begin(), failures.end() - static_cast<std::ptrdiff_t>(limit));
  }
}

void LoginRateLimiter::erase_locked(std::unordered_map<std::string, Entry>::iterator it) {
  by_last_failure_.erase(it->second.position);
  failures_.erase(it);
}

}  // namespace berth::auth
