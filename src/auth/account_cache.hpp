// Who an account is (Authenticator::identity_of) and what it may do in a project
// (AccessControl::may), as the account store last answered, kept for one account version
// (account_version.hpp). A Bearer request whose token, identity and decision are all known
// makes no database read and no pool round trip.
//
// Only what the store answered is kept, never a refusal of who someone is (a revoked robot, a
// deleted user): those are asked again each time, and a change ends every answer at once
// (through this process) or within auth.cache_sync (through another). A robot's identity is
// not kept past the robot's expiry.
//
// A decision depends on who asks (kind, name, administrator, a robot's scopes), the project and
// the action, and on the accounts; the first three are its key, the accounts its version.
//
// Bounded (ShardedCache). Thread-safe; never blocks beyond a shard's mutex.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "auth/access_control.hpp"
#include "auth/account_version.hpp"
#include "auth/identity.hpp"
#include "auth/sharded_cache.hpp"
#include "core/clock.hpp"

namespace berth::auth {

class AccountCache {
 public:
  static constexpr std::size_t kDefaultCapacity = 16 * 1024;

  // version and clock must outlive the cache. `capacity` for each of identities and decisions.
  AccountCache(const AccountVersion& version, const core::Clock& clock,
               std::size_t capacity = kDefaultCapacity);

  // The version to keep an answer under: read it before asking the store.
  [[nodiscard]] AccountEpoch epoch() const { return version_.current(); }

  [[nodiscard]] std::optional<Identity> identity(const std::string& subject,
                                                 const std::string& account);
  void remember_identity(const AccountEpoch& epoch, const std::string& subject,
                         const std::string& account, const Identity& identity);

  [[nodiscard]] std::optional<bool> decision(const Identity& identity, std::string_view project,
                                             Action action);
  void remember_decision(const AccountEpoch& epoch, const Identity& identity,
                         std::string_view project, Action action, bool allowed);

  [[nodiscard]] std::size_t identities() const { return identities_.size(); }
  [[nodiscard]] std::size_t decisions() const { return decisions_.size(); }

 private:
  struct KnownIdentity {
    Identity identity;
    AccountEpoch epoch;
  };
  struct KnownDecision {
    bool allowed = false;
    AccountEpoch epoch;
  };

  const AccountVersion& version_;
  const core::Clock& clock_;
  ShardedCache<KnownIdentity> identities_;
  ShardedCache<KnownDecision> decisions_;
};

}  // namespace berth::auth
