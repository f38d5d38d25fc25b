// The two bodies a webhook may get for an event (meta/outbox_store.hpp):
//  - CloudEvents 1.0, structured mode (application/cloudevents+json): the context attributes
//    (specversion, id, source, type "io.berth.<event>", time, subject) with the event's
//    fields under "data";
//  - Distribution's notification envelope (application/vnd.docker.distribution.events.v2+json):
//    {"events": [ {id, timestamp, action, target, request, actor, source} ]}, the fields
//    Distribution sends, for tools that already read it.
// Both carry the time they are sent (signing.hpp says why).
#pragma once

#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "meta/outbox_store.hpp"

namespace berth::events {

inline constexpr std::string_view kCloudEventsType = "application/cloudevents+json";
inline constexpr std::string_view kDistributionType =
    "application/vnd.docker.distribution.events.v2+json";

// What the bodies say about the sender.
struct Source {
  // The server's address ("registry.example.com:5000"): Distribution's source.addr and the
  // CloudEvents source "/berth/<addr>".
  std::string addr;
  std::string instance_id;
};

std::string cloudevents_body(const meta::OutboxEvent& event, const Source& source,
                             core::TimePoint sent);
std::string distribution_body(const meta::OutboxEvent& event, const Source& source,
                              core::TimePoint sent);

}  // namespace berth::events
