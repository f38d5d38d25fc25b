// The keys and the refusal rule shared by the login throttles (see throttle_keys.hpp).
#include "auth/throttle_keys.hpp"

#include <algorithm>

#include "auth/password.hpp"

namespace berth::auth {
namespace {

constexpr std::size_t kMaxPartLength = 128;

}  // namespace

std::string bounded_key_part(const std::string& value) {
  return value.size() <= kMaxPartLength ? value : "#" + token_hash(value);
}

std::vector<ThrottleKey> throttle_keys(const std::string& address, const std::string& user,
                                       std::size_t per_address, std::size_t per_user) {
  std::vector<ThrottleKey> keys;
  const std::string where = bounded_key_part(address);
  if (!address.empty() && per_address > 0) {
    keys.push_back(ThrottleKey{"a:" + where, "", per_address});
  }
  if (!user.empty() && per_user > 0) {
    // The length prefix keeps ("a:b", "c") and ("a", "b:c") apart.
    std::string who = bounded_key_part(user);
    std::string name = "u:" + std::to_string(who.size()) + ":" + who + where;
    keys.push_back(ThrottleKey{std::move(name), std::move(who), per_user});
  }
  return keys;
}

std::optional<core::TimePoint> blocked_until(std::size_t failures, std::size_t pending,
                                             std::optional<core::TimePoint> oldest,
                                             std::size_t limit, core::TimePoint now,
                                             std::chrono::seconds window) {
  if (failures + pending < limit) {
    return std::nullopt;
  }
  if (failures < limit || !oldest) {
    // Full only with attempts in progress: they are settled within a password check.
    return now + std::chrono::seconds(1);
  }
  // A clock that stepped back could put this past a whole window; never ask for more.
  return std::min(*oldest + window, now + window);
}

std::chrono::seconds whole_seconds_from(core::TimePoint now, core::TimePoint until) {
  return std::max(std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(until - now));
}

}  // namespace berth::auth
