#include "server/access_setup.hpp"

#include <spdlog/spdlog.h>

#include "auth/password.hpp"

namespace berth::server {
namespace {

auth::ProjectCreation project_creation(const std::string& setting) {
  if (setting == "users") {
    return auth::ProjectCreation::kUsers;
  }
  if (setting == "nobody") {
    return auth::ProjectCreation::kNobody;
  }
  return auth::ProjectCreation::kAdmins;
}

// Turns access control on (bootstrapping the administrator) or says loudly that it is off.
core::Result<bool> decide_access_control(const config::AuthConfig& auth,
                                         meta::AccountStore& accounts,
                                         const std::optional<std::string>& admin_password,
                                         const core::Clock& clock) {
  auto enabled = access_control_enabled(auth, admin_password, accounts);
  if (!enabled) {
    return core::in_context("cannot read the accounts", enabled.error());
  }
  if (!*enabled) {
    spdlog::warn(
        "access control is off: anyone who can reach this server may push, pull and delete. "
        "Set BERTH_ADMIN_PASSWORD to turn it on (see the README, Access control)");
    return false;
  }
  auto bootstrap = bootstrap_admin(accounts, admin_password, clock);
  if (!bootstrap) {
    return core::in_context("cannot create the administrator", bootstrap.error());
  }
  using Outcome = AdminBootstrap::Outcome;
  switch (bootstrap->outcome) {
    case Outcome::kExisting:
      break;
    case Outcome::kEnvironmentIgnored:
      spdlog::warn(
          "BERTH_ADMIN_PASSWORD is set but not applied: it only creates the first "
          "administrator, and there is one; change a password with: berth user passwd admin");
      break;
    case Outcome::kCreatedFromEnvironment:
      spdlog::info("created the administrator 'admin' from BERTH_ADMIN_PASSWORD");
      break;
    case Outcome::kCreatedGenerated:
      // The one time a secret is logged: there is no other way to hand it over.
      spdlog::warn(
          "created the administrator 'admin' with the password {} (shown only this once; "
          "change it with: berth user passwd admin)",
          bootstrap->generated);
      break;
  }
  spdlog::info("access control is on");
  return true;
}

}  // namespace

core::Result<bool> access_control_enabled(const config::AuthConfig& auth,
                                          const std::optional<std::string>& admin_password,
                                          meta::AccountStore& accounts) {
  if (auth.enabled == "true") {
    return true;
  }
  if (auth.enabled == "false") {
    return false;
  }
  if (admin_password || !auth.htpasswd.empty()) {
    return true;
  }
  auto users = accounts.list_users();
  if (!users) {
    return std::unexpected(users.error());
  }
  return !users->empty();
}

core::Result<AdminBootstrap> bootstrap_admin(meta::AccountStore& accounts,
                                             const std::optional<std::string>& admin_password,
                                             const core::Clock& clock) {
  using Outcome = AdminBootstrap::Outcome;
  const bool from_environment = admin_password && !admin_password->empty();
  auto admins = accounts.count_admins();
  if (!admins) {
    return std::unexpected(admins.error());
  }
  if (*admins > 0) {
    if (!from_environment) {
      return AdminBootstrap{};
    }
    // Someone changed the variable expecting it to apply: say that it did not, unless it is
    // admin's password anyway (one bcrypt check, once per start).
    auto admin = accounts.get_user("admin");
    if (!admin) {
      return std::unexpected(admin.error());
    }
    const bool same = *admin && (*admin)->admin &&
                      auth::verify_password(*admin_password, (*admin)->password_hash);
    return AdminBootstrap{same ? Outcome::kExisting : Outcome::kEnvironmentIgnored, {}};
  }
  AdminBootstrap done{Outcome::kCreatedFromEnvironment, {}};
  std::string password;
  if (from_environment) {
    password = *admin_password;
  } else {
    done = AdminBootstrap{Outcome::kCreatedGenerated, auth::random_token("")};
    password = done.generated;
  }
  auto hash = auth::hash_password(password);
  if (!hash) {
    return std::unexpected(hash.error());
  }
  auto existing = accounts.get_user("admin");
  if (!existing) {
    return std::unexpected(existing.error());
  }
  if (*existing) {
    // A user called admin who is not one: make it one with the password we announce.
    if (auto set = accounts.set_password("admin", *hash); !set) {
      return std::unexpected(set.error());
    }
    if (auto set = accounts.set_admin("admin", true); !set) {
      return std::unexpected(set.error());
    }
    return done;
  }
  if (auto created = accounts.create_user(meta::User{
          .name = "admin", .password_hash = *hash, .admin = true, .created = clock.now()});
      !created) {
    return std::unexpected(created.error());
  }
  return done;
}

core::Result<AccessServices> open_access_services(const config::Config& config,
                                                  meta::Stores& stores,
                                                  const std::optional<std::string>& admin_password,
                                                  const core::Clock& clock,
                                                  metrics::OperationsMetrics* operations,
                                                  auth::Authenticator::FailureLog on_failure) {
  meta::AccountStore& accounts = *stores.accounts;
  AccessServices services;
  auth::TokenServiceOptions token_options;
  token_options.issuer = config.auth.issuer;
  token_options.service = config.auth.service;
  token_options.ttl = std::chrono::duration_cast<std::chrono::seconds>(config.auth.token_ttl);
  auto tokens = auth::TokenService::open(config.signing_key_path(), token_options, clock);
  if (!tokens) {
    return core::in_context(
        "cannot open the token signing key " + config.signing_key_path().string(), tokens.error());
  }
  services.tokens = std::move(*tokens);
  if (!config.auth.htpasswd.empty()) {
    services.htpasswd = std::make_unique<auth::HtpasswdFile>(
        config.auth.htpasswd, [](const std::string& message) { spdlog::warn("{}", message); });
  }
  if (config.auth.cache_sync.count() > 0) {
    services.version = std::make_unique<auth::AccountVersion>(accounts, services.htpasswd.get());
    if (auto synced = services.version->sync(); !synced) {
      return core::in_context("cannot read the account version", synced.error());
    }
    services.verified_tokens = std::make_unique<auth::TokenCache>(*services.tokens, clock);
    services.account_cache = std::make_unique<auth::AccountCache>(*services.version, clock);
    services.credentials = std::make_unique<auth::CredentialCache>(*services.version, clock);
  }
  const auth::RateLimitOptions throttle_options{
      .max_failures_per_address = config.auth.max_login_failures_per_address,
      .max_failures_per_user = config.auth.max_login_failures_per_user,
      .window = std::chrono::duration_cast<std::chrono::seconds>(config.auth.login_failure_window),
      .on_lockout = [operations,
                     credentials = services.credentials.get()](const auth::Lockout& lockout) {
        if (operations != nullptr) {
          operations->lockout();
        }
        if (credentials != nullptr && !lockout.user.empty()) {
          credentials->forget_user(lockout.user);
        }
        spdlog::warn("{}", auth::describe(lockout));
      }};
  if (config.metadata.driver == "postgres") {
    services.limiter =
        std::make_unique<auth::StoredLoginThrottle>(*stores.logins, throttle_options, clock);
  } else {
    services.limiter = std::make_unique<auth::LoginRateLimiter>(throttle_options, clock);
  }
  services.authenticator = std::make_unique<auth::Authenticator>(
      accounts, services.htpasswd.get(), *services.limiter, clock,
      [operations, on_failure = std::move(on_failure)](const auth::LoginFailure& failure) {
        if (operations != nullptr) {
          operations->login_failed();
        }
        // A refusal without a check costs nothing and comes in floods: not worth a line each.
        spdlog::log(failure.throttled ? spdlog::level::debug : spdlog::level::info, "{}",
                    auth::describe(failure));
        if (on_failure) {
          on_failure(failure);
        }
      },
      auth::AuthenticatorOptions{.accounts = services.account_cache.get(),
                                 .credentials = services.credentials.get()});
  auto enabled = decide_access_control(config.auth, accounts, admin_password, clock);
  if (!enabled) {
    return std::unexpected(enabled.error());
  }
  services.access = std::make_unique<auth::AccessControl>(
      accounts, clock,
      auth::AccessControlOptions{
          .enabled = *enabled,
          .create_projects_on_push = project_creation(config.auth.create_projects_on_push)},
      services.account_cache.get());
  return services;
}

}  // namespace berth::server
