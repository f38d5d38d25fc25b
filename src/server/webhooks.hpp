// Events and webhooks as a server runs them: the delivery worker made from the config
// (events/delivery_worker.hpp), and the events of maintenance (a finished collection or
// retention run), noted through the registry's event sink.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "events/delivery_worker.hpp"
#include "lifecycle/garbage_collector.hpp"
#include "lifecycle/retention.hpp"
#include "meta/outbox_store.hpp"
#include "registry/registry.hpp"

namespace berth::server {

// The worker for `config` (not started); `addr` is what the bodies name as their source.
[[nodiscard]] std::unique_ptr<events::DeliveryWorker> make_delivery_worker(
    const config::Config& config, meta::OutboxStore& store, const core::Clock& clock,
    std::string addr);

// A collection ended (successfully): a gc_finished event with its figures.
void note_gc_finished(registry::Registry& registry, const core::Clock& clock,
                      const core::Result<lifecycle::GcReport>& report, std::string_view trigger);

// A project's retention run ended: a retention_finished event with its figures.
void note_retention_finished(registry::Registry& registry, const core::Clock& clock,
                             const lifecycle::Retention::ScheduledRun& run);

}  // namespace berth::server
