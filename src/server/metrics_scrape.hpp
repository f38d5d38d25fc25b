// Everything /metrics says, rendered at scrape time: the request counters of the HTTP server
// and the operations counters (metrics/), the live figures of the process (connections, pool
// queues, proxy counters, start time, build) and the figures only the database knows (storage
// bytes and repositories per project against their quotas). Those are read on the blocking
// pool, never on the event loop, and kept for a few seconds so that several Prometheus
// servers scraping every few seconds cost one query between them.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "http/blocking_pool.hpp"
#include "http/server.hpp"
#include "meta/browse_store.hpp"
#include "metrics/exposition.hpp"
#include "metrics/http_metrics.hpp"
#include "metrics/operations.hpp"
#include "proxy/proxy.hpp"

namespace berth::server {

struct BuildInfo {
  std::string version;
  // "sqlite" or "postgresql"; "filesystem" or "s3".
  std::string metadata;
  std::string storage;
};

struct ScrapeSources {
  const metrics::HttpMetrics& http;
  const metrics::OperationsMetrics& operations;
  // Pools whose queues are shown, by their names.
  std::vector<const http::BlockingPool*> pools;
  // Where the database figures come from, and the pool they are read on.
  meta::BrowseStore* browse = nullptr;
  http::BlockingPool& pool;
  const proxy::Proxies* proxies = nullptr;
  const core::Clock& clock;
  BuildInfo build;
  // How long database figures are reused.
  std::chrono::milliseconds cache_for{std::chrono::seconds(5)};
};

class MetricsScrape {
 public:
  explicit MetricsScrape(ScrapeSources sources);

  // The main server, for its connection counts; until set, they are not shown.
  void watch(const http::Server& server) { server_ = &server; }
  // The text of one scrape. Safe to call from several I/O threads at once.
  boost::asio::awaitable<std::string> render();

 private:
  using Figures = std::vector<meta::ProjectFigures>;
  boost::asio::awaitable<std::optional<Figures>> project_figures();
  void write_process(metrics::Exposition& out) const;
  void write_proxies(metrics::Exposition& out) const;
  static void write_projects(metrics::Exposition& out, const std::optional<Figures>& figures);

  ScrapeSources sources_;
  const http::Server* server_ = nullptr;
  const std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
  // The cached database figures and when they were read; guarded by cache_mutex_, never held
  // across the read itself.
  std::mutex cache_mutex_;
  std::optional<Figures> cached_;
  core::TimePoint cached_at_{};
};

}  // namespace berth::server
