// Single flight across replicas: at most one upstream fetch of a blob at a time in the whole
// cluster, not only in one process. ProxyProject's flights share a fetch among the requests of
// one process; with replicas on one database, the process that leads a flight also takes a
// lease named after the blob (a GcStore lease, as garbage collection and the scheduled jobs
// take theirs) before it asks the upstream. A replica that finds the lease held does not
// fetch: it waits, looking every `poll` whether the blob has been stored (then serves it from
// storage) or the lease is free again (released after a failed fetch, or lapsed because its
// holder died: then it takes the lease and fetches itself). The holder renews the lease while
// its fetch runs and releases it when the fetch ends, so no client waits on a dead replica for
// longer than the lease's ttl.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/digest.hpp"
#include "core/error.hpp"
#include "http/blocking_pool.hpp"
#include "meta/gc_store.hpp"

namespace berth::proxy {

struct FetchLeaseOptions {
  // Where the leases are kept; null: single flight within this process only.
  meta::GcStore* store = nullptr;
  // This process, as the lease names its holder (lifecycle::lease_holder_name).
  std::string holder{};
  // How long a lease holds without renewal: how long clients of other replicas wait at most
  // after a fetching replica died.
  std::chrono::seconds ttl{30};
  // How often a waiting replica looks whether the blob arrived or the lease is free.
  std::chrono::milliseconds poll{200};
};

// The lease of fetching `digest` for proxy project `project`.
[[nodiscard]] std::string fetch_lease_name(std::string_view project, const core::Digest& digest);

// Waits until this process may fetch the blob of lease `name`: true when it holds the lease
// (keep it with keep_fetch_lease), false as soon as stored() finds the blob stored (by another
// replica). Errors of the store or of stored() end the wait.
[[nodiscard]] boost::asio::awaitable<core::Result<bool>> claim_fetch_lease(
    const FetchLeaseOptions& options, http::BlockingPool& pool, const core::Clock& clock,
    std::string name, std::function<core::Result<bool>()> stored);

// Renews the lease every ttl/3 until finished() (the fetch landed, stored or not), then
// releases it. Run it detached beside the fetch.
boost::asio::awaitable<void> keep_fetch_lease(const FetchLeaseOptions& options,
                                              http::BlockingPool& pool, const core::Clock& clock,
                                              std::string name, std::function<bool()> finished);

}  // namespace berth::proxy
