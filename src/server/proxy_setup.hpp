// The pull-through caches a server runs, one per configured proxy project (config `proxies`).
#pragma once

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "http/blocking_pool.hpp"
#include "meta/stores.hpp"
#include "proxy/proxy.hpp"
#include "registry/registry.hpp"

namespace berth::server {

// Makes every configured proxy project, creating its project (private) when it does not exist
// yet: access control needs one. On PostgreSQL (replicas) a blob is fetched by one replica at a
// time, under a lease. An error names the proxy project that could not be made.
[[nodiscard]] core::Result<proxy::Proxies> open_proxies(const config::Config& config,
                                                        registry::Registry& registry,
                                                        meta::Stores& stores,
                                                        http::BlockingPool& pool,
                                                        const core::Clock& clock);

}  // namespace berth::server
