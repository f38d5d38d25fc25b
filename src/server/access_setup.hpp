// Access control as a server starts it: whether it is on, someone who can administer the
// registry when it is (with no administrator yet, "admin" is created with the password from
// BERTH_ADMIN_PASSWORD, or with a generated one that is logged once), and the objects that
// decide who a caller is and what they may do.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "auth/access_control.hpp"
#include "auth/account_cache.hpp"
#include "auth/account_version.hpp"
#include "auth/authenticator.hpp"
#include "auth/credential_cache.hpp"
#include "auth/htpasswd.hpp"
#include "auth/rate_limiter.hpp"
#include "auth/stored_login_throttle.hpp"
#include "auth/token_cache.hpp"
#include "auth/token_service.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "meta/account_store.hpp"
#include "meta/stores.hpp"
#include "metrics/operations.hpp"

namespace berth::server {

// enabled: "true", "false", or "auto": on when admin_password is given, an htpasswd file is
// configured, or the account store has users.
[[nodiscard]] core::Result<bool> access_control_enabled(
    const config::AuthConfig& auth, const std::optional<std::string>& admin_password,
    meta::AccountStore& accounts);

// What bootstrap_admin did, for the start-up log.
struct AdminBootstrap {
  enum class Outcome {
    // There was an administrator and BERTH_ADMIN_PASSWORD is unset or is admin's password.
    kExisting,
    // There was an administrator, so BERTH_ADMIN_PASSWORD (set, and not the password of a
    // user "admin") was not applied.
    kEnvironmentIgnored,
    kCreatedFromEnvironment,
    // Created with a made-up password, in `generated` (the caller logs it once).
    kCreatedGenerated,
  };
  Outcome outcome = Outcome::kExisting;
  std::string generated;
};

// Creates "admin" when there is no administrator, with admin_password or a made-up one.
[[nodiscard]] core::Result<AdminBootstrap> bootstrap_admin(
    meta::AccountStore& accounts, const std::optional<std::string>& admin_password,
    const core::Clock& clock);

// What a server authenticates and authorizes with. Each member refers to the ones above it
// (and to the account store), so they live as long as the server does.
struct AccessServices {
  std::unique_ptr<auth::TokenService> tokens;
  std::unique_ptr<auth::HtpasswdFile> htpasswd;  // null without auth.htpasswd
  // What callers were found to be, and the account version it holds for; all null when
  // auth.cache_sync is 0. The server syncs `version` every auth.cache_sync.
  std::unique_ptr<auth::AccountVersion> version;
  std::unique_ptr<auth::TokenCache> verified_tokens;
  std::unique_ptr<auth::AccountCache> account_cache;
  std::unique_ptr<auth::CredentialCache> credentials;
  // Replicas on one PostgreSQL count failed logins together; one embedded process in memory.
  std::unique_ptr<auth::LoginThrottle> limiter;
  std::unique_ptr<auth::Authenticator> authenticator;
  std::unique_ptr<auth::AccessControl> access;
};

// Opens the signing key, the htpasswd file and the login throttle as configured, decides
// whether access control is on (and bootstraps the administrator if so), and logs what it
// decided, and (auth.cache_sync) makes the caches, reading the account version once.
// admin_password: BERTH_ADMIN_PASSWORD, if set. An error says what could not be opened.
// on_failure, if given, is also told of each failed login (the audit log).
[[nodiscard]] core::Result<AccessServices> open_access_services(
    const config::Config& config, meta::Stores& stores,
    const std::optional<std::string>& admin_password, const core::Clock& clock,
    metrics::OperationsMetrics* operations = nullptr,
    auth::Authenticator::FailureLog on_failure = {});

}  // namespace berth::server
