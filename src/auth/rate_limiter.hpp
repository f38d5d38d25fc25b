// Slows down password guessing: failed logins are counted per client address and per user
// name in a sliding window; above the limit further attempts are refused (TOOMANYREQUESTS,
// with a Retry-After) without checking the password at all, so a flood costs no bcrypt time.
// A success does not reset the per-address count (an attacker owning one account must not
// get free guesses at others). Memory is bounded: the oldest keys are dropped.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"

namespace berth::auth {

// A limit of 0 turns that kind of counting off.
struct RateLimitOptions {
  std::size_t max_failures_per_address = 20;
  std::size_t max_failures_per_user = 10;
  std::chrono::seconds window{300};
  std::size_t max_tracked_keys = 100'000;
};

class LoginRateLimiter {
 public:
  LoginRateLimiter(RateLimitOptions options, const core::Clock& clock);

  // nullopt: go ahead. A duration: refused, retry after it.
  // An empty address or user is not counted (anonymous requests have no user). Retry-after is
  // the time until the oldest failure in the window leaves it, rounded up to whole seconds.
  // Thread-safe.
  [[nodiscard]] std::optional<std::chrono::seconds> check(const std::string& address,
                                                          const std::string& user);
  void record_failure(const std::string& address, const std::string& user);

  // How many addresses and users are being counted (for tests and metrics).
  [[nodiscard]] std::size_t tracked_keys() const;

 private:
  struct Entry {
    // Oldest first. Only the newest `limit` failures matter (the key is blocked until the
    // oldest of them leaves the window), so no more are kept.
    std::vector<core::TimePoint> failures;
    std::list<const std::string*>::iterator position;
  };

  std::optional<core::TimePoint> blocked_until_locked(const std::string& key, std::size_t limit,
                                                      core::TimePoint now);
  void record_locked(const std::string& key, std::size_t limit, core::TimePoint now);
  void erase_locked(std::unordered_map<std::string, Entry>::iterator it);

  RateLimitOptions options_;
  const core::Clock& clock_;
  mutable std::mutex mutex_;  // guards failures_ and by_last_failure_
  std::unordered_map<std::string, Entry> failures_;
  // The keys of failures_ (node keys do not move), least recently failed first: expired
  // keys are pruned and, at max_tracked_keys, evicted from the front.
  std::list<const std::string*> by_last_failure_;
};

}  // namespace berth::auth
