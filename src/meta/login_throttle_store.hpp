// LoginThrottleStore: failed logins and logins in progress counted in the database, so that
// every process on it (replicas behind a load balancer) counts the same guesses. The rules
// (what a key is, when it is full, how long a refusal lasts) are auth/'s
// (stored_login_throttle.hpp); this store only counts, each call in one write transaction so
// that two processes reserving the last place of a key at the same moment cannot both get it.
//
// Thread-safe; blocking (call from the blocking pool).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace berth::meta {

using core::Result;

// One counter: a client address, or a user name at an address (auth/throttle_keys.hpp).
struct ThrottleKey {
  std::string name;
  // The user name of a user key, as an unlock names it; empty for an address key.
  std::string user;
  std::size_t limit = 0;
};

// A key's state: failures since the horizon, and reservations not settled nor expired.
struct ThrottleCount {
  std::size_t failures = 0;
  std::size_t pending = 0;
  // The oldest of those failures.
  std::optional<core::TimePoint> oldest_failure{};
};

struct ThrottleReservation {
  // Whether the ticket was recorded on every key (each had room: failures + pending < limit).
  bool reserved = false;
  // Each key's count (in the order given) before the reservation.
  std::vector<ThrottleCount> counts;
};

class LoginThrottleStore {
 public:
  virtual ~LoginThrottleStore() = default;

  // Forgets failures at or before `horizon` and reservations expired by `now`, counts `keys`,
  // and if each has room records `ticket` on each until `expires` (a process that dies holding
  // a reservation frees its place then).
  [[nodiscard]] virtual Result<ThrottleReservation> reserve(const std::string& ticket,
                                                            const std::vector<ThrottleKey>& keys,
                                                            core::TimePoint now,
                                                            core::TimePoint horizon,
                                                            core::TimePoint expires) = 0;
  // Ends the reservation `ticket`; if `failed`, records a failure at `now` on each key. Returns
  // each key's count afterwards (failures after `horizon`).
  [[nodiscard]] virtual Result<std::vector<ThrottleCount>> settle(
      const std::string& ticket, const std::vector<ThrottleKey>& keys, bool failed,
      core::TimePoint now, core::TimePoint horizon) = 0;
  // Forgets the failures of user keys of `user` at or before `until`.
  [[nodiscard]] virtual Result<void> unlock_user(const std::string& user,
                                                 core::TimePoint until) = 0;
};

}  // namespace berth::meta
