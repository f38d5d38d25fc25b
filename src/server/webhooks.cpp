#include "server/webhooks.hpp"

#include <boost/json.hpp>

#include "lifecycle/gc_report_fields.hpp"

namespace berth::server {
namespace {

meta::OutboxEvent maintenance_event(const char* type, const core::Clock& clock, std::string project,
                                    boost::json::object detail) {
  meta::OutboxEvent event;
  event.id = meta::random_event_id();
  event.type = type;
  event.time = clock.now();
  event.project = std::move(project);
  event.detail_json = boost::json::serialize(detail);
  return event;
}

}  // namespace

std::unique_ptr<events::DeliveryWorker> make_delivery_worker(const config::Config& config,
                                                             meta::OutboxStore& store,
                                                             const core::Clock& clock,
                                                             std::string addr) {
  events::WorkerOptions options{
      .endpoints = {},
      .max_attempts = static_cast<int>(config.events.max_attempts),
      .backoff_base = config.events.backoff_base,
      .backoff_cap = config.events.backoff_cap,
      .timeout = config.events.timeout,
      .concurrency = config.events.concurrency,
      .retention = config.events.retention,
      .poll_interval = config.events.poll_interval,
      // Twice the per-endpoint limit: one dead endpoint holds at most half the threads.
      .threads = 2 * config.events.concurrency,
      .source = events::Source{.addr = std::move(addr), .instance_id = meta::random_event_id()}};
  for (const auto& hook : config.webhooks) {
    options.endpoints.push_back(events::Endpoint{.url = hook.url,
                                                 .secret = hook.secret,
                                                 .events = hook.events,
                                                 .format = hook.format,
                                                 .timeout = hook.timeout});
  }
  return std::make_unique<events::DeliveryWorker>(store, clock, std::move(options));
}

void note_gc_finished(registry::Registry& registry, const core::Clock& clock,
                      const core::Result<lifecycle::GcReport>& report, std::string_view trigger) {
  if (!report || report->dry_run) {
    return;
  }
  // The figures the log line of the collection carries (server/garbage_collection.cpp).
  boost::json::object detail = lifecycle::report_figures(*report);
  detail["trigger"] = trigger;
  detail["cancelled"] = report->cancelled;
  detail["errors"] = report->errors.size();
  registry.note_event(
      maintenance_event(meta::event_type::kGcFinished, clock, "", std::move(detail)));
}

void note_retention_finished(registry::Registry& registry, const core::Clock& clock,
                             const lifecycle::Retention::ScheduledRun& run) {
  if (!run.outcome) {
    return;
  }
  registry.note_event(maintenance_event(
      meta::event_type::kRetentionFinished, clock, run.project,
      boost::json::object{{"tagsDeleted", run.outcome->deleted.tags.size()},
                          {"manifestsDeleted", run.outcome->deleted.manifests.size()},
                          {"freedBytes", run.outcome->freed_bytes}}));
}

}  // namespace berth::server
