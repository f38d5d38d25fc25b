// Checks credentials: a user name and password (database users first, then the htpasswd
// file) or a robot account's token ("robot$name" as the user name), and finds the account a
// token was issued to.
//
// Guessing is throttled (login_throttle.hpp): each attempt is reserved before its secret is
// checked, per client address and per user name at that address (robots per address only).
// A user name that does not exist costs the same bcrypt time as one that does, so timing tells
// nothing about which names exist. Each failure is reported (user, address, reason) to the
// failure log the server gives.
//
// With caches (AuthenticatorOptions), who an account is and which passwords were right are
// remembered for one account version (account_cache.hpp, credential_cache.hpp); the known_*
// methods answer from them alone, without blocking, or say they cannot.
//
// Blocking (bcrypt, database), but for the known_* methods: call from a blocking pool.
// Thread-safe.
#pragma once

#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/account_version.hpp"
#include "auth/htpasswd.hpp"
#include "auth/identity.hpp"
#include "auth/login_events.hpp"
#include "auth/login_throttle.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "meta/account_store.hpp"

namespace berth::auth {

class AccountCache;
class CredentialCache;

struct AuthenticatorOptions {
  // Who accounts are (identity_of); null: the store is asked every time.
  AccountCache* accounts = nullptr;
  // Right passwords (login); null: every password is checked with bcrypt.
  CredentialCache* credentials = nullptr;
  // How a password is checked against its hash; empty: verify_password. Tests count calls.
  std::function<bool(std::string_view password, std::string_view hash)> check_password{};
};

class Authenticator {
 public:
  using FailureLog = std::function<void(const LoginFailure&)>;

  // htpasswd may be null; so may failure_log. The caches of `options` must outlive this.
  Authenticator(meta::AccountStore& accounts, HtpasswdFile* htpasswd, LoginThrottle& throttle,
                const core::Clock& clock, FailureLog failure_log = {},
                AuthenticatorOptions options = {});

  // UNAUTHORIZED for wrong credentials (one message for every reason, so it reveals
  // nothing), TOOMANYREQUESTS when throttled. `address` is the client's IP.
  [[nodiscard]] core::Result<Identity> login(const std::string& user, const std::string& secret,
                                             const std::string& address);

  // The account named `subject` as it is now (admin flag, robot scopes, account id), whatever
  // account it is. UNAUTHORIZED when there is none (deleted, or a robot revoked or expired).
  [[nodiscard]] core::Result<Identity> current(const std::string& subject);

  // The identity a token or refresh token was issued to: current(subject), if it is still the
  // same account (Identity::account). A token of an account deleted and made again under the
  // same name, or of an htpasswd user whose password line changed, is UNAUTHORIZED.
  [[nodiscard]] core::Result<Identity> identity_of(const std::string& subject,
                                                   const std::string& account);

  // Lifts the lockout of a user name: here at once, in other processes through the store.
  [[nodiscard]] core::Result<void> unlock(const std::string& user);

  // identity_of(subject, account), if the account cache knows it (the anonymous subject is
  // always known). Never blocks.
  [[nodiscard]] std::optional<Identity> known_identity(const std::string& subject,
                                                       const std::string& account);
  // login(user, secret, address), if the credential cache knows the password and the login
  // throttle lets the attempt through without blocking (a throttle in this process). nullopt
  // means "ask login()", which also says why a refused attempt was refused. Never blocks.
  [[nodiscard]] std::optional<Identity> known_login(const std::string& user,
                                                    const std::string& secret,
                                                    const std::string& address);

 private:
  // A robot by name, checking its token if one is given; `reason` says why not, for the log.
  [[nodiscard]] core::Result<Identity> robot(const std::string& name, const std::string* token,
                                             std::string& reason);
  [[nodiscard]] std::expected<LoginReservation, core::Error> reserve(const std::string& address,
                                                                     const std::string& user,
                                                                     const std::string& shown);
  void report(const std::string& user, const std::string& address, std::string reason,
              bool throttled = false) const;
  [[nodiscard]] bool password_matches(const std::string& secret, const std::string& hash) const;
  // A user's login: the credential cache, else the store (or htpasswd file) and bcrypt.
  [[nodiscard]] core::Result<Identity> user_login(const std::string& user,
                                                  const std::string& secret,
                                                  const std::string& address,
                                                  LoginReservation& reservation);

  meta::AccountStore& accounts_;
  HtpasswdFile* htpasswd_;
  LoginThrottle& throttle_;
  const core::Clock& clock_;
  FailureLog failure_log_;
  AuthenticatorOptions options_;
  // A bcrypt hash of nothing anybody knows, checked when the user does not exist.
  std::string dummy_hash_;
};

}  // namespace berth::auth
