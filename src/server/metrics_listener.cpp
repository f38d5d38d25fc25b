#include "server/metrics_listener.hpp"

#include <boost/beast/http/status.hpp>

namespace berth::server {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

constexpr std::size_t kMaxConnections = 64;

http::ServerOptions listener_options(const std::string& listen, metrics::HttpMetrics& metrics,
                                     std::function<void(std::string)> warn) {
  http::ServerOptions options;
  options.listen = listen;
  options.io_threads = 1;
  options.max_connections = kMaxConnections;
  options.warn = std::move(warn);
  options.metrics = &metrics;
  return options;
}

asio::awaitable<void> answer(MetricsScrape& scrape, http::Exchange& exchange) {
  const auto& request = exchange.request();
  const auto target = std::string_view(request.target());
  const bool metrics_path = target == "/metrics" || target.starts_with("/metrics?");
  exchange.set_route(metrics_path ? metrics::RouteClass::kMetrics : metrics::RouteClass::kOther);
  http::Response response{bhttp::status::ok, request.version()};
  response.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  if (!metrics_path) {
    response.result(bhttp::status::not_found);
    response.body() = "not found: this listener serves /metrics only\n";
  } else if (request.method() != bhttp::verb::get && request.method() != bhttp::verb::head) {
    response.result(bhttp::status::method_not_allowed);
    response.set(bhttp::field::allow, "GET, HEAD");
    response.body() = "method not allowed\n";
  } else {
    response.set(bhttp::field::content_type, metrics::kContentType);
    response.body() = co_await scrape.render();
  }
  co_await exchange.respond(std::move(response));
}

}  // namespace

MetricsListener::MetricsListener(const std::string& listen, MetricsScrape& scrape,
                                 metrics::HttpMetrics& metrics, http::BlockingPool& pool,
                                 std::function<void(std::string)> warn)
    : server_(listener_options(listen, metrics, std::move(warn)),
              [&scrape](http::Exchange& exchange) { return answer(scrape, exchange); }, pool, {}) {}

MetricsListener::~MetricsListener() { stop(); }

http::IoResult<asio::ip::tcp::endpoint> MetricsListener::start() {
  auto endpoint = server_.listen();
  if (endpoint) {
    thread_ = std::thread([this] { server_.run(); });
  }
  return endpoint;
}

void MetricsListener::stop() {
  if (thread_.joinable()) {
    server_.stop();
    thread_.join();
  }
}

}  // namespace berth::server
