// SessionStore: the web UI's sign-in sessions, kept in the database so that every replica
// knows every session and a restart signs nobody out.
//
// A session is a random secret in a cookie; only its SHA-256 is stored (as for robot and
// refresh tokens), so a copy of the database signs nobody in. The CSRF token stored beside it
// is no credential on its own (it is sent only with the cookie). What ends a session early is
// written in the account store's own transactions: changing a user's password, taking their
// administrator flag and deleting them delete their sessions (sql_account_store.hpp); an
// htpasswd user's changed line is caught when the session is used (auth::Authenticator's
// identity_of compares the account a session was opened for).
//
// Contract (session_store_contract_test.cpp): blocking, thread-safe, one transaction per
// method, on SQLite and PostgreSQL alike.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace berth::meta {

using core::Result;

struct UiSession {
  // SHA-256 (hex) of the cookie's secret.
  std::string id_hash;
  std::string user;
  // auth::Identity::account at sign-in: a session of an account since replaced names another.
  std::string account;
  std::string csrf_token;
  core::TimePoint created{};
  core::TimePoint last_seen{};
};

class SessionStore {
 public:
  virtual ~SessionStore() = default;

  // kConflict if a session with that hash exists (a 256-bit secret never repeats).
  [[nodiscard]] virtual Result<void> create_session(const UiSession& session) = 0;
  [[nodiscard]] virtual Result<std::optional<UiSession>> get_session(
      const std::string& id_hash) = 0;
  // Records a use (callers write at most once a minute per session). No session: nothing.
  [[nodiscard]] virtual Result<void> touch_session(const std::string& id_hash,
                                                   core::TimePoint now) = 0;
  // Signs out. No session: nothing.
  [[nodiscard]] virtual Result<void> delete_session(const std::string& id_hash) = 0;
  // Deletes the sessions last used before `idle_before` or created before `created_before`;
  // returns how many.
  [[nodiscard]] virtual Result<std::size_t> purge_sessions(core::TimePoint idle_before,
                                                           core::TimePoint created_before) = 0;
};

}  // namespace berth::meta
