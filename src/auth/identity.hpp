// Who is asking: an anonymous caller, a user (from the database or the htpasswd file), or a
// robot account. Made by the Authenticator, judged by the AccessControl.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "meta/account_store.hpp"

namespace berth::auth {

struct Identity {
  enum class Kind { kAnonymous, kUser, kRobot };

  Kind kind = Kind::kAnonymous;
  // The user name, or "robot$<name>" for robots; empty when anonymous.
  std::string name;
  // System administrator: may do everything everywhere.
  bool admin = false;
  // For robots: the projects they may use and how.
  std::vector<meta::RobotScope> robot_scopes;
  // Which account this is, beyond its name: tokens and refresh tokens are bound to it, so that
  // an account deleted and made again under the same name, or whose credentials changed in the
  // htpasswd file, does not inherit the old sessions. "u<id>" for a database user
  // (meta::User::id), "h<fingerprint of its hash line>" for an htpasswd user, "r<fingerprint
  // of its token>" for a robot; empty when anonymous.
  std::string account;
  // For robots: when the account expires, if it does (what a cache of it must not outlive).
  std::optional<core::TimePoint> expires{};

  bool anonymous() const { return kind == Kind::kAnonymous; }
  // For logs: the name, or "-" for anonymous.
  std::string display() const { return anonymous() ? "-" : name; }
};

inline constexpr std::string_view kRobotPrefix = "robot$";

}  // namespace berth::auth
