// What the server logs about logins: each failed one (user, address, reason) and each lockout.
// The user name is whatever the client sent, so it is made printable and cut short before it
// reaches a log line (a newline in it must not forge the next line). Secrets are never part of
// an event.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace berth::auth {

struct LoginFailure {
  std::string user;
  std::string address;
  // "wrong password", "unknown user", "revoked robot", ...
  std::string reason;
  // Refused before any secret was checked (the address or the user there is locked out).
  bool throttled = false;
};

// A key of the login throttle reached its limit: the address (user empty), or the user name
// at that address.
struct Lockout {
  std::string address;
  std::string user;
  std::size_t failures = 0;
  std::chrono::seconds duration{0};
};

// At most 64 characters, control and non-ASCII bytes as \xNN, quotes and backslashes escaped.
[[nodiscard]] std::string printable(std::string_view text);

// "failed login of user 'alice' from 10.0.0.1: wrong password"
[[nodiscard]] std::string describe(const LoginFailure& failure);
// "login lockout: user 'alice' from 10.0.0.1 after 10 failed logins, for 300 s ..."
[[nodiscard]] std::string describe(const Lockout& lockout);

}  // namespace berth::auth
