#include "server/app.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <stop_token>
#include <thread>

#include "api/api.hpp"
#include "auth/access_control.hpp"
#include "auth/authenticator.hpp"
#include "auth/htpasswd.hpp"
#include "auth/rate_limiter.hpp"
#include "auth/stored_login_throttle.hpp"
#include "auth/token_service.hpp"
#include "core/url_credentials.hpp"
#include "http/blocking_pool.hpp"
#include "http/server.hpp"
#include "lifecycle/garbage_collector.hpp"
#include "lifecycle/maintenance_lease.hpp"
#include "lifecycle/registry_policy_impl.hpp"
#include "lifecycle/retention.hpp"
#include "lifecycle/schedule_lease.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "proxy/proxy.hpp"
#include "registry/registry.hpp"
#include "server/access_setup.hpp"
#include "server/blob_store_setup.hpp"
#include "server/fd_limit.hpp"
#include "server/logging.hpp"
#include "server/maintenance.hpp"
#include "server/metadata_setup.hpp"
#include "server/private_data.hpp"

namespace berth::server {
namespace {

namespace asio = boost::asio;

std::size_t blocking_threads(const config::Config& config) {
  if (config.http.blocking_threads != 0) {
    return config.http.blocking_threads;
  }
  return std::max<std::size_t>(8, 4 * std::max(1u, std::thread::hardware_concurrency()));
}

std::size_t password_threads(const config::Config& config) {
  if (config.auth.password_hash_threads != 0) {
    return config.auth.password_hash_threads;
  }
  return std::max<std::size_t>(2, std::thread::hardware_concurrency());
}

int fail_start(const std::string& message) {
  spdlog::critical("{}", message);
  shutdown_logging();
  return 1;
}

auth::ProjectCreation project_creation(const std::string& setting) {
  if (setting == "users") {
    return auth::ProjectCreation::kUsers;
  }
  if (setting == "nobody") {
    return auth::ProjectCreation::kNobody;
  }
  return auth::ProjectCreation::kAdmins;
}

std::optional<std::string> admin_password_from_environment() {
  const char* value = std::getenv("BERTH_ADMIN_PASSWORD");
  if (value == nullptr || *value == '\0') {
    return std::nullopt;
  }
  return std::string(value);
}

void flush_pull_statistics(lifecycle::RegistryPolicyImpl& policy) {
  if (auto flushed = policy.flush(); !flushed) {
    spdlog::warn("writing pull statistics failed (kept for the next try): {}",
                 flushed.error().message);
  }
}

void run_due_retention(lifecycle::Retention& retention, std::stop_token stop) {
  auto runs = retention.run_due(std::move(stop));
  if (!runs) {
    spdlog::warn("retention: listing the policies failed: {}", runs.error().message);
    return;
  }
  for (const auto& run : *runs) {
    if (!run.outcome) {
      spdlog::warn("retention of project {} failed: {}", run.project, run.outcome.error().message);
      continue;
    }
    spdlog::info(
        "retention of project {}: deleted {} tags and {} manifests ({} skipped: changed since "
        "planned), freeing {} bytes once garbage collection has run",
        run.project, run.outcome->deleted.tags.size(), run.outcome->deleted.manifests.size(),
        run.outcome->skipped_tags + run.outcome->skipped_manifests, run.outcome->freed_bytes);
  }
}

// A periodic job every replica schedules and one of them runs per interval
// (lifecycle/schedule_lease.hpp).
Maintenance::Job on_one_replica(meta::GcStore& store, const core::Clock& clock, std::string job,
                                std::chrono::milliseconds interval, Maintenance::Job run) {
  return [&store, &clock, job = std::move(job), interval, run = std::move(run),
          holder = lifecycle::lease_holder_name("berth-serve")](std::stop_token stop) {
    auto ran = lifecycle::run_on_one_replica(store, clock, job, holder, interval,
                                             [&] { run(std::move(stop)); });
    if (!ran) {
      spdlog::warn("{}: cannot take its lease, skipped: {}", job, ran.error().message);
    } else if (!*ran) {
      spdlog::debug("{}: run by another replica", job);
    }
  };
}

lifecycle::GcOptions gc_options(const config::Config& config) {
  lifecycle::GcOptions options;
  options.blob_grace = config.gc.blob_grace;
  if (config.gc.untagged_after > config::Duration::zero()) {
    options.untagged_after = config.gc.untagged_after;
  }
  return options;
}

// What a collection removed, for operators: each item (the first hundred at info, the rest at
// debug, so a first collection of a big store does not flood the log), the errors, a summary.
void log_gc_report(const lifecycle::GcReport& report, std::string_view trigger) {
  constexpr std::size_t kItemsAtInfo = 100;
  for (std::size_t i = 0; i < report.removed.size(); ++i) {
    const auto& item = report.removed[i];
    spdlog::log(i < kItemsAtInfo ? spdlog::level::info : spdlog::level::debug,
                "garbage collection ({}): {} {} {}{}{} ({} bytes)", trigger,
                report.dry_run ? "would remove" : "removed", lifecycle::item_kind_name(item.kind),
                item.repository, item.repository.empty() ? "" : "@", item.digest.str(), item.size);
  }
  if (report.removed.size() > kItemsAtInfo) {
    spdlog::info("garbage collection ({}): {} more items at debug level", trigger,
                 report.removed.size() - kItemsAtInfo);
  }
  for (const auto& error : report.errors) {
    spdlog::warn("garbage collection ({}): {}", trigger, error);
  }
  const bool quiet = report.removed.empty() && report.errors.empty();
  spdlog::log(quiet ? spdlog::level::debug : spdlog::level::info, "garbage collection ({}): {}",
              trigger, lifecycle::report_summary(report));
}

core::Result<lifecycle::GcReport> collect_garbage(lifecycle::GarbageCollector& collector,
                                                  const lifecycle::GcOptions& options,
                                                  std::string_view trigger) {
  auto report = collector.run(options);
  if (!report) {
    // Another collector running (berth gc, or an earlier run still going) is no failure.
    const bool busy = report.error().code == core::ErrorCode::kConflict;
    spdlog::log(busy ? spdlog::level::info : spdlog::level::warn, "garbage collection ({}): {}",
                trigger, report.error().message);
    return report;
  }
  log_gc_report(*report, trigger);
  return report;
}

}  // namespace

int serve(const config::Config& config, const ServeOptions& options) {
  setup_logging(config.log.format, config.log.level);
  // sendfile(2) and write(2) on a socket the peer has closed must fail with EPIPE, not kill us.
  std::signal(SIGPIPE, SIG_IGN);
  if (auto warning = raise_fd_limit(config.http.max_connections)) {
    spdlog::warn("{}", *warning);
  }

  std::error_code ec;
  std::filesystem::create_directories(config.data, ec);
  if (ec) {
    return fail_start("cannot create data directory " + config.data.string() + ": " + ec.message());
  }
  const auto privacy = make_data_private(DataPaths{.data = config.data,
                                                   .storage_root = config.storage_root(),
                                                   .sqlite_file = config.sqlite_path()});
  for (const auto& message : privacy.messages) {
    spdlog::warn("{}", message);
  }
  std::string blob_storage;
  auto blobs = open_blob_store(config, config::process_environment(), blob_storage);
  if (!blobs) {
    return fail_start("cannot open blob storage (" + blob_storage + "): " + blobs.error().message);
  }
  spdlog::info("blob storage: {}", blob_storage);
  auto stores = open_metadata(config);
  if (!stores) {
    return fail_start("cannot open metadata " + metadata_description(config) + ": " +
                      stores.error().message);
  }
  spdlog::info("metadata: {}", metadata_description(config));
  auto& metadata = *stores->metadata;
  auto& accounts = *stores->accounts;

  core::SystemClock clock;
  // Quotas, immutable tags and pull statistics (lifecycle/registry_policy_impl.hpp).
  lifecycle::RegistryPolicyImpl registry_policy(*stores->policies, metadata, clock);
  registry::Registry registry(
      **blobs, metadata, clock,
      registry::RegistryOptions{.max_manifest_bytes = config.http.max_manifest_bytes,
                                .max_blob_bytes = config.uploads.max_size,
                                .min_free_bytes = config.storage.min_free,
                                // Far below the age at which a purge may take an upload.
                                .upload_touch_interval = std::min<std::chrono::milliseconds>(
                                    std::chrono::minutes(1), config.uploads.max_age / 4)},
      &registry_policy);
  lifecycle::Retention retention(*stores->policies, clock);
  lifecycle::GarbageCollector collector(*stores->gc, **blobs, clock);
  // A collector killed mid-run left tombstones: digests nobody may link until their bytes are
  // gone. Finish them before serving, so pushes of those digests do not wait for the schedule.
  // While the killed collector's lease has not lapsed (this very server killed and restarted
  // within its ttl, or a `berth gc` killed beside us) they are finished as soon as it has
  // (tombstone_check below): waiting for the schedule would refuse those pushes for an hour,
  // or forever with it off.
  auto finish_tombstones = [&](std::string_view trigger, std::stop_token stop) {
    auto finished = collector.finish_tombstones(std::move(stop));
    if (!finished) {
      // Busy is worth saying once at start; every 10 s while a collection runs, it is not.
      const bool busy = finished.error().code == core::ErrorCode::kConflict;
      const auto level = !busy                ? spdlog::level::warn
                         : trigger == "start" ? spdlog::level::info
                                              : spdlog::level::debug;
      spdlog::log(level, "garbage collection ({}): {}", trigger, finished.error().message);
      return;
    }
    log_gc_report(*finished, trigger);
  };
  finish_tombstones("start", {});
  // Requests' disk and database work, and maintenance, each on their own pool: a long
  // collection never takes a thread a request needs.
  http::BlockingPool pool(blocking_threads(config), "requests");
  http::BlockingPool maintenance_pool(config.http.maintenance_threads, "maintenance");
  spdlog::info("blocking pools: {} with {} threads, {} with {}", pool.name(), pool.threads(),
               maintenance_pool.name(), maintenance_pool.threads());
  // Signals and timers run on their own small context, apart from the request loops.
  asio::io_context control;
  Maintenance maintenance(control, maintenance_pool);

  // ---- access control
  auth::TokenServiceOptions token_options;
  token_options.issuer = config.auth.issuer;
  token_options.service = config.auth.service;
  token_options.ttl = std::chrono::duration_cast<std::chrono::seconds>(config.auth.token_ttl);
  auto tokens = auth::TokenService::open(config.signing_key_path(), token_options, clock);
  if (!tokens) {
    return fail_start("cannot open the token signing key " + config.signing_key_path().string() +
                      ": " + tokens.error().message);
  }
  std::unique_ptr<auth::HtpasswdFile> htpasswd;
  if (!config.auth.htpasswd.empty()) {
    htpasswd = std::make_unique<auth::HtpasswdFile>(
        config.auth.htpasswd, [](const std::string& message) { spdlog::warn("{}", message); });
  }
  const auth::RateLimitOptions throttle_options{
      .max_failures_per_address = config.auth.max_login_failures_per_address,
      .max_failures_per_user = config.auth.max_login_failures_per_user,
      .window = std::chrono::duration_cast<std::chrono::seconds>(config.auth.login_failure_window),
      .on_lockout = [](const auth::Lockout& lockout) {
        spdlog::warn("{}", auth::describe(lockout));
      }};
  // Replicas on one PostgreSQL count failed logins together; one embedded process in memory.
  std::unique_ptr<auth::LoginThrottle> limiter;
  if (config.metadata.driver == "postgres") {
    limiter = std::make_unique<auth::StoredLoginThrottle>(*stores->logins, throttle_options, clock);
  } else {
    limiter = std::make_unique<auth::LoginRateLimiter>(throttle_options, clock);
  }
  auth::Authenticator authenticator(
      accounts, htpasswd.get(), *limiter, clock, [](const auth::LoginFailure& failure) {
        // A refusal without a check costs nothing and comes in floods: not worth a line each.
        spdlog::log(failure.throttled ? spdlog::level::debug : spdlog::level::info, "{}",
                    auth::describe(failure));
      });
  api::PasswordPool password_pool(password_threads(config), config.auth.password_hash_queue);

  const auto admin_password = admin_password_from_environment();
  auto enabled = access_control_enabled(config.auth, admin_password, accounts);
  if (!enabled) {
    return fail_start("cannot read the accounts: " + enabled.error().message);
  }
  if (*enabled) {
    auto generated = bootstrap_admin(accounts, admin_password, clock);
    if (!generated) {
      return fail_start("cannot create the administrator: " + generated.error().message);
    }
    if (*generated) {
      // The one time a secret is logged: there is no other way to hand it over.
      spdlog::warn(
          "created the administrator 'admin' with the password {} (shown only this once; change "
          "it with: berth user passwd admin)",
          **generated);
    }
    spdlog::info("access control is on");
  } else {
    spdlog::warn(
        "access control is off: anyone who can reach this server may push, pull and delete. "
        "Set BERTH_ADMIN_PASSWORD to turn it on (see the README, Access control)");
  }
  auth::AccessControl access(accounts, clock,
                             auth::AccessControlOptions{.enabled = *enabled,
                                                        .create_projects_on_push = project_creation(
                                                            config.auth.create_projects_on_push)});

  // ---- proxy projects (pull-through caches)
  proxy::Proxies proxies;
  for (const config::ProxyConfig& configured : config.proxies) {
    proxy::ProxyOptions proxy_options;
    proxy_options.project = configured.project;
    proxy_options.upstream.url = configured.upstream;
    proxy_options.upstream.username = configured.username;
    proxy_options.upstream.password = configured.password;
    proxy_options.upstream.token_realms = configured.token_realms;
    proxy_options.upstream.ca_file = configured.ca_file;
    proxy_options.concurrency = configured.concurrency;
    proxy_options.manifest_ttl = configured.manifest_ttl;
    proxy_options.max_staleness = configured.max_staleness;
    proxy_options.max_manifest_bytes = config.http.max_manifest_bytes;
    proxy_options.mirror = configured.mirror;
    proxy_options.overlay = configured.overlay;
    if (config.metadata.driver == "postgres") {
      // Replicas: one fetch of a blob at a time in the cluster (one process needs no lease).
      proxy_options.fetch_leases.store = stores->gc.get();
      proxy_options.fetch_leases.holder = lifecycle::lease_holder_name("proxy");
    }
    auto made =
        proxy::ProxyProject::make(std::move(proxy_options), registry, *stores->proxy, pool, clock);
    if (!made) {
      return fail_start("proxy project '" + configured.project + "': " + made.error().message);
    }
    // Access control needs the project to exist; it starts private (make it public with
    // `berth project create` beforehand, or the admin API, for anonymous pulls).
    auto existing = accounts.get_project(configured.project);
    if (!existing) {
      return fail_start("cannot read project '" + configured.project +
                        "': " + existing.error().message);
    }
    if (!*existing) {
      if (auto created =
              accounts.create_project(meta::Project{configured.project, false, clock.now()});
          !created) {
        return fail_start("cannot create proxy project '" + configured.project +
                          "': " + created.error().message);
      }
      spdlog::info("created project '{}' for its proxy (private)", configured.project);
    }
    spdlog::info("{} project '{}' {} {}{}", configured.overlay ? "overlay" : "proxy",
                 configured.project, configured.overlay ? "falls back to" : "caches",
                 core::without_url_credentials(configured.upstream),
                 configured.mirror ? " (and serves mirror requests)" : "");
    proxies.add(std::move(*made));
  }

  api::Api api(api::ApiServices{
      .registry = registry,
      .pool = pool,
      .maintenance = &maintenance_pool,
      .options = api::ApiOptions{.max_manifest_bytes = config.http.max_manifest_bytes},
      .ready = [&metadata] { return metadata.ping().has_value(); },
      .accounts = accounts,
      .access = access,
      .authenticator = authenticator,
      .tokens = **tokens,
      .auth =
          api::AuthOptions{.realm = config.auth.realm,
                           .refresh_token_ttl = std::chrono::duration_cast<std::chrono::seconds>(
                               config.auth.refresh_token_ttl)},
      .clock = clock,
      .policies = stores->policies.get(),
      .retention = &retention,
      .collect_garbage =
          [&collector, &config, stop = maintenance.stop_token()](bool dry_run) {
            auto options = gc_options(config);
            options.dry_run = dry_run;
            options.stop = stop;
            return collect_garbage(collector, options, "admin API");
          },
      .proxies = proxies.empty() ? nullptr : &proxies,
      .passwords = &password_pool});

  // ---- HTTP
  http::ServerOptions server_options;
  server_options.listen = config.listen;
  if (config.tls_enabled()) {
    server_options.tls = http::TlsOptions{.listen = config.tls.listen,
                                          .certificate = config.tls.certificate,
                                          .key = config.tls.key,
                                          .reload_check = config.tls.reload_check};
  }
  server_options.warn = [](std::string message) { spdlog::warn("{}", message); };
  server_options.io_threads = config.http.io_threads;
  server_options.header_limit = config.http.max_header_bytes;
  server_options.default_body_limit = config.http.max_manifest_bytes;
  server_options.read_timeout = config.http.read_timeout;
  server_options.write_timeout = config.http.write_timeout;
  server_options.idle_timeout = config.http.idle_timeout;
  server_options.drain_timeout = config.http.drain_timeout;
  server_options.body_min_rate = config.http.body_min_rate;
  server_options.max_connections = config.http.max_connections;
  http::AccessLog access_log;
  if (config.log.access) {
    access_log = log_access;
  }
  http::Server server(
      server_options, [&api](http::Exchange& ex) { return api.handle(ex); }, pool, access_log);
  auto endpoint = server.listen();
  if (!endpoint) {
    return fail_start("cannot listen: " + endpoint.error().message());
  }
  if (!config.listen.empty()) {
    spdlog::info("berth listening on http://{}:{}, data in {}", endpoint->address().to_string(),
                 endpoint->port(), config.data.string());
  }
  if (auto tls = server.tls_endpoint()) {
    spdlog::info("berth listening on https://{}:{}", tls->address().to_string(), tls->port());
  }
  if (options.port_file) {
    std::ofstream(*options.port_file) << endpoint->port() << "\n";
  }
  if (options.tls_port_file && server.tls_endpoint()) {
    std::ofstream(*options.tls_port_file) << server.tls_endpoint()->port() << "\n";
  }

  asio::signal_set signals(control, SIGTERM, SIGINT);
  // Every replica schedules the same jobs; each but the pull statistics (each replica's own, and
  // added to what is recorded) runs on one replica per interval.
  auto& gc_store = *stores->gc;
  const std::chrono::milliseconds token_purge_interval = std::chrono::hours(1);
  maintenance.every(
      "upload purge", config.uploads.purge_interval,
      on_one_replica(
          gc_store, clock, "upload purge", config.uploads.purge_interval, [&](std::stop_token) {
            auto purged = registry.purge_stale_uploads(clock.now() - config.uploads.max_age);
            if (!purged) {
              spdlog::warn("purging abandoned uploads failed: {}", purged.error().message);
            } else if (*purged > 0) {
              spdlog::info("purged {} abandoned uploads", *purged);
            }
          }));
  maintenance.every(
      "token purge", token_purge_interval,
      on_one_replica(gc_store, clock, "token purge", token_purge_interval, [&](std::stop_token) {
        if (auto purged = accounts.purge_refresh_tokens(clock.now()); !purged) {
          spdlog::warn("purging expired refresh tokens failed: {}", purged.error().message);
        }
      }));
  maintenance.every("pull statistics", config.stats.flush_interval,
                    [&](std::stop_token) { flush_pull_statistics(registry_policy); });
  maintenance.every(
      "retention", config.retention.interval,
      on_one_replica(gc_store, clock, "retention", config.retention.interval,
                     [&](std::stop_token stop) { run_due_retention(retention, std::move(stop)); }));
  // Each run also takes the "gc" lease, so one beside `berth gc` only reports that one is
  // running.
  if (config.gc.interval > config::Duration::zero()) {
    maintenance.every("garbage collection", config.gc.interval,
                      on_one_replica(gc_store, clock, "garbage collection", config.gc.interval,
                                     [&](std::stop_token stop) {
                                       auto options = gc_options(config);
                                       options.stop = std::move(stop);
                                       (void)collect_garbage(collector, options, "schedule");
                                     }));
  }
  // Every 10 s: tombstones that are left (a lease lapses in 60 s). Looking is one query; a
  // collection running meanwhile holds the lease and finishes its own.
  maintenance.every("tombstone check", std::chrono::seconds(10), [&](std::stop_token stop) {
    auto left = stores->gc->tombstones();
    if (left && !left->empty()) {
      finish_tombstones("tombstones left by a killed collection", std::move(stop));
    }
  });
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
  std::thread control_thread([&control] { control.run(); });

  server.run();

  // Returns by the drain deadline at the latest: maintenance is asked to stop then, and stops
  // at its next safe step. The control context keeps running meanwhile (it keeps that time).
  maintenance_pool.join();
  control.stop();
  control_thread.join();
  password_pool.join();
  pool.join();
  // The pulls of the last interval: every request has finished, so this is all of them.
  flush_pull_statistics(registry_policy);
  spdlog::info("berth stopped");
  shutdown_logging();
  return 0;
}

}  // namespace berth::server
