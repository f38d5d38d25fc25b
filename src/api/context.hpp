// What every handler of the HTTP API works with: the services (registry, blocking pool,
// options) and one request's plumbing (answering, failing, running blocking work).
// api/errors.cpp renders errors; this class decides what of an error the client sees.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "api/password_pool.hpp"
#include "api/route.hpp"
#include "auth/access_control.hpp"
#include "auth/authenticator.hpp"
#include "auth/identity.hpp"
#include "auth/token_cache.hpp"
#include "auth/token_service.hpp"
#include "auth/ui_sessions.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/names.hpp"
#include "http/blocking_pool.hpp"
#include "http/server.hpp"
#include "lifecycle/garbage_collector.hpp"
#include "lifecycle/retention.hpp"
#include "meta/outbox_store.hpp"
#include "registry/registry.hpp"

namespace berth::meta {
class PolicyStore;
class BrowseStore;
class GcStore;
}  // namespace berth::meta
namespace berth::lifecycle {
class Retention;
}  // namespace berth::lifecycle
namespace berth::proxy {
class Proxies;
}  // namespace berth::proxy
namespace berth::ui {
class Site;
}  // namespace berth::ui
namespace berth::audit {
class AuditLog;
}  // namespace berth::audit
namespace berth::meta {
class AuditStore;
}  // namespace berth::meta

namespace berth::api {

struct ApiOptions {
  std::uint64_t max_manifest_bytes = 4 * 1024 * 1024;
  // Size of each read of a blob upload body; one such buffer per uploading request.
  std::size_t upload_buffer_bytes = 256 * 1024;
};

// What GET /api/v1/system tells administrators about the server.
struct SystemInfo {
  std::string version;
  // "sqlite" or "postgresql".
  std::string metadata = "sqlite";
  // "filesystem" or "s3".
  std::string storage = "filesystem";
};

struct AuthOptions {
  // The token endpoint URL for challenges; empty: <scheme>://<Host>/token of the request.
  std::string realm;
  std::chrono::seconds refresh_token_ttl{std::chrono::hours(24 * 30)};
};

// The long-lived objects the handlers use. Owned by the server; outlive every request.
struct ApiServices {
  registry::Registry& registry;
  http::BlockingPool& pool;
  // Garbage collection and retention (planning and running) of the admin API; null: they run
  // on `pool`. Apart from `pool` so that a long collection never takes a request's thread.
  http::BlockingPool* maintenance = nullptr;
  // Quick metadata reads (RequestContext::lookup: manifest HEAD, tag lists, the catalog,
  // referrers, identities and decisions the auth caches miss: the database only, never the
  // blob store); null: on `pool`. A few threads
  // apart from `pool`, whose many threads wait on disk writes and fsyncs: handed a stream of
  // short reads, those many sleep and are woken for each (a third of a tags/list's CPU went to
  // the scheduler with 8 request threads), while a few stay busy; and a push's fsyncs never
  // hold up a pull's lookups.
  http::BlockingPool* lookups = nullptr;
  ApiOptions options;
  // Answers /readyz (e.g. "the database answers"); runs on the blocking pool.
  std::function<bool()> ready;
  meta::AccountStore& accounts;
  auth::AccessControl& access;
  auth::Authenticator& authenticator;
  auth::TokenService& tokens;
  AuthOptions auth;
  // Tokens verified before (auth/token_cache.hpp); null: every token's signature is checked.
  auth::TokenCache* verified_tokens = nullptr;
  const core::Clock& clock;
  // Project settings, usage and retention (/api/v1/projects/{p}/settings, usage, retention);
  // null: those endpoints answer 404 and immutable tags are not checked on delete by digest.
  meta::PolicyStore* policies = nullptr;
  lifecycle::Retention* retention = nullptr;
  // POST /api/v1/gc: runs a collection (or a dry run) with the server's options, and logs it;
  // empty: the endpoint answers 404. Blocking (run it on the maintenance pool).
  // `by`: who asked (the run's record, GET /api/v1/gc).
  std::function<core::Result<lifecycle::GcReport>(bool dry_run, const std::string& by)>
      collect_garbage;
  // Pull-through caches (proxy projects); null: none.
  proxy::Proxies* proxies = nullptr;
  // Where passwords are checked and hashed (password_pool.hpp); null: on `pool`, unbounded.
  PasswordPool* passwords = nullptr;
  // The web UI (ui/site.hpp), answering the paths no endpoint takes; null: none (404).
  const ui::Site* ui = nullptr;
  // The browse API (api/browse_*.cpp); null: its endpoints answer 404.
  meta::BrowseStore* browse = nullptr;
  // The history of collections (GET /api/v1/gc); null: an empty history.
  meta::GcStore* gc_history = nullptr;
  SystemInfo system{};
  // The web UI's sign-in sessions (/api/v1/session, the cookie of session_gate.hpp); null:
  // no sessions (sign-in answers that access control is off or sessions are unavailable).
  auth::UiSessions* sessions = nullptr;
  // GET /metrics: renders the Prometheus text (server/metrics_scrape.hpp); empty: 404.
  std::function<boost::asio::awaitable<std::string>()> metrics{};
  // The audit log (api/audit_trail.hpp): where requests' entries are queued, and what
  // GET /api/v1/audit reads; null: nothing is recorded, and the endpoint answers 404.
  audit::AuditLog* audit = nullptr;
  meta::AuditStore* audit_store = nullptr;
  // Project webhooks and webhook deliveries (api/webhook_handlers.hpp); null: 404.
  meta::OutboxStore* outbox = nullptr;
  // Told of each retention run started through the API, as scheduled runs are (its /metrics
  // counters and the retention_finished event); empty: nobody.
  std::function<void(const lifecycle::Retention::ScheduledRun&)> retention_finished{};
};

class RequestContext {
 public:
  RequestContext(ApiServices& services, http::Exchange& exchange, Route route)
      : ex(exchange), route(std::move(route)), services_(services) {}

  http::Exchange& ex;
  const Route route;
  // The repository of /v2/<name>/... endpoints, once validated.
  std::optional<core::RepositoryName> repo;
  // Who is asking, once authenticated (anonymous until then).
  auth::Identity identity;
  // The verified bearer token the request carried (null: none); its `access` is what it grants.
  // Shared with the verified-token cache, so that a request copies no access list.
  std::shared_ptr<const auth::TokenClaims> token;
  // The tags a manifest PUT of this request set, once it stored the manifest.
  std::vector<core::Tag> pushed_tags;
  // What a handler created, named in the body rather than the path (api/audit_trail.hpp).
  std::string audit_target;

  registry::Registry& registry() { return services_.registry; }
  const ApiOptions& options() const { return services_.options; }
  auth::AccessControl& access() { return services_.access; }
  ApiServices& services() { return services_; }

  bool is(boost::beast::http::verb verb) const { return ex.request().method() == verb; }
  // Whether the client wants the connection kept open (HTTP/1.1 default, 1.0 on request).
  bool keep_alive() const;

  // Runs fn on the blocking pool and resumes here with its result.
  template <class Fn>
  boost::asio::awaitable<std::invoke_result_t<Fn>> blocking(Fn fn) {
    co_return co_await http::offload(services_.pool, std::move(fn));
  }

  // Runs fn, a quick read of metadata that touches no blob and syncs nothing, on the lookup
  // pool (ApiServices::lookups) and resumes here with its result.
  template <class Fn>
  boost::asio::awaitable<std::invoke_result_t<Fn>> lookup(Fn fn) {
    http::BlockingPool& pool = services_.lookups != nullptr ? *services_.lookups : services_.pool;
    co_return co_await http::offload(pool, std::move(fn));
  }

  // Runs fn (returning a core::Result) on the blocking pool, and again while it fails because
  // garbage collection is deleting a digest it stores (reason kBlobBeingCollected), for at
  // most the registry's collection_wait. Between tries it waits on a timer: no pool thread
  // waits for a collection, however long a killed one leaves its tombstone.
  template <class Fn>
  boost::asio::awaitable<std::invoke_result_t<Fn&>> blocking_while_collected(Fn fn) {
    CollectionWait wait(registry().options());
    while (true) {
      auto attempt = [&fn] { return fn(); };
      auto result = co_await http::offload(services_.pool, std::move(attempt));
      if (result || !result.error().is(core::ErrorReason::kBlobBeingCollected)) {
        co_return result;
      }
      if (!co_await pause_for_collection(wait)) {
        co_return result;
      }
    }
  }

  // Runs fn, which checks or hashes a password and returns a core::Result, on the password
  // pool; when that pool is full, fn does not run and the result is TOOMANYREQUESTS with a
  // Retry-After.
  template <class Fn>
  boost::asio::awaitable<std::invoke_result_t<Fn>> passwords(Fn fn) {
    using R = std::invoke_result_t<Fn>;
    if (services_.passwords == nullptr) {
      co_return co_await blocking(std::move(fn));
    }
    auto result = co_await services_.passwords->run(std::move(fn));
    if (!result) {
      R busy = std::unexpected(passwords_busy());
      co_return busy;
    }
    co_return std::move(*result);
  }

  // The client's IP address, without the port (what logins are throttled by).
  std::string client_address() const;
  // Who asks and through which request, for the events of what the request changes.
  meta::EventOrigin event_origin() const;
  core::TimePoint clock_now() const { return services_.clock.now(); }

  // Runs fn on the maintenance pool (ApiServices::maintenance) and resumes here with its result.
  template <class Fn>
  boost::asio::awaitable<std::invoke_result_t<Fn>> maintenance(Fn fn) {
    http::BlockingPool& pool =
        services_.maintenance != nullptr ? *services_.maintenance : services_.pool;
    co_return co_await http::offload(pool, std::move(fn));
  }

  // A response with the protocol's common headers.
  http::Response response(boost::beast::http::status status) const;
  boost::asio::awaitable<void> send(http::Response response);
  boost::asio::awaitable<void> respond_text(boost::beast::http::status status, std::string body);
  boost::asio::awaitable<void> respond_json(boost::beast::http::status status, std::string body);
  // Answers with the error. Failures of the machine are logged with the request id and shown
  // to the client without their details.
  boost::asio::awaitable<void> fail(const core::Error& error);
  boost::asio::awaitable<void> fail(core::ErrorCode code, std::string message);
  // 405 with the Allow header of the endpoint (api/route.hpp's allowed_methods), or `allow`
  // where the endpoint has several resources (the admin API).
  boost::asio::awaitable<void> method_not_allowed();
  boost::asio::awaitable<void> method_not_allowed(std::string_view allow);

 private:
  // The state of one blocking_while_collected.
  struct CollectionWait {
    explicit CollectionWait(const registry::RegistryOptions& options)
        : deadline(std::chrono::steady_clock::now() + options.collection_wait),
          pause(options.collection_retry) {}
    std::chrono::steady_clock::time_point deadline;
    std::chrono::milliseconds pause;
    bool logged = false;
  };
  // Waits the next pause; false (at once) when the deadline has passed.
  boost::asio::awaitable<bool> pause_for_collection(CollectionWait& wait);
  static core::Error passwords_busy();

  ApiServices& services_;
};

}  // namespace berth::api
