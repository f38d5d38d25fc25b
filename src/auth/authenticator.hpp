// Checks credentials: a user name and password (database users first, then the htpasswd
// file) or a robot account's token ("robot$name" as the user name). Failed attempts are
// rate-limited per client address and per user name before any password is checked, and a
// user name that does not exist costs the same bcrypt time as one that does, so timing tells
// nothing about which names exist.
//
// Blocking (bcrypt, database): call from the blocking pool. Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "auth/htpasswd.hpp"
#include "auth/identity.hpp"
#include "auth/rate_limiter.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "meta/account_store.hpp"

namespace berth::auth {

class Authenticator {
 public:
  // htpasswd may be null.
  Authenticator(meta::AccountStore& accounts, HtpasswdFile* htpasswd, LoginRateLimiter& limiter,
                const core::Clock& clock);

  // UNAUTHORIZED for wrong credentials (one message for every reason, so it reveals
  // nothing), TOOMANYREQUESTS when rate-limited. `address` is the client's IP.
  [[nodiscard]] core::Result<Identity> login(const std::string& user, const std::string& secret,
                                             const std::string& address);

  // The identity a token was issued to, as it is now (admin flag, robot scopes). A subject
  // deleted, or a robot revoked or expired since, is UNAUTHORIZED.
  [[nodiscard]] core::Result<Identity> identity_of(const std::string& subject);

 private:
  [[nodiscard]] core::Result<Identity> robot(const std::string& name, const std::string* token);

  meta::AccountStore& accounts_;
  HtpasswdFile* htpasswd_;
  LoginRateLimiter& limiter_;
  const core::Clock& clock_;
  // A bcrypt hash of nothing anybody knows, checked when the user does not exist.
  std::string dummy_hash_;
};

}  // namespace berth::auth
