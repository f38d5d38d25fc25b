// The LoginThrottle of replicas on one database (metadata.driver postgres): failed logins and
// logins in progress are counted in the database (meta/login_throttle_store.hpp), by the same
// keys and rules as the one in memory (rate_limiter.hpp, throttle_keys.hpp), so a guesser
// spreading guesses over the replicas gets no more than against one, and an unlock on any
// replica lifts a lockout on all. Each attempt costs two short write transactions, next to a
// bcrypt check that costs far more.
//
// A reservation that is never settled (its process died) frees its place when it expires, a
// minute later. When the database cannot be reached, an attempt is refused with that error
// (503), not let through uncounted; a settlement that fails is logged and lost (the failure is
// not counted; the reservation expires).
//
// Blocking (database): call from a blocking pool, as the Authenticator is. Thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "auth/login_throttle.hpp"
#include "auth/rate_limiter.hpp"
#include "core/clock.hpp"
#include "meta/login_throttle_store.hpp"

namespace berth::auth {

class StoredLoginThrottle final : public LoginThrottle {
 public:
  // options.max_tracked_keys does not apply (the database prunes by time).
  StoredLoginThrottle(meta::LoginThrottleStore& store, RateLimitOptions options,
                      const core::Clock& clock);

  [[nodiscard]] std::expected<LoginReservation, LoginRefusal> reserve(
      const std::string& address, const std::string& user) override;
  void unlock_user(const std::string& user, core::TimePoint until) override;
  bool blocking() const override { return true; }

  // How long a reservation holds its place if it is never settled.
  static constexpr std::chrono::seconds kReservationLifetime{60};

 private:
  [[nodiscard]] std::vector<meta::ThrottleKey> keys_of(const std::string& address,
                                                       const std::string& user) const;
  void settle(const std::string& address, const std::string& user, const std::string& ticket,
              bool failed) override;

  meta::LoginThrottleStore& store_;
  RateLimitOptions options_;
  const core::Clock& clock_;
};

}  // namespace berth::auth
