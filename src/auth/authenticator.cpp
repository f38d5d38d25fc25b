#include "auth/authenticator.hpp"

#include "auth/account_cache.hpp"
#include "auth/credential_cache.hpp"
#include "auth/password.hpp"

namespace berth::auth {
namespace {

core::Error bad_credentials() {
  return core::Error{core::ErrorCode::kUnauthorized, "invalid username or password", {}};
}

// How stale a robot's last-used time may get before a use writes it again: one write per
// robot per minute rather than one per request.
constexpr auto kTouchInterval = std::chrono::minutes(1);

// 64 bits of a hash of a credential: enough to tell one account from the next under the same
// name, and nothing that helps guess the credential (its salt is not in it).
std::string fingerprint(std::string_view credential) {
  return token_hash(credential).substr(0, 16);
}

std::string user_account(const meta::User& user) { return "u" + std::to_string(user.id); }
std::string htpasswd_account(const std::string& hash) { return "h" + fingerprint(hash); }
std::string robot_account(const meta::Robot& robot) { return "r" + fingerprint(robot.token_hash); }

}  // namespace

Authenticator::Authenticator(meta::AccountStore& accounts, HtpasswdFile* htpasswd,
                             LoginThrottle& throttle, const core::Clock& clock,
                             FailureLog failure_log, AuthenticatorOptions options)
    : accounts_(accounts),
      htpasswd_(htpasswd),
      throttle_(throttle),
      clock_(clock),
      failure_log_(std::move(failure_log)),
      options_(std::move(options)) {
  auto hash = hash_password(random_token(""));
  dummy_hash_ = hash ? *hash : std::string();
}

void Authenticator::report(const std::string& user, const std::string& address, std::string reason,
                           bool throttled) const {
  if (failure_log_) {
    failure_log_(LoginFailure{user, address, std::move(reason), throttled});
  }
}

core::Result<Identity> Authenticator::robot(const std::string& name, const std::string* token,
                                            std::string& reason) {
  auto found = accounts_.get_robot(name);
  if (!found) {
    return std::unexpected(found.error());
  }
  if (!*found) {
    reason = "unknown robot";
    return std::unexpected(bad_credentials());
  }
  const auto& robot = **found;
  if (token != nullptr && !constant_time_equal(token_hash(*token), robot.token_hash)) {
    reason = "wrong robot token";
    return std::unexpected(bad_credentials());
  }
  const auto now = clock_.now();
  if (robot.revoked) {
    reason = "revoked robot";
    return core::fail(core::ErrorCode::kUnauthorized, "this robot token has been revoked");
  }
  if (robot.expires && *robot.expires <= now) {
    reason = "expired robot";
    return core::fail(core::ErrorCode::kUnauthorized, "this robot token has expired");
  }
  if (token != nullptr && (!robot.last_used || now - *robot.last_used > kTouchInterval)) {
    (void)accounts_.touch_robot(name, now);
  }
  return Identity{Identity::Kind::kRobot,
                  std::string(kRobotPrefix) + name,
                  false,
                  robot.scopes,
                  robot_account(robot),
                  robot.expires};
}

std::expected<LoginReservation, core::Error> Authenticator::reserve(const std::string& address,
                                                                    const std::string& user,
                                                                    const std::string& shown) {
  auto reserved = throttle_.reserve(address, user);
  if (!reserved && reserved.error().user_failures_since) {
    // An administrator may have lifted the lockout since, from another process (berth user
    // unlock): only a refusal pays for this read, and once lifted it is not read again.
    auto unlocked = accounts_.logins_unlocked_at(user);
    if (unlocked && *unlocked && **unlocked >= *reserved.error().user_failures_since) {
      throttle_.unlock_user(user, **unlocked);
      reserved = throttle_.reserve(address, user);
    }
  }
  if (!reserved && reserved.error().error) {
    return std::unexpected(*reserved.error().error);
  }
  if (!reserved) {
    if (reserved.error().user_failures_since && options_.credentials != nullptr) {
      // Locked out: what the user's passwords opened stays shut after the lockout too, until
      // a right password has been checked again.
      options_.credentials->forget_user(user);
    }
    report(shown, address, "too many failed logins", true);
    const auto wait = reserved.error().retry_after;
    return std::unexpected(core::Error{
        core::ErrorCode::kTooManyRequests,
        "too many failed logins; try again in " + std::to_string(wait.count()) + " seconds",
        {},
        wait});
  }
  return std::move(*reserved);
}

core::Result<Identity> Authenticator::login(const std::string& user, const std::string& secret,
                                            const std::string& address) {
  const bool is_robot = user.starts_with(kRobotPrefix);
  // Robot tokens carry 256 random bits: nobody guesses one, so a robot's name is never locked
  // (anyone could lock out a CI robot otherwise); its guesser's address is.
  auto reservation = reserve(address, is_robot ? std::string() : user, user);
  if (!reservation) {
    return std::unexpected(reservation.error());
  }
  auto refuse = [&](core::Error error, std::string reason) -> core::Result<Identity> {
    report(user, address, std::move(reason));  // before the lockout it may cause
    reservation->failed();
    return std::unexpected(std::move(error));
  };
  if (user.empty() || secret.empty()) {
    return refuse(bad_credentials(), "empty user name or secret");
  }
  if (is_robot) {
    std::string reason;
    auto identity = robot(user.substr(kRobotPrefix.size()), &secret, reason);
    if (!identity) {
      if (identity.error().code == core::ErrorCode::kUnauthorized) {
        return refuse(identity.error(), reason);
      }
      return identity;
    }
    reservation->succeeded();
    return identity;
  }
  return user_login(user, secret, address, *reservation);
}

core::Result<Identity> Authenticator::user_login(const std::string& user, const std::string& secret,
                                                 const std::string& address,
                                                 LoginReservation& reservation) {
  auto refuse = [&](std::string reason) -> core::Result<Identity> {
    report(user, address, std::move(reason));  // before the lockout it may cause
    reservation.failed();
    return std::unexpected(bad_credentials());
  };
  CredentialCache* known = options_.credentials;
  // Read before the account is: an answer that races with a change is kept as stale.
  const AccountEpoch epoch = known != nullptr ? known->epoch() : AccountEpoch{};
  if (known != nullptr) {
    if (auto identity = known->find(user, secret)) {
      reservation.succeeded();
      return std::move(*identity);
    }
  }
  auto right = [&](Identity identity) -> core::Result<Identity> {
    reservation.succeeded();
    if (known != nullptr) {
      known->remember(epoch, user, secret, identity);
    }
    return identity;
  };
  auto found = accounts_.get_user(user);
  if (!found) {
    return std::unexpected(found.error());
  }
  if (*found) {
    if (password_matches(secret, (*found)->password_hash)) {
      return right(
          Identity{Identity::Kind::kUser, user, (*found)->admin, {}, user_account(**found)});
    }
    return refuse("wrong password");
  }
  if (htpasswd_ != nullptr) {
    if (auto hash = htpasswd_->hash_for(user)) {
      if (password_matches(secret, *hash)) {
        return right(Identity{Identity::Kind::kUser, user, false, {}, htpasswd_account(*hash)});
      }
      return refuse("wrong password (htpasswd user)");
    }
  }
  // No such user: spend the same time as a real check.
  (void)password_matches(secret, dummy_hash_);
  return refuse("unknown user");
}

bool Authenticator::password_matches(const std::string& secret, const std::string& hash) const {
  return options_.check_password ? options_.check_password(secret, hash)
                                 : verify_password(secret, hash);
}

std::optional<Identity> Authenticator::known_login(const std::string& user,
                                                   const std::string& secret,
                                                   const std::string& address) {
  if (options_.credentials == nullptr || throttle_.blocking() || user.empty() || secret.empty() ||
      user.starts_with(kRobotPrefix)) {
    return std::nullopt;
  }
  auto identity = options_.credentials->find(user, secret);
  if (!identity) {
    return std::nullopt;
  }
  // A hit still asks the throttle: a locked-out user is refused, by login(), which also reads
  // an unlock another process recorded.
  if (!throttle_.admits(address, user)) {
    return std::nullopt;
  }
  return identity;
}

core::Result<Identity> Authenticator::current(const std::string& subject) {
  if (subject.empty()) {
    return Identity{};
  }
  if (subject.starts_with(kRobotPrefix)) {
    std::string reason;
    return robot(subject.substr(kRobotPrefix.size()), nullptr, reason);
  }
  auto found = accounts_.get_user(subject);
  if (!found) {
    return std::unexpected(found.error());
  }
  if (*found) {
    return Identity{Identity::Kind::kUser, subject, (*found)->admin, {}, user_account(**found)};
  }
  if (htpasswd_ != nullptr) {
    if (auto hash = htpasswd_->hash_for(subject)) {
      return Identity{Identity::Kind::kUser, subject, false, {}, htpasswd_account(*hash)};
    }
  }
  return core::fail(core::ErrorCode::kUnauthorized, "the account of this token no longer exists");
}

core::Result<Identity> Authenticator::identity_of(const std::string& subject,
                                                  const std::string& account) {
  AccountCache* known = options_.accounts;
  // Read before the account is: an answer that races with a change is kept as stale.
  const AccountEpoch epoch = known != nullptr ? known->epoch() : AccountEpoch{};
  auto identity = current(subject);
  if (!identity || identity->anonymous()) {
    return identity;
  }
  if (identity->account == account) {
    if (known != nullptr) {
      known->remember_identity(epoch, subject, account, *identity);
    }
    return identity;
  }
  return core::fail(core::ErrorCode::kUnauthorized,
                    "the account of this token no longer exists (it was deleted, or its "
                    "password changed); sign in again");
}

std::optional<Identity> Authenticator::known_identity(const std::string& subject,
                                                      const std::string& account) {
  if (subject.empty()) {
    return Identity{};
  }
  if (options_.accounts == nullptr) {
    return std::nullopt;
  }
  return options_.accounts->identity(subject, account);
}

core::Result<void> Authenticator::unlock(const std::string& user) {
  const auto now = clock_.now();
  if (auto recorded = accounts_.unlock_logins(user, now); !recorded) {
    return recorded;
  }
  throttle_.unlock_user(user, now);
  return {};
}

}  // namespace berth::auth
