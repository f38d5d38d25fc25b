// Login throttling counted in the database (see stored_login_throttle.hpp).
#include "auth/stored_login_throttle.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "auth/password.hpp"
#include "auth/throttle_keys.hpp"

namespace berth::auth {

StoredLoginThrottle::StoredLoginThrottle(meta::LoginThrottleStore& store, RateLimitOptions options,
                                         const core::Clock& clock)
    : store_(store), options_(std::move(options)), clock_(clock) {}

std::vector<meta::ThrottleKey> StoredLoginThrottle::keys_of(const std::string& address,
                                                            const std::string& user) const {
  std::vector<meta::ThrottleKey> keys;
  for (auto& key : throttle_keys(address, user, options_.max_failures_per_address,
                                 options_.max_failures_per_user)) {
    keys.push_back(meta::ThrottleKey{std::move(key.name), std::move(key.user), key.limit});
  }
  return keys;
}

std::expected<LoginReservation, LoginRefusal> StoredLoginThrottle::reserve(
    const std::string& address, const std::string& user) {
  const auto keys = keys_of(address, user);
  if (keys.empty()) {
    return make_reservation(address, user);
  }
  const core::TimePoint now = clock_.now();
  std::string ticket = random_token("");
  auto reserved =
      store_.reserve(ticket, keys, now, now - options_.window, now + kReservationLifetime);
  if (!reserved) {
    return std::unexpected(LoginRefusal{.retry_after = std::chrono::seconds(1),
                                        .user_failures_since = std::nullopt,
                                        .error = reserved.error()});
  }
  if (reserved->reserved) {
    return make_reservation(address, user, std::move(ticket));
  }
  std::optional<core::TimePoint> until;
  LoginRefusal refusal;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& count = reserved->counts[i];
    auto blocked = blocked_until(count.failures, count.pending, count.oldest_failure, keys[i].limit,
                                 now, options_.window);
    if (!blocked) {
      continue;
    }
    until = std::max(until.value_or(*blocked), *blocked);
    if (!keys[i].user.empty() && count.failures >= keys[i].limit) {
      refusal.user_failures_since = count.oldest_failure;
    }
  }
  refusal.retry_after = whole_seconds_from(now, until.value_or(now));
  return std::unexpected(refusal);
}

void StoredLoginThrottle::settle(const std::string& address, const std::string& user,
                                 const std::string& ticket, bool failed) {
  if (ticket.empty()) {
    return;  // nothing was counted (no keys)
  }
  const auto keys = keys_of(address, user);
  const core::TimePoint now = clock_.now();
  auto counts = store_.settle(ticket, keys, failed, now, now - options_.window);
  if (!counts) {
    spdlog::warn("login throttling: could not record the outcome of a login: {}",
                 counts.error().message);
    return;
  }
  if (!failed || !options_.on_lockout) {
    return;
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& count = (*counts)[i];
    // Every failure is recorded under the write lock, one at a time: exactly one of them
    // takes a key to its limit, whichever replica it came to.
    if (count.failures == keys[i].limit && count.oldest_failure) {
      options_.on_lockout(
          Lockout{address, keys[i].user.empty() ? std::string() : user, keys[i].limit,
                  whole_seconds_from(now, *count.oldest_failure + options_.window)});
    }
  }
}

void StoredLoginThrottle::unlock_user(const std::string& user, core::TimePoint until) {
  if (auto unlocked = store_.unlock_user(bounded_key_part(user), until); !unlocked) {
    spdlog::warn("login throttling: could not unlock user logins: {}", unlocked.error().message);
  }
}

}  // namespace berth::auth
