// Every metadata store over one database, as the server opens them: the same shape whichever
// database holds the metadata (sqlite_metadata_store.hpp, pg_stores.hpp).
#pragma once

#include <memory>

#include "meta/account_store.hpp"
#include "meta/audit_store.hpp"
#include "meta/browse_store.hpp"
#include "meta/check_store.hpp"
#include "meta/gc_store.hpp"
#include "meta/login_throttle_store.hpp"
#include "meta/metadata_store.hpp"
#include "meta/outbox_store.hpp"
#include "meta/policy_store.hpp"
#include "meta/proxy_store.hpp"
#include "meta/session_store.hpp"

namespace berth::meta {

// Views of one database, sharing its connections. Any may outlive the others; the database
// closes when all are gone.
struct Stores {
  std::shared_ptr<MetadataStore> metadata;
  std::shared_ptr<AccountStore> accounts;
  // For berth check and berth backup.
  std::shared_ptr<CheckStore> check;
  // Project settings, usage and pull statistics (lifecycle: quotas, retention).
  std::shared_ptr<PolicyStore> policies;
  // Garbage collection's view (lifecycle/garbage_collector).
  std::shared_ptr<GcStore> gc;
  // What pull-through caches remember (proxy/).
  std::shared_ptr<ProxyStore> proxy;
  // Failed logins, for throttling shared by every process on the database (auth/).
  std::shared_ptr<LoginThrottleStore> logins;
  // What the web UI and scripts browse (api/browse_*.cpp).
  std::shared_ptr<BrowseStore> browse;
  // The web UI's sign-in sessions (auth/ui_sessions.hpp).
  std::shared_ptr<SessionStore> sessions;
  // The audit log (audit/audit_log.hpp).
  std::shared_ptr<AuditStore> audit;
  // Events and their webhook deliveries (events/).
  std::shared_ptr<OutboxStore> outbox;
};

}  // namespace berth::meta
