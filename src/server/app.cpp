#include "server/app.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <stop_token>
#include <thread>

#include "api/api.hpp"
#include "audit/audit_log.hpp"
#include "auth/login_events.hpp"
#include "http/blocking_pool.hpp"
#include "http/server.hpp"
#include "lifecycle/garbage_collector.hpp"
#include "lifecycle/registry_policy_impl.hpp"
#include "lifecycle/retention.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "registry/registry.hpp"
#include "server/access_setup.hpp"
#include "server/blob_store_setup.hpp"
#include "server/fd_limit.hpp"
#include "server/garbage_collection.hpp"
#include "server/http_options.hpp"
#include "server/logging.hpp"
#include "server/maintenance.hpp"
#include "server/metadata_setup.hpp"
#include "server/metrics_listener.hpp"
#include "server/metrics_scrape.hpp"
#include "server/private_data.hpp"
#include "server/proxy_setup.hpp"
#include "server/scheduled_jobs.hpp"
#include "server/webhooks.hpp"
#include "ui/site.hpp"

namespace berth::server {
namespace {

namespace asio = boost::asio;

std::size_t blocking_threads(const config::Config& config) {
  if (config.http.blocking_threads != 0) {
    return config.http.blocking_threads;
  }
  return std::max<std::size_t>(8, 4 * std::max(1u, std::thread::hardware_concurrency()));
}

// A pool's configured size, or 0 for one thread per core, at least 2.
std::size_t per_core_unless_set(std::size_t configured) {
  return configured != 0 ? configured
                         : std::max<std::size_t>(2, std::thread::hardware_concurrency());
}

// Posts job to the pool `after` from now; the wait holds no thread (a timer on the pool's
// executor). The pool's join() waits for the timer, so nothing posted is lost at shutdown.
void post_after(http::BlockingPool& pool, std::chrono::milliseconds after,
                std::function<void()> job) {
  if (after <= std::chrono::milliseconds(0)) {
    pool.post(std::move(job));
    return;
  }
  auto timer = std::make_shared<asio::steady_timer>(pool.executor(), after);
  timer->async_wait([&pool, timer, job = std::move(job)](const boost::system::error_code&) mutable {
    pool.post(std::move(job));
  });
}

int fail_start(const std::string& message) {
  spdlog::critical("{}", message);
  shutdown_logging();
  return 1;
}

std::optional<std::string> admin_password_from_environment() {
  const char* value = std::getenv("BERTH_ADMIN_PASSWORD");
  if (value == nullptr || *value == '\0') {
    return std::nullopt;
  }
  return std::string(value);
}

// Where a server keeps everything: the blob storage and the metadata stores.
struct Storage {
  std::unique_ptr<storage::BlobStore> blobs;
  meta::Stores stores;
};

// Creates the data directory (private to this user), then opens the blob storage and the
// metadata stores as configured, logging where each is.
core::Result<Storage> open_storage(const config::Config& config) {
  std::error_code ec;
  std::filesystem::create_directories(config.data, ec);
  if (ec) {
    return core::fail(core::ErrorCode::kInternal,
                      "cannot create data directory " + config.data.string() + ": " + ec.message());
  }
  const auto privacy = make_data_private(DataPaths{.data = config.data,
                                                   .storage_root = config.storage_root(),
                                                   .sqlite_file = config.sqlite_path()});
  for (const auto& message : privacy.messages) {
    spdlog::warn("{}", message);
  }
  std::string where;
  auto blobs = open_blob_store(config, config::process_environment(), where);
  if (!blobs) {
    return core::in_context("cannot open blob storage (" + where + ")", blobs.error());
  }
  spdlog::info("blob storage: {}", where);
  auto stores = open_metadata(config);
  if (!stores) {
    return core::in_context("cannot open metadata " + metadata_description(config), stores.error());
  }
  spdlog::info("metadata: {}", metadata_description(config));
  return Storage{std::move(*blobs), std::move(*stores)};
}

// Writes the port a listener got (for --listen :0) where a test or script reads it.
void write_port_file(const std::optional<std::filesystem::path>& file, unsigned short port) {
  if (file) {
    std::ofstream(*file) << port << "\n";
  }
}

}  // namespace

int serve(const config::Config& config, const ServeOptions& options) {
  setup_logging(config.log.format, config.log.level);
  // sendfile(2) and write(2) on a socket the peer has closed must fail with EPIPE, not kill us.
  std::signal(SIGPIPE, SIG_IGN);
  if (auto warning = raise_fd_limit(config.http.max_connections)) {
    spdlog::warn("{}", *warning);
  }

  auto storage = open_storage(config);
  if (!storage) {
    return fail_start(storage.error().message);
  }
  auto& blobs = *storage->blobs;
  meta::Stores& stores = storage->stores;
  auto& metadata = *stores.metadata;
  auto& accounts = *stores.accounts;

  core::SystemClock clock;
  // Quotas, immutable tags and pull statistics (lifecycle/registry_policy_impl.hpp).
  lifecycle::RegistryPolicyImpl registry_policy(*stores.policies, metadata, clock);
  registry::Registry registry(
      blobs, metadata, clock,
      registry::RegistryOptions{.max_manifest_bytes = config.http.max_manifest_bytes,
                                .max_blob_bytes = config.uploads.max_size,
                                .min_free_bytes = config.storage.min_free,
                                // Far below the age at which a purge may take an upload.
                                .upload_touch_interval = std::min<std::chrono::milliseconds>(
                                    std::chrono::minutes(1), config.uploads.max_age / 4)},
      &registry_policy);
  // Webhooks (events/): the worker notes pulls and maintenance for the outbox, and delivers.
  auto webhooks = make_delivery_worker(config, *stores.outbox, clock, config.listen);
  registry.set_event_sink(webhooks.get());
  lifecycle::Retention retention(*stores.policies, clock);
  lifecycle::GarbageCollector collector(*stores.gc, blobs, clock);
  // A collector killed mid-run left tombstones: digests nobody may link until their bytes are
  // gone. Finish them before serving, so pushes of those digests do not wait for the schedule.
  // While the killed collector's lease has not lapsed (this very server killed and restarted
  // within its ttl, or a `berth gc` killed beside us) they are finished as soon as it has
  // (the tombstone check of scheduled_jobs.hpp): waiting for the schedule would refuse those
  // pushes for an hour, or forever with it off.
  finish_tombstones(collector, "start", {});
  // Requests' disk and database work, their quick metadata reads, and maintenance, each on
  // their own pool: a long collection never takes a thread a request needs, and a push's
  // fsyncs never hold up a pull's lookups (api/context.hpp says why they are apart).
  http::BlockingPool pool(blocking_threads(config), "requests");
  http::BlockingPool lookup_pool(per_core_unless_set(config.http.lookup_threads), "lookups");
  http::BlockingPool maintenance_pool(config.http.maintenance_threads, "maintenance");
  spdlog::info("blocking pools: {} with {} threads, {} with {}, {} with {}", pool.name(),
               pool.threads(), lookup_pool.name(), lookup_pool.threads(), maintenance_pool.name(),
               maintenance_pool.threads());
  // Signals and timers run on their own small context, apart from the request loops.
  asio::io_context control;
  Maintenance maintenance(control, maintenance_pool);

  // ---- metrics (/metrics): counted by the server and the jobs, rendered by the scrape
  metrics::HttpMetrics http_metrics;
  metrics::OperationsMetrics operations;

  // ---- the audit log: drained on the request pool (short batched writes, never a wait)
  audit::AuditLog audit_log(*stores.audit, clock,
                            audit::AuditOptions{.file = config.audit.file, .log = config.audit.log},
                            [&pool](std::chrono::milliseconds after, std::function<void()> job) {
                              post_after(pool, after, std::move(job));
                            });

  // ---- access control
  auto access = open_access_services(
      config, stores, admin_password_from_environment(), clock, &operations,
      [&audit_log](const auth::LoginFailure& failure) {
        audit_log.record_failure(audit::Entry{.actor = auth::printable(failure.user),
                                              .remote = failure.address,
                                              .action = "signin",
                                              .result = "failed",
                                              .status = failure.throttled ? 429 : 401,
                                              .detail = failure.reason});
      });
  if (!access) {
    return fail_start(access.error().message);
  }
  api::PasswordPool password_pool(per_core_unless_set(config.auth.password_hash_threads),
                                  config.auth.password_hash_queue);

  // ---- proxy projects (pull-through caches)
  auto proxies = open_proxies(config, registry, stores, pool, clock);
  if (!proxies) {
    return fail_start(proxies.error().message);
  }

  // ---- the web UI
  ui::Site site(ui::SiteOptions{.enabled = config.ui.enabled, .path = config.ui.path},
                ui::embedded_assets());
  if (site.enabled()) {
    spdlog::info("web UI at {}/{}", site.base(),
                 site.built_in() ? "" : " (not built into this binary: BERTH_UI=OFF)");
  }

  const BuildInfo build{.version = options.version,
                        .metadata = config.metadata.driver == "postgres" ? "postgresql" : "sqlite",
                        .storage = config.storage.driver};
  MetricsScrape scrape(ScrapeSources{.http = http_metrics,
                                     .operations = operations,
                                     .pools = {&pool, &lookup_pool, &maintenance_pool},
                                     .browse = stores.browse.get(),
                                     .pool = pool,
                                     .proxies = proxies->empty() ? nullptr : &*proxies,
                                     .clock = clock,
                                     .build = build});

  auth::UiSessions sessions(*stores.sessions, *access->authenticator, clock,
                            auth::UiSessionOptions{.idle = config.ui.session_idle,
                                                   .lifetime = config.ui.session_lifetime});

  api::Api api(api::ApiServices{
      .registry = registry,
      .pool = pool,
      .maintenance = &maintenance_pool,
      .lookups = &lookup_pool,
      .options = api::ApiOptions{.max_manifest_bytes = config.http.max_manifest_bytes},
      .ready = [&metadata] { return metadata.ping().has_value(); },
      .accounts = accounts,
      .access = *access->access,
      .authenticator = *access->authenticator,
      .tokens = *access->tokens,
      .auth =
          api::AuthOptions{.realm = config.auth.realm,
                           .refresh_token_ttl = std::chrono::duration_cast<std::chrono::seconds>(
                               config.auth.refresh_token_ttl)},
      .verified_tokens = access->verified_tokens.get(),
      .clock = clock,
      .policies = stores.policies.get(),
      .retention = &retention,
      .collect_garbage =
          [&collector, &config, &operations, &audit_log, &registry, &clock,
           stop = maintenance.stop_token()](bool dry_run, const std::string& by) {
            auto options = gc_options(config);
            options.dry_run = dry_run;
            options.started_by = by;
            options.stop = stop;
            auto report = collect_garbage(collector, options, "admin API", &operations, &audit_log);
            note_gc_finished(registry, clock, report, "admin API");
            return report;
          },
      .proxies = proxies->empty() ? nullptr : &*proxies,
      .passwords = &password_pool,
      .ui = &site,
      .browse = stores.browse.get(),
      .gc_history = stores.gc.get(),
      .system =
          api::SystemInfo{
              .version = build.version, .metadata = build.metadata, .storage = build.storage},
      .sessions = &sessions,
      .metrics = [&scrape] { return scrape.render(); },
      .audit = &audit_log,
      .audit_store = stores.audit.get(),
      .outbox = stores.outbox.get(),
      .retention_finished =
          [&operations, &registry, &clock](const lifecycle::Retention::ScheduledRun& run) {
            note_retention_run(&operations, registry, clock, run);
          }});

  // ---- HTTP
  http::AccessLog access_log;
  if (config.log.access) {
    access_log = log_access;
  }
  auto server_options = http_server_options(config);
  server_options.metrics = &http_metrics;
  http::Server server(
      std::move(server_options), [&api](http::Exchange& ex) { return api.handle(ex); }, pool,
      access_log);
  scrape.watch(server);
  auto endpoint = server.listen();
  if (!endpoint) {
    const std::string& where = server.failed_listener();
    return fail_start("cannot listen" + (where.empty() ? std::string() : " on " + where) + ": " +
                      endpoint.error().message());
  }
  if (!config.listen.empty()) {
    spdlog::info("berth listening on http://{}:{}, data in {}", endpoint->address().to_string(),
                 endpoint->port(), config.data.string());
  }
  write_port_file(options.port_file, endpoint->port());
  if (auto tls = server.tls_endpoint()) {
    spdlog::info("berth listening on https://{}:{}", tls->address().to_string(), tls->port());
    write_port_file(options.tls_port_file, tls->port());
  }

  std::optional<MetricsListener> metrics_listener;
  if (!config.metrics.listen.empty()) {
    metrics_listener.emplace(config.metrics.listen, scrape, http_metrics, pool,
                             [](std::string message) { spdlog::warn("{}", message); });
    auto bound = metrics_listener->start();
    if (!bound) {
      return fail_start("cannot listen on " + config.metrics.listen +
                        " (metrics.listen): " + bound.error().message());
    }
    spdlog::info("metrics at http://{}:{}/metrics", bound->address().to_string(), bound->port());
    write_port_file(options.metrics_port_file, bound->port());
  }

  asio::signal_set signals(control, SIGTERM, SIGINT);
  schedule_jobs(maintenance, JobTargets{.config = config,
                                        .clock = clock,
                                        .registry = registry,
                                        .accounts = accounts,
                                        .gc_store = *stores.gc,
                                        .registry_policy = registry_policy,
                                        .retention = retention,
                                        .collector = collector,
                                        .sessions = &sessions,
                                        .operations = &operations,
                                        .audit = &audit_log,
                                        .audit_store = stores.audit.get()});
  if (access->version) {
    // On the request pool: a collection holding the maintenance threads must not hold back
    // what bounds how long a revocation by another process takes.
    maintenance.every(
        "account version", config.auth.cache_sync,
        [&version = *access->version, failing = false](std::stop_token) mutable {
          auto synced = version.sync();
          if (!synced && !failing) {
            spdlog::warn(
                "cannot read the account version (until it can, every request asks "
                "the database who its caller is): {}",
                synced.error().message);
          }
          failing = !synced;
        },
        &pool);
  }
  signals.async_wait([&](boost::system::error_code error, int signal) {
    if (error) {
      return;
    }
    spdlog::info("received {}, draining requests and maintenance (up to {} ms)",
                 signal == SIGTERM ? "SIGTERM" : "SIGINT", config.http.drain_timeout.count());
    // Maintenance in progress gets the time requests get, then is asked to stop.
    maintenance.shutdown(config.http.drain_timeout);
    server.stop();
  });
  maintenance.start();
  webhooks->start();
  std::thread control_thread([&control] { control.run(); });

  server.run();
  if (metrics_listener) {
    metrics_listener->stop();
  }

  // Returns by the drain deadline at the latest: maintenance is asked to stop then, and stops
  // at its next safe step. The control context keeps running meanwhile (it keeps that time).
  maintenance_pool.join();
  control.stop();
  control_thread.join();
  password_pool.join();
  lookup_pool.join();
  pool.join();
  // What the last requests queued: written here, the pool is gone.
  audit_log.close();
  // The pulls of the last interval: every request has finished, so this is all of them.
  flush_pull_statistics(registry_policy);
  // After the requests: the pulls they noted reach the outbox.
  webhooks->stop();
  spdlog::info("berth stopped");
  shutdown_logging();
  return 0;
}

}  // namespace berth::server
