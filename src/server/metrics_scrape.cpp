#include "server/metrics_scrape.hpp"

#include <spdlog/spdlog.h>

namespace berth::server {

namespace asio = boost::asio;

MetricsScrape::MetricsScrape(ScrapeSources sources) : sources_(std::move(sources)) {}

asio::awaitable<std::optional<MetricsScrape::Figures>> MetricsScrape::project_figures() {
  if (sources_.browse == nullptr) {
    co_return std::nullopt;
  }
  const auto now = sources_.clock.now();
  {
    std::lock_guard lock(cache_mutex_);
    if (cached_ && now - cached_at_ < sources_.cache_for) {
      co_return cached_;
    }
  }
  auto read = [browse = sources_.browse] { return browse->project_figures(); };
  auto figures = co_await http::offload(sources_.pool, std::move(read));
  if (!figures) {
    spdlog::warn("metrics: cannot read the projects' figures: {}", figures.error().message);
    co_return std::nullopt;
  }
  std::lock_guard lock(cache_mutex_);
  cached_ = std::move(*figures);
  cached_at_ = now;
  co_return cached_;
}

void MetricsScrape::write_process(metrics::Exposition& out) const {
  const auto& build = sources_.build;
  out.family("berth_build_info", "gauge", "Always 1; the labels say which Berth this is.");
  out.sample("berth_build_info",
             {{"version", build.version}, {"metadata", build.metadata}, {"storage", build.storage}},
             std::uint64_t{1});
  out.family("process_start_time_seconds", "gauge",
             "Start time of the process since the Unix epoch, in seconds.");
  out.sample("process_start_time_seconds", {},
             std::chrono::duration<double>(started_.time_since_epoch()).count());
  if (server_ != nullptr) {
    out.family("berth_http_connections", "gauge", "Client connections open now.");
    out.sample("berth_http_connections", {}, std::uint64_t{server_->connection_count()});
    out.family("berth_http_connections_refused_total", "counter",
               "Connections refused because http.max_connections were open.");
    out.sample("berth_http_connections_refused_total", {}, server_->refused_connections());
  }
  out.family("berth_pool_queued", "gauge",
             "Jobs waiting for a thread of a blocking pool (requests: disk and database work of "
             "requests; maintenance: collections, retention, purges).");
  for (const http::BlockingPool* pool : sources_.pools) {
    out.sample("berth_pool_queued", {{"pool", pool->name()}}, std::uint64_t{pool->queued()});
  }
  out.family("berth_pool_running", "gauge", "Jobs running on a blocking pool's threads.");
  for (const http::BlockingPool* pool : sources_.pools) {
    out.sample("berth_pool_running", {{"pool", pool->name()}}, std::uint64_t{pool->running()});
  }
  out.family("berth_pool_threads", "gauge", "Threads of a blocking pool.");
  for (const http::BlockingPool* pool : sources_.pools) {
    out.sample("berth_pool_threads", {{"pool", pool->name()}}, std::uint64_t{pool->threads()});
  }
}

void MetricsScrape::write_proxies(metrics::Exposition& out) const {
  std::vector<std::pair<std::string, proxy::ProxyStats>> stats;
  if (sources_.proxies != nullptr) {
    for (proxy::ProxyProject* project : sources_.proxies->all()) {
      stats.emplace_back(project->options().project, project->stats());
    }
  }
  struct Family {
    const char* name;
    const char* help;
    std::uint64_t proxy::ProxyStats::*field;
  };
  static constexpr Family kFamilies[] = {
      {"berth_proxy_manifest_hits_total", "Manifests a proxy project answered from its cache.",
       &proxy::ProxyStats::manifest_hits},
      {"berth_proxy_manifest_misses_total", "Manifests a proxy project fetched from its upstream.",
       &proxy::ProxyStats::manifest_fetches},
      {"berth_proxy_blob_misses_total", "Blobs a proxy project fetched from its upstream.",
       &proxy::ProxyStats::blob_fetches},
      {"berth_proxy_blob_links_total",
       "Blobs a proxy project linked from another of its repositories instead of fetching.",
       &proxy::ProxyStats::blob_links},
      {"berth_proxy_stale_answers_total",
       "Manifests served from the cache although the upstream could not confirm them.",
       &proxy::ProxyStats::stale_serves},
      {"berth_proxy_upstream_errors_total",
       "Upstream requests that failed or were refused (unreachable, error status, bad digest).",
       &proxy::ProxyStats::upstream_errors},
      {"berth_proxy_upstream_bytes_total", "Blob bytes read from a proxy project's upstream.",
       &proxy::ProxyStats::blob_bytes_fetched},
  };
  for (const Family& family : kFamilies) {
    out.family(family.name, "counter", family.help);
    for (const auto& [project, figures] : stats) {
      out.sample(family.name, {{"project", project}}, figures.*(family.field));
    }
  }
}

void MetricsScrape::write_projects(metrics::Exposition& out,
                                   const std::optional<Figures>& figures) {
  out.family("berth_database_figures_up", "gauge",
             "1 when the projects' figures below could be read from the database.");
  out.sample("berth_database_figures_up", {}, std::uint64_t{figures ? 1u : 0u});
  if (!figures) {
    return;
  }
  out.family("berth_project_storage_bytes", "gauge",
             "Bytes a project holds (each blob counted once per project), as quotas count them.");
  for (const auto& project : *figures) {
    out.sample("berth_project_storage_bytes", {{"project", project.project}}, project.bytes);
  }
  out.family("berth_project_repositories", "gauge",
             "Repositories of a project holding at least one manifest.");
  for (const auto& project : *figures) {
    out.sample("berth_project_repositories", {{"project", project.project}}, project.repositories);
  }
  out.family("berth_project_quota_bytes", "gauge",
             "A project's storage quota in bytes; projects without one are left out.");
  for (const auto& project : *figures) {
    if (project.quota_bytes) {
      out.sample("berth_project_quota_bytes", {{"project", project.project}}, *project.quota_bytes);
    }
  }
  out.family("berth_project_quota_repositories", "gauge",
             "A project's repository quota; projects without one are left out.");
  for (const auto& project : *figures) {
    if (project.quota_repositories) {
      out.sample("berth_project_quota_repositories", {{"project", project.project}},
                 *project.quota_repositories);
    }
  }
}

asio::awaitable<std::string> MetricsScrape::render() {
  auto figures = co_await project_figures();
  metrics::Exposition out;
  sources_.http.write(out);
  sources_.operations.write(out);
  write_process(out);
  write_proxies(out);
  write_projects(out, figures);
  co_return out.take();
}

}  // namespace berth::server
