#include "server/access_setup.hpp"

#include "auth/password.hpp"

namespace berth::server {

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

core::Result<std::optional<std::string>> bootstrap_admin(
    meta::AccountStore& accounts, const std::optional<std::string>& admin_password,
    const core::Clock& clock) {
  auto admins = accounts.count_admins();
  if (!admins) {
    return std::unexpected(admins.error());
  }
  if (*admins > 0) {
    return std::optional<std::string>();
  }
  std::optional<std::string> generated;
  std::string password;
  if (admin_password && !admin_password->empty()) {
    password = *admin_password;
  } else {
    generated = auth::random_token("");
    password = *generated;
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
    return generated;
  }
  if (auto created = accounts.create_user(meta::User{
          .name = "admin", .password_hash = *hash, .admin = true, .created = clock.now()});
      !created) {
    return std::unexpected(created.error());
  }
  return generated;
}

}  // namespace berth::server
