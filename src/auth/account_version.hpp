// What the auth layer's caches of accounts (account_cache.hpp, credential_cache.hpp) are valid
// for: who someone is and what they may do, as of one version of the accounts. The version is
// three counters; when any of them moves, every cached answer is stale:
//  - the changes this process committed through its account store
//    (meta::AccountStore::changes_committed): seen at once, so a change made through this
//    server's API holds from its very next request;
//  - the account version in the database as sync() last read it: the changes of `berth`
//    commands and of other replicas, seen within one sync interval (auth.cache_sync);
//  - the htpasswd file's generation, which moves when it is re-read (sync() has it re-checked,
//    since cached answers ask it nothing);
//  - the failed syncs: a version that cannot be read might have moved, so nothing is answered
//    from memory past one interval that the database could not vouch for.
// A cache reads the version before it asks the store and keeps the answer under that
// version, so an answer that raced with a change is stale the moment it is kept.
#pragma once

#include <atomic>
#include <cstdint>

#include "auth/htpasswd.hpp"
#include "core/error.hpp"
#include "meta/account_store.hpp"

namespace berth::auth {

struct AccountEpoch {
  std::uint64_t own = 0;
  std::int64_t stored = 0;
  std::uint64_t htpasswd = 0;
  std::uint64_t failed_syncs = 0;

  bool operator==(const AccountEpoch&) const = default;
};

class AccountVersion {
 public:
  // htpasswd may be null. Both must outlive this.
  AccountVersion(meta::AccountStore& accounts, HtpasswdFile* htpasswd);

  // Never blocks.
  [[nodiscard]] AccountEpoch current() const;
  // Reads the version from the database and re-checks the htpasswd file. Blocking: the server
  // runs it on its request pool every auth.cache_sync, and once before it serves.
  [[nodiscard]] core::Result<void> sync();

 private:
  meta::AccountStore& accounts_;
  HtpasswdFile* htpasswd_;
  std::atomic<std::int64_t> stored_{0};
  std::atomic<std::uint64_t> failed_syncs_{0};
};

}  // namespace berth::auth
