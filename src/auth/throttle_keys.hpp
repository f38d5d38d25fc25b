// What every LoginThrottle counts and when a count refuses, said once for the one in memory
// (rate_limiter.hpp) and the one in the database (stored_login_throttle.hpp): the keys of an
// attempt (its address, and its user name at that address) and when a full key frees up.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"

namespace berth::auth {

struct ThrottleKey {
  std::string name;
  // The user name of a (user, address) key, bounded as keyed; empty for an address key.
  std::string user;
  std::size_t limit = 0;
};

// The keys an attempt by `user` from `address` counts under; a limit of 0 counts none of that
// kind. Parts longer than 128 bytes are replaced by their hash, so that a key's size is bounded.
[[nodiscard]] std::vector<ThrottleKey> throttle_keys(const std::string& address,
                                                     const std::string& user,
                                                     std::size_t per_address, std::size_t per_user);

// A user name as its keys hold it (see throttle_keys).
[[nodiscard]] std::string bounded_key_part(const std::string& value);

// When a key frees up, if it is full now: `failures` in the window, the oldest at `oldest`, and
// `pending` attempts in progress.
[[nodiscard]] std::optional<core::TimePoint> blocked_until(std::size_t failures,
                                                           std::size_t pending,
                                                           std::optional<core::TimePoint> oldest,
                                                           std::size_t limit, core::TimePoint now,
                                                           std::chrono::seconds window);

// Whole seconds from now until `until`, at least 1 ("Retry-After: 0" would invite a retry
// that is refused).
[[nodiscard]] std::chrono::seconds whole_seconds_from(core::TimePoint now, core::TimePoint until);

}  // namespace berth::auth
