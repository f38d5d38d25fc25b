#include "server/app.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <fstream>
#include <thread>

#include "api/api.hpp"
#include "http/blocking_pool.hpp"
#include "http/server.hpp"
#include "meta/sqlite_metadata_store.hpp"
#include "registry/registry.hpp"
#include "server/logging.hpp"
#include "storage/fs_blob_store.hpp"

namespace berth::server {
namespace {

namespace asio = boost::asio;

std::size_t blocking_threads(const config::Config& config) {
  if (config.http.blocking_threads != 0) {
    return config.http.blocking_threads;
  }
  return std::max<std::size_t>(8, 4 * std::max(1u, std::thread::hardware_concurrency()));
}

// Deletes abandoned uploads every purge_interval, on the blocking pool.
class UploadPurger {
 public:
  UploadPurger(asio::io_context& ctx, registry::Registry& registry, http::BlockingPool& pool,
               const core::Clock& clock, const config::UploadsConfig& config)
      : timer_(ctx), registry_(registry), pool_(pool), clock_(clock), config_(config) {}

  void start() { schedule(); }
  void stop() { timer_.cancel(); }

 private:
  void schedule() {
    timer_.expires_after(config_.purge_interval);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) {
        return;
      }
      asio::post(pool_.executor(), [this] {
        auto purged = registry_.purge_stale_uploads(clock_.now() - config_.max_age);
        if (!purged) {
          spdlog::warn("purging abandoned uploads failed: {}", purged.error().message);
        } else if (*purged > 0) {
          spdlog::info("purged {} abandoned uploads", *purged);
        }
      });
      schedule();
    });
  }

  asio::steady_timer timer_;
  registry::Registry& registry_;
  http::BlockingPool& pool_;
  const core::Clock& clock_;
  config::UploadsConfig config_;
};

}  // namespace

int serve(const config::Config& config, const ServeOptions& options) {
  setup_logging(config.log.format, config.log.level);
  // sendfile(2) and write(2) on a socket the peer has closed must fail with EPIPE, not kill us.
  std::signal(SIGPIPE, SIG_IGN);

  std::error_code ec;
  std::filesystem::create_directories(config.data, ec);
  if (ec) {
    spdlog::critical("cannot create data directory {}: {}", config.data.string(), ec.message());
    shutdown_logging();
    return 1;
  }
  auto blobs = storage::open_fs_blob_store(config.storage_root());
  if (!blobs) {
    spdlog::critical("cannot open blob storage at {}: {}", config.storage_root().string(),
                     blobs.error().message);
    shutdown_logging();
    return 1;
  }
  auto meta = meta::open_sqlite_metadata_store(meta::SqliteOptions{config.sqlite_path().string()});
  if (!meta) {
    spdlog::critical("cannot open metadata database {}: {}", config.sqlite_path().string(),
                     meta.error().message);
    shutdown_logging();
    return 1;
  }

  core::SystemClock clock;
  registry::Registry registry(
      **blobs, **meta, clock,
      registry::RegistryOptions{.max_manifest_bytes = config.http.max_manifest_bytes});
  http::BlockingPool pool(blocking_threads(config));
  auto& metadata = **meta;
  api::Api api(registry, pool,
               api::ApiOptions{.max_manifest_bytes = config.http.max_manifest_bytes},
               [&metadata] { return metadata.ping().has_value(); });

  http::ServerOptions server_options;
  server_options.listen = config.listen;
  server_options.io_threads = config.http.io_threads;
  server_options.header_limit = config.http.max_header_bytes;
  server_options.default_body_limit = config.http.max_manifest_bytes;
  server_options.read_timeout = config.http.read_timeout;
  server_options.write_timeout = config.http.write_timeout;
  server_options.idle_timeout = config.http.idle_timeout;
  server_options.drain_timeout = config.http.drain_timeout;
  http::AccessLog access_log;
  if (config.log.access) {
    access_log = log_access;
  }
  http::Server server(
      server_options, [&api](http::Exchange& ex) { return api.handle(ex); }, pool, access_log);
  auto endpoint = server.listen();
  if (!endpoint) {
    spdlog::critical("cannot listen on {}: {}", config.listen, endpoint.error().message());
    shutdown_logging();
    return 1;
  }
  spdlog::info("berth listening on {}:{}, data in {}", endpoint->address().to_string(),
               endpoint->port(), config.data.string());
  if (options.port_file) {
    std::ofstream(*options.port_file) << endpoint->port() << "\n";
  }

  // Signals and timers run on their own small context, apart from the request loops.
  asio::io_context control;
  asio::signal_set signals(control, SIGTERM, SIGINT);
  UploadPurger purger(control, registry, pool, clock, config.uploads);
  signals.async_wait([&](boost::system::error_code error, int signal) {
    if (error) {
      return;
    }
    spdlog::info("received {}, draining requests (up to {} ms)",
                 signal == SIGTERM ? "SIGTERM" : "SIGINT", config.http.drain_timeout.count());
    purger.stop();
    server.stop();
  });
  purger.start();
  std::thread control_thread([&control] { control.run(); });

  server.run();

  control.stop();
  control_thread.join();
  pool.join();
  spdlog::info("berth stopped");
  shutdown_logging();
  return 0;
}

}  // namespace berth::server
