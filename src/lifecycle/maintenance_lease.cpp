// MaintenanceLease (maintenance_lease.hpp): polling for the "gc" lease and renewing it.
#include "lifecycle/maintenance_lease.hpp"

#include <unistd.h>

#include <array>
#include <utility>

#include "util/utc_time.hpp"

namespace berth::lifecycle {
namespace {

// How often acquire() asks again while another holder has the lease. A collection takes
// seconds to minutes, so once a second is prompt enough and costs the database nothing.
constexpr std::chrono::seconds kPollInterval{1};

}  // namespace

MaintenanceLease::MaintenanceLease(meta::GcStore& store, const core::Clock& clock,
                                   std::string holder, std::chrono::seconds ttl, std::string name)
    : store_(store), clock_(clock), holder_(std::move(holder)), ttl_(ttl), name_(std::move(name)) {}

MaintenanceLease::~MaintenanceLease() { (void)release(); }

core::Result<void> MaintenanceLease::acquire(const std::function<void()>& on_wait) {
  if (held_) {
    return {};
  }
  bool told = false;
  while (true) {
    auto acquired = try_acquire();
    if (!acquired || *acquired) {
      return acquired ? core::Result<void>() : std::unexpected(acquired.error());
    }
    if (!told && on_wait) {
      on_wait();
    }
    told = true;
    std::this_thread::sleep_for(kPollInterval);
  }
}

core::Result<bool> MaintenanceLease::try_acquire() {
  if (held_) {
    return true;
  }
  auto acquired = store_.acquire_lease(name_, holder_, clock_.now(), ttl_);
  if (acquired && *acquired) {
    start_renewing();
  }
  return acquired;
}

void MaintenanceLease::start_renewing() {
  held_ = true;
  lost_ = false;
  {
    std::lock_guard lock(mutex_);
    stop_ = false;
  }
  renewer_ = std::thread([this] { renew_loop(); });
}

void MaintenanceLease::stop_renewing() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stopped_.notify_all();
  renewer_.join();
  held_ = false;
}

core::Result<void> MaintenanceLease::release() {
  if (!held_) {
    return {};
  }
  stop_renewing();
  if (lost_) {
    return {};  // someone else's now: not ours to release
  }
  return store_.release_lease(name_, holder_);
}

core::Result<void> MaintenanceLease::keep() {
  if (!held_) {
    return {};
  }
  stop_renewing();
  if (lost_) {
    return {};
  }
  auto renewed = store_.acquire_lease(name_, holder_, clock_.now(), ttl_);
  if (!renewed) {
    return std::unexpected(renewed.error());
  }
  return {};
}

void MaintenanceLease::renew_loop() {
  // Renewed well before it expires, so one slow or failed renewal does not lose it.
  const auto interval = std::max<std::chrono::milliseconds>(ttl_ / 3, std::chrono::milliseconds(1));
  auto last_renewed = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!stopped_.wait_for(lock, interval, [this] { return stop_; })) {
    lock.unlock();
    auto renewed = store_.acquire_lease(name_, holder_, clock_.now(), ttl_);
    lock.lock();
    const auto now = std::chrono::steady_clock::now();
    if (renewed && *renewed) {
      last_renewed = now;
    } else if ((renewed && !*renewed) || now - last_renewed >= ttl_) {
      // Taken by another holder, or unrenewable for a whole ttl (it may have lapsed).
      lost_ = true;
      return;
    }
  }
}

std::string lease_holder_name(std::string_view what) {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0) {
    host[0] = '\0';
  }
  return std::string(what) + "@" + host.data() + ":" + std::to_string(getpid()) + " since " +
         util::format_utc(std::chrono::system_clock::now());
}

}  // namespace berth::lifecycle
