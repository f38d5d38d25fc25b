#include "auth/login_events.hpp"

#include <cstdio>

namespace berth::auth {
namespace {

constexpr std::size_t kMaxShown = 64;

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (out.size() >= kMaxShown) {
      out += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '\'' || byte == '\\') {
      out += '\\';
      out += static_cast<char>(byte);
    } else if (byte < 0x20 || byte >= 0x7f) {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
    } else {
      out += static_cast<char>(byte);
    }
  }
  return out;
}

std::string describe(const LoginFailure& failure) {
  return "failed login of user '" + printable(failure.user) + "' from " +
         printable(failure.address) + ": " + failure.reason;
}

std::string describe(const Lockout& lockout) {
  const std::string who = lockout.user.empty() ? "address " + printable(lockout.address)
                                               : "user '" + printable(lockout.user) + "' from " +
                                                     printable(lockout.address);
  std::string text = "login lockout: " + who + " after " + std::to_string(lockout.failures) +
                     " failed logins; further logins refused for " +
                     std::to_string(lockout.duration.count()) + " s";
  if (!lockout.user.empty()) {
    text += " (berth user unlock " + printable(lockout.user) + " lifts it)";
  }
  return text;
}

}  // namespace berth::auth
