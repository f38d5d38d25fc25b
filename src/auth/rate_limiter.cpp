// Sliding-window counting of failed logins. Each key keeps the times of its newest failures
// (at most its limit) and a count of attempts in progress, so a key costs a few hundred bytes
// whatever an attacker does; keys are ordered by their last activity so that idle ones are
// pruned, and the least recently active one evicted, in constant time.
#include "auth/rate_limiter.hpp"

#include <algorithm>

namespace berth::auth {

LoginRateLimiter::LoginRateLimiter(RateLimitOptions options, const core::Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

std::vector<ThrottleKey> LoginRateLimiter::keys_of(const std::string& address,
                                                   const std::string& user) const {
  return throttle_keys(address, user, options_.max_failures_per_address,
                       options_.max_failures_per_user);
}

std::expected<LoginReservation, LoginRefusal> LoginRateLimiter::reserve(const std::string& address,
                                                                        const std::string& user) {
  const core::TimePoint now = clock_.now();
  const auto keys = keys_of(address, user);
  std::lock_guard lock(mutex_);
  std::optional<core::TimePoint> until;
  LoginRefusal refusal;
  for (const ThrottleKey& key : keys) {
    auto blocked = blocked_until_locked(key, now);
    if (!blocked) {
      continue;
    }
    until = std::max(until.value_or(*blocked), *blocked);
    const auto& failures = entries_.at(key.name).failures;
    if (!key.user.empty() && failures.size() >= key.limit) {
      refusal.user_failures_since = failures.front();
    }
  }
  if (until) {
    refusal.retry_after = whole_seconds_from(now, *until);
    return std::unexpected(refusal);
  }
  for (const ThrottleKey& key : keys) {
    ++touch_locked(key, now).pending;
  }
  return make_reservation(address, user);
}

bool LoginRateLimiter::admits(const std::string& address, const std::string& user) {
  const core::TimePoint now = clock_.now();
  const auto keys = keys_of(address, user);
  std::lock_guard lock(mutex_);
  return std::none_of(keys.begin(), keys.end(), [&](const ThrottleKey& key) {
    return blocked_until_locked(key, now).has_value();
  });
}

void LoginRateLimiter::settle(const std::string& address, const std::string& user,
                              const std::string& /*ticket*/, bool failed) {
  const core::TimePoint now = clock_.now();
  const auto keys = keys_of(address, user);
  std::vector<Lockout> lockouts;
  {
    std::lock_guard lock(mutex_);
    for (const ThrottleKey& key : keys) {
      // An evicted key has lost its reservation with it.
      if (auto it = entries_.find(key.name); it != entries_.end() && it->second.pending > 0) {
        --it->second.pending;
      }
      if (!failed) {
        if (auto it = entries_.find(key.name);
            it != entries_.end() && it->second.pending == 0 && it->second.failures.empty()) {
          erase_locked(it);
        }
        continue;
      }
      Entry& entry = touch_locked(key, now);
      prune_locked(entry, now);
      entry.failures.push_back(now);
      if (entry.failures.size() > key.limit) {
        entry.failures.erase(entry.failures.begin(),
                             entry.failures.end() - static_cast<std::ptrdiff_t>(key.limit));
      } else if (entry.failures.size() == key.limit) {
        lockouts.push_back(
            Lockout{address, key.user.empty() ? std::string() : user, key.limit,
                    whole_seconds_from(now, entry.failures.front() + options_.window)});
      }
    }
  }
  if (options_.on_lockout) {
    for (const Lockout& lockout : lockouts) {
      options_.on_lockout(lockout);
    }
  }
}

void LoginRateLimiter::unlock_user(const std::string& user, core::TimePoint until) {
  const std::string who = bounded_key_part(user);
  std::lock_guard lock(mutex_);
  // A scan: unlocking is an administrator's rare act, and the keys are bounded.
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    auto& entry = it->second;
    if (!entry.user.empty() && entry.user == who) {
      std::erase_if(entry.failures, [&](core::TimePoint t) { return t <= until; });
      if (entry.failures.empty() && entry.pending == 0) {
        erase_locked(it);
      }
    }
    it = next;
  }
}

std::size_t LoginRateLimiter::tracked_keys() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void LoginRateLimiter::prune_locked(Entry& entry, core::TimePoint now) const {
  const core::TimePoint horizon = now - options_.window;
  auto& failures = entry.failures;
  failures.erase(failures.begin(), std::find_if(failures.begin(), failures.end(),
                                                [&](core::TimePoint t) { return t > horizon; }));
}

std::optional<core::TimePoint> LoginRateLimiter::blocked_until_locked(const ThrottleKey& key,
                                                                      core::TimePoint now) {
  auto it = entries_.find(key.name);
  if (it == entries_.end()) {
    return std::nullopt;
  }
  Entry& entry = it->second;
  prune_locked(entry, now);
  if (entry.failures.empty() && entry.pending == 0) {
    erase_locked(it);
    return std::nullopt;
  }
  std::optional<core::TimePoint> oldest;
  if (!entry.failures.empty()) {
    oldest = entry.failures.front();
  }
  return auth::blocked_until(entry.failures.size(), entry.pending, oldest, key.limit, now,
                             options_.window);
}

LoginRateLimiter::Entry& LoginRateLimiter::touch_locked(const ThrottleKey& key,
                                                        core::TimePoint now) {
  auto it = entries_.find(key.name);
  if (it != entries_.end()) {
    by_activity_.splice(by_activity_.end(), by_activity_, it->second.position);
    return it->second;
  }
  const core::TimePoint horizon = now - options_.window;
  // Keys with nothing in the window and nothing in progress hold nothing; they go first.
  while (!by_activity_.empty()) {
    auto oldest = entries_.find(*by_activity_.front());
    const Entry& entry = oldest->second;
    const bool idle =
        entry.pending == 0 && (entry.failures.empty() || entry.failures.back() <= horizon);
    if (!idle && entries_.size() < options_.max_tracked_keys) {
      break;
    }
    erase_locked(oldest);
  }
  it = entries_.try_emplace(key.name).first;
  it->second.user = key.user;
  it->second.position = by_activity_.insert(by_activity_.end(), &it->first);
  return it->second;
}

void LoginRateLimiter::erase_locked(std::unordered_map<std::string, Entry>::iterator it) {
  by_activity_.erase(it->second.position);
  entries_.erase(it);
}

}  // namespace berth::auth
