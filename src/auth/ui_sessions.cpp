#include "auth/ui_sessions.hpp"

#include "auth/password.hpp"

namespace berth::auth {
namespace {

core::Error ended(std::string why) {
  return core::Error{core::ErrorCode::kUnauthorized, "the session " + why + "; sign in again", {}};
}

}  // namespace

UiSessions::UiSessions(meta::SessionStore& store, Authenticator& authenticator,
                       const core::Clock& clock, UiSessionOptions options)
    : store_(store), authenticator_(authenticator), clock_(clock), options_(options) {}

core::Result<UiSessions::Opened> UiSessions::open(const Identity& identity) {
  if (identity.kind != Identity::Kind::kUser) {
    return core::fail(core::ErrorCode::kDenied, "only users sign in to the web UI");
  }
  Opened opened{.secret = random_token(""), .csrf_token = random_token("")};
  const auto now = clock_.now();
  BERTH_TRY(store_.create_session(meta::UiSession{.id_hash = token_hash(opened.secret),
                                                  .user = identity.name,
                                                  .account = identity.account,
                                                  .csrf_token = opened.csrf_token,
                                                  .created = now,
                                                  .last_seen = now}));
  return opened;
}

core::Result<UiSessions::Resumed> UiSessions::resume(const std::string& secret) {
  const std::string id_hash = token_hash(secret);
  auto found = store_.get_session(id_hash);
  if (!found) {
    return std::unexpected(found.error());
  }
  if (!*found) {
    return std::unexpected(ended("has ended or never was"));
  }
  const meta::UiSession& session = **found;
  const auto now = clock_.now();
  const bool idle = now - session.last_seen >= options_.idle;
  if (idle || now - session.created >= options_.lifetime) {
    (void)store_.delete_session(id_hash);
    return std::unexpected(ended(idle ? "expired after being idle" : "reached its lifetime"));
  }
  auto identity = authenticator_.identity_of(session.user, session.account);
  if (!identity) {
    if (identity.error().code == core::ErrorCode::kUnauthorized) {
      (void)store_.delete_session(id_hash);
      return std::unexpected(ended("ended: its account changed"));
    }
    return std::unexpected(identity.error());
  }
  if (now - session.last_seen >= options_.touch_interval) {
    BERTH_TRY(store_.touch_session(id_hash, now));
  }
  return Resumed{.identity = std::move(*identity), .csrf_token = session.csrf_token};
}

core::Result<void> UiSessions::close(const std::string& secret) {
  return store_.delete_session(token_hash(secret));
}

core::Result<std::size_t> UiSessions::purge() {
  const auto now = clock_.now();
  return store_.purge_sessions(now - options_.idle, now - options_.lifetime);
}

}  // namespace berth::auth
