#include "auth/authenticator.hpp"

#include "auth/password.hpp"

namespace berth::auth {
namespace {

core::Error bad_credentials() {
  return core::Error{core::ErrorCode::kUnauthorized, "invalid username or password", {}};
}

// How stale a robot's last-used time may get before a use writes it again: one write per
// robot per minute rather than one per request.
constexpr auto kTouchInterval = std::chrono::minutes(1);

}  // namespace

Authenticator::Authenticator(meta::AccountStore& accounts, HtpasswdFile* htpasswd,
                             LoginRateLimiter& limiter, const core::Clock& clock)
    : accounts_(accounts), htpasswd_(htpasswd), limiter_(limiter), clock_(clock) {
  auto hash = hash_password(random_token(""));
  dummy_hash_ = hash ? *hash : std::string();
}

core::Result<Identity> Authenticator::robot(const std::string& name, const std::string* token) {
  auto found = accounts_.get_robot(name);
  if (!found) {
    return std::unexpected(found.error());
  }
  if (!*found) {
    return std::unexpected(bad_credentials());
  }
  const auto& robot = **found;
  if (token != nullptr && !constant_time_equal(token_hash(*token), robot.token_hash)) {
    return std::unexpected(bad_credentials());
  }
  const auto now = clock_.now();
  if (robot.revoked) {
    return core::fail(core::ErrorCode::kUnauthorized, "this robot token has been revoked");
  }
  if (robot.expires && *robot.expires <= now) {
    return core::fail(core::ErrorCode::kUnauthorized, "this robot token has expired");
  }
  if (token != nullptr && (!robot.last_used || now - *robot.last_used > kTouchInterval)) {
    (void)accounts_.touch_robot(name, now);
  }
  return Identity{Identity::Kind::kRobot, std::string(kRobotPrefix) + name, false, robot.scopes};
}

core::Result<Identity> Authenticator::login(const std::string& user, const std::string& secret,
                                            const std::string& address) {
  if (auto wait = limiter_.check(address, user)) {
    return std::unexpected(core::Error{
        core::ErrorCode::kTooManyRequests,
        "too many failed logins; try again in " + std::to_string(wait->count()) + " seconds",
        {},
        *wait});
  }
  auto refuse = [&](core::Error error) -> core::Result<Identity> {
    if (error.code == core::ErrorCode::kUnauthorized) {
      limiter_.record_failure(address, user);
    }
    return std::unexpected(std::move(error));
  };
  if (user.empty() || secret.empty()) {
    return refuse(bad_credentials());
  }
  if (user.starts_with(kRobotPrefix)) {
    auto identity = robot(user.substr(kRobotPrefix.size()), &secret);
    if (!identity) {
      return refuse(identity.error());
    }
    return identity;
  }
  auto found = accounts_.get_user(user);
  if (!found) {
    return std::unexpected(found.error());
  }
  if (*found) {
    if (verify_password(secret, (*found)->password_hash)) {
      return Identity{Identity::Kind::kUser, user, (*found)->admin, {}};
    }
    return refuse(bad_credentials());
  }
  if (htpasswd_ != nullptr) {
    if (auto hash = htpasswd_->hash_for(user)) {
      if (verify_password(secret, *hash)) {
        return Identity{Identity::Kind::kUser, user, false, {}};
      }
      return refuse(bad_credentials());
    }
  }
  // No such user: spend the same time as a real check.
  (void)verify_password(secret, dummy_hash_);
  return refuse(bad_credentials());
}

core::Result<Identity> Authenticator::identity_of(const std::string& subject) {
  if (subject.empty()) {
    return Identity{};
  }
  if (subject.starts_with(kRobotPrefix)) {
    return robot(subject.substr(kRobotPrefix.size()), nullptr);
  }
  auto found = accounts_.get_user(subject);
  if (!found) {
    return std::unexpected(found.error());
  }
  if (*found) {
    return Identity{Identity::Kind::kUser, subject, (*found)->admin, {}};
  }
  if (htpasswd_ != nullptr && htpasswd_->hash_for(subject)) {
    return Identity{Identity::Kind::kUser, subject, false, {}};
  }
  return core::fail(core::ErrorCode::kUnauthorized, "the account of this token no longer exists");
}

}  // namespace berth::auth
