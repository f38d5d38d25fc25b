#include "server/proxy_setup.hpp"

#include <spdlog/spdlog.h>

#include "core/url_credentials.hpp"
#include "lifecycle/maintenance_lease.hpp"

namespace berth::server {
namespace {

proxy::ProxyOptions proxy_options(const config::Config& config,
                                  const config::ProxyConfig& configured) {
  proxy::ProxyOptions options;
  options.project = configured.project;
  options.upstream.url = configured.upstream;
  options.upstream.username = configured.username;
  options.upstream.password = configured.password;
  options.upstream.token_realms = configured.token_realms;
  options.upstream.ca_file = configured.ca_file;
  options.concurrency = configured.concurrency;
  options.manifest_ttl = configured.manifest_ttl;
  options.max_staleness = configured.max_staleness;
  options.max_manifest_bytes = config.http.max_manifest_bytes;
  options.mirror = configured.mirror;
  options.overlay = configured.overlay;
  return options;
}

// Access control needs the project to exist; it starts private (make it public with
// `berth project create` beforehand, or the admin API, for anonymous pulls).
core::Result<void> ensure_project(meta::AccountStore& accounts, const std::string& project,
                                  const core::Clock& clock) {
  auto existing = accounts.get_project(project);
  if (!existing) {
    return core::in_context("cannot read project '" + project + "'", existing.error());
  }
  if (*existing) {
    return {};
  }
  if (auto created = accounts.create_project(meta::Project{project, false, clock.now()});
      !created) {
    return core::in_context("cannot create proxy project '" + project + "'", created.error());
  }
  spdlog::info("created project '{}' for its proxy (private)", project);
  return {};
}

}  // namespace

core::Result<proxy::Proxies> open_proxies(const config::Config& config,
                                          registry::Registry& registry, meta::Stores& stores,
                                          http::BlockingPool& pool, const core::Clock& clock) {
  proxy::Proxies proxies;
  for (const config::ProxyConfig& configured : config.proxies) {
    auto options = proxy_options(config, configured);
    if (config.metadata.driver == "postgres") {
      // Replicas: one fetch of a blob at a time in the cluster (one process needs no lease).
      options.fetch_leases.store = stores.gc.get();
      options.fetch_leases.holder = lifecycle::lease_holder_name("proxy");
    }
    auto made = proxy::ProxyProject::make(std::move(options), registry, *stores.proxy, pool, clock);
    if (!made) {
      return core::in_context("proxy project '" + configured.project + "'", made.error());
    }
    BERTH_TRY(ensure_project(*stores.accounts, configured.project, clock));
    spdlog::info("{} project '{}' {} {}{}", configured.overlay ? "overlay" : "proxy",
                 configured.project, configured.overlay ? "falls back to" : "caches",
                 core::without_url_credentials(configured.upstream),
                 configured.mirror ? " (and serves mirror requests)" : "");
    proxies.add(std::move(*made));
  }
  return proxies;
}

}  // namespace berth::server
