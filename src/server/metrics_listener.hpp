// The metrics listener (metrics.listen): an HTTP server of its own that answers GET /metrics
// without authentication and 404 to everything else, for a Prometheus on a private network or
// on the host. Apart from the main server so that the registry's access control and its
// connection limit do not apply, and so that it can be bound to an address clients never see.
// One I/O thread: a scrape is a few times a minute.
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "http/server.hpp"
#include "server/metrics_scrape.hpp"

namespace berth::server {

class MetricsListener {
 public:
  // warn: problems worth an operator's attention (http::ServerOptions::warn).
  MetricsListener(const std::string& listen, MetricsScrape& scrape, metrics::HttpMetrics& metrics,
                  http::BlockingPool& pool, std::function<void(std::string)> warn);
  ~MetricsListener();
  MetricsListener(const MetricsListener&) = delete;
  MetricsListener& operator=(const MetricsListener&) = delete;

  // Binds, then serves on a thread of its own until stop().
  [[nodiscard]] http::IoResult<boost::asio::ip::tcp::endpoint> start();
  // Drains and joins; safe to call more than once.
  void stop();

 private:
  http::Server server_;
  std::thread thread_;
};

}  // namespace berth::server
