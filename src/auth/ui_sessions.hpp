// The web UI's sign-in sessions: opened after a successful login (the Authenticator's, with its
// throttle and lockout), resumed from the cookie on every /api/v1 request, closed on sign-out,
// purged by the scheduled maintenance.
//
// A session is a 256-bit random secret (the cookie) and a CSRF token (another, which the UI
// sends in a header with every state-changing call: a page of another site can make the
// browser send the cookie, never the header). The store keeps only the secret's hash
// (meta/session_store.hpp). A session ends:
//  - after `idle` without a request, and `lifetime` after its sign-in whatever happens;
//  - when its user's password changes, the user loses the administrator flag or is deleted
//    (the account store deletes the rows in those transactions, whichever process makes them);
//  - when the account is no longer the one it was opened for: a user deleted and made again
//    under the same name, an htpasswd user whose line changed (Identity::account, as for
//    refresh tokens).
// A use writes last-seen at most once per `touch_interval`, so reading pages costs no write per
// request; the idle lifetime is therefore exact to that interval.
//
// Blocking (database): call from a blocking pool. Thread-safe.
#pragma once

#include <chrono>
#include <string>

#include "auth/authenticator.hpp"
#include "auth/identity.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "meta/session_store.hpp"

namespace berth::auth {

struct UiSessionOptions {
  std::chrono::milliseconds idle{std::chrono::minutes(30)};
  std::chrono::milliseconds lifetime{std::chrono::hours(12)};
  std::chrono::milliseconds touch_interval{std::chrono::minutes(1)};
};

class UiSessions {
 public:
  UiSessions(meta::SessionStore& store, Authenticator& authenticator, const core::Clock& clock,
             UiSessionOptions options = {});

  const UiSessionOptions& options() const { return options_; }

  struct Opened {
    // The cookie's value: the session's secret.
    std::string secret;
    std::string csrf_token;
  };
  // A new session for a user who just signed in. kDenied for robots and anonymous callers.
  [[nodiscard]] core::Result<Opened> open(const Identity& identity);

  struct Resumed {
    Identity identity;
    std::string csrf_token;
  };
  // The session of a cookie, with its user as they are now. UNAUTHORIZED when there is none,
  // it has expired, or its account changed (an expired or orphaned row is deleted then).
  [[nodiscard]] core::Result<Resumed> resume(const std::string& secret);

  // Signs out (nothing if there is no such session).
  [[nodiscard]] core::Result<void> close(const std::string& secret);

  // Deletes the sessions that have expired; returns how many.
  [[nodiscard]] core::Result<std::size_t> purge();

 private:
  meta::SessionStore& store_;
  Authenticator& authenticator_;
  const core::Clock& clock_;
  UiSessionOptions options_;
};

}  // namespace berth::auth
