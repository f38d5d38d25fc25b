// The cluster-wide lease of a blob fetch (see fetch_lease.hpp).
#include "proxy/fetch_lease.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace berth::proxy {
namespace {

namespace asio = boost::asio;

asio::awaitable<void> pause(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace

std::string fetch_lease_name(std::string_view project, const core::Digest& digest) {
  return "proxy:" + std::string(project) + "@" + digest.str();
}

asio::awaitable<core::Result<bool>> claim_fetch_lease(const FetchLeaseOptions& options,
                                                      http::BlockingPool& pool,
                                                      const core::Clock& clock, std::string name,
                                                      std::function<core::Result<bool>()> stored) {
  bool waited = false;
  while (true) {
    auto acquired = co_await http::offload(pool, [&] {
      return options.store->acquire_lease(name, options.holder, clock.now(), options.ttl);
    });
    if (!acquired) {
      co_return std::unexpected(acquired.error());
    }
    if (*acquired) {
      if (!waited) {
        co_return true;
      }
      // The holder we waited for may have stored the blob and released the lease since we
      // last looked: then there is nothing to fetch.
      auto there = co_await http::offload(pool, stored);
      if (!there || *there) {
        (void)co_await http::offload(
            pool, [&] { return options.store->release_lease(name, options.holder); });
        co_return there ? core::Result<bool>(false) : std::unexpected(there.error());
      }
      co_return true;
    }
    if (!waited) {
      spdlog::debug("proxy: {} is being fetched by another replica; waiting for it", name);
      waited = true;
    }
    co_await pause(options.poll);
    auto there = co_await http::offload(pool, stored);
    if (!there) {
      co_return std::unexpected(there.error());
    }
    if (*there) {
      co_return false;
    }
  }
}

asio::awaitable<void> keep_fetch_lease(const FetchLeaseOptions& options, http::BlockingPool& pool,
                                       const core::Clock& clock, std::string name,
                                       std::function<bool()> finished) {
  const auto renew_every = std::chrono::duration_cast<std::chrono::milliseconds>(options.ttl) / 3;
  auto renewed = std::chrono::steady_clock::now();
  while (!finished()) {
    co_await pause(options.poll);
    if (finished() || std::chrono::steady_clock::now() - renewed < renew_every) {
      continue;
    }
    auto kept = co_await http::offload(pool, [&] {
      return options.store->acquire_lease(name, options.holder, clock.now(), options.ttl);
    });
    if (!kept || !*kept) {
      // Another replica may fetch too now; this fetch goes on (its bytes are right either way).
      spdlog::warn("proxy: lost the lease of fetching {}: {}", name,
                   kept ? "another replica took it" : kept.error().message);
    }
    renewed = std::chrono::steady_clock::now();
  }
  if (auto released = co_await http::offload(
          pool, [&] { return options.store->release_lease(name, options.holder); });
      !released) {
    spdlog::warn("proxy: cannot release the lease of fetching {}: {}", name,
                 released.error().message);
  }
}

}  // namespace berth::proxy
