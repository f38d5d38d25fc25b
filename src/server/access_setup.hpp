// Deciding at start whether access control is on, and making sure someone can administer
// the registry when it is: with no administrator yet, "admin" is created with the password
// from BERTH_ADMIN_PASSWORD, or with a generated one that is logged once.
#pragma once

#include <optional>
#include <string>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "meta/account_store.hpp"

namespace berth::server {

// enabled: "true", "false", or "auto": on when admin_password is given, an htpasswd file is
// configured, or the account store has users.
[[nodiscard]] core::Result<bool> access_control_enabled(
    const config::AuthConfig& auth, const std::optional<std::string>& admin_password,
    meta::AccountStore& accounts);

// Creates "admin" when there is no administrator. Returns the generated password when one
// was made up (the caller logs it once), nullopt otherwise.
[[nodiscard]] core::Result<std::optional<std::string>> bootstrap_admin(
    meta::AccountStore& accounts, const std::optional<std::string>& admin_password,
    const core::Clock& clock);

}  // namespace berth::server
