// The events the registry records (meta/outbox_store.hpp): those of a change to the metadata
// ride along in the change's transaction (ManifestPut::events, the events of delete_manifest,
// delete_tag and mount_blob); the others (pulls, quota refusals) go to an EventSink, which
// keeps them in memory and appends them to the outbox off the request path (events/).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/names.hpp"
#include "meta/metadata_store.hpp"
#include "meta/outbox_store.hpp"

namespace berth::registry {

// Takes events that are no database change. note() runs on request paths (every manifest
// GET): it must not block on I/O; thread-safe. It gives an id to an event without one.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void note(meta::OutboxEvent event) = 0;
};

// An event of `type` about `repo`, with a new id, at `now`.
meta::OutboxEvent make_event(std::string_view type, const core::RepositoryName& repo,
                             core::TimePoint now, const meta::EventOrigin& origin);

// A pull of `record` (by `tag`, or by digest for ""), without an id: a pull is a hot path,
// and the sink's owner gives the ids off it.
meta::OutboxEvent pull_event(const core::RepositoryName& repo, const meta::ManifestRecord& record,
                             std::string_view tag, core::TimePoint now,
                             const meta::EventOrigin& origin);

// The push events of a manifest put: one per tag it sets, or one without a tag.
std::vector<meta::OutboxEvent> push_events(const meta::ManifestPut& put,
                                           const meta::EventOrigin& origin);

}  // namespace berth::registry
