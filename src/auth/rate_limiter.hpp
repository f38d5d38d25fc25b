// The LoginThrottle of one server process: failed logins counted in memory, in a sliding window,
// per client address and per (user name, address). At a key's limit further attempts under it
// are refused (TOOMANYREQUESTS with a Retry-After) without checking any secret, so a flood costs
// no bcrypt time. Attempts in progress count as failures until they are settled (see
// login_throttle.hpp). Memory is bounded: the least recently active keys are dropped.
//
// Several server processes would each count on their own (a guesser spreading over them would
// get that many times the limit): replicas on PostgreSQL count in the database instead
// (stored_login_throttle.hpp), by the same rules (throttle_keys.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/login_events.hpp"
#include "auth/login_throttle.hpp"
#include "auth/throttle_keys.hpp"
#include "core/clock.hpp"

namespace berth::auth {

// A limit of 0 turns that kind of counting off.
struct RateLimitOptions {
  std::size_t max_failures_per_address = 20;
  // Per user name from one address.
  std::size_t max_failures_per_user = 10;
  std::chrono::seconds window{300};
  std::size_t max_tracked_keys = 100'000;
  // Called (outside any lock) when a failure takes a key to its limit.
  std::function<void(const Lockout&)> on_lockout{};
};

class LoginRateLimiter final : public LoginThrottle {
 public:
  LoginRateLimiter(RateLimitOptions options, const core::Clock& clock);

  // Retry-after is the time until enough failures leave the window, rounded up to whole
  // seconds, at least 1 (attempts in progress: 1).
  [[nodiscard]] std::expected<LoginReservation, LoginRefusal> reserve(
      const std::string& address, const std::string& user) override;
  // Looks the keys up without reserving: no key is made for an address that has not failed,
  // where reserve() would make and drop one per attempt.
  [[nodiscard]] bool admits(const std::string& address, const std::string& user) override;
  void unlock_user(const std::string& user, core::TimePoint until) override;
  bool blocking() const override { return false; }

  // How many keys are being counted (for tests and metrics).
  [[nodiscard]] std::size_t tracked_keys() const;

 private:
  struct Entry {
    // Oldest first; at most the key's limit (only the newest `limit` failures matter).
    std::vector<core::TimePoint> failures;
    // Attempts reserved and not yet settled.
    std::size_t pending = 0;
    // The user name of a (user, address) key, as keyed; empty for an address key.
    std::string user;
    std::list<const std::string*>::iterator position;
  };
  [[nodiscard]] std::vector<ThrottleKey> keys_of(const std::string& address,
                                                 const std::string& user) const;
  // When `key` frees up, if it is at its limit now.
  [[nodiscard]] std::optional<core::TimePoint> blocked_until_locked(const ThrottleKey& key,
                                                                    core::TimePoint now);
  Entry& touch_locked(const ThrottleKey& key, core::TimePoint now);
  void settle(const std::string& address, const std::string& user, const std::string& ticket,
              bool failed) override;
  void erase_locked(std::unordered_map<std::string, Entry>::iterator it);
  void prune_locked(Entry& entry, core::TimePoint now) const;

  RateLimitOptions options_;
  const core::Clock& clock_;
  mutable std::mutex mutex_;  // guards entries_ and by_activity_
  std::unordered_map<std::string, Entry> entries_;
  // The keys of entries_ (node keys do not move), least recently active first: idle keys are
  // pruned and, at max_tracked_keys, evicted from the front.
  std::list<const std::string*> by_activity_;
};

}  // namespace berth::auth
