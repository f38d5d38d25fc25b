// The events the registry records (meta/outbox_store.hpp): those of a change to the metadata
// ride along in the change's transaction (ManifestPut::events, the events of delete_manifest,
// delete_tag and mount_blob); the others (pulls, quota refusals) go to an EventSink, which
// keeps them in memory and appends them to the outbox off the request path (events/).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/names.hpp"
#include "meta/metadata_store.hpp"
#include "meta/outbox_store.hpp"

namespace berth::registry {

// Who wants which events: the types every project's events go out for (the config's
// endpoints) and, per project, the types its webhooks want. Immutable once made; asked on
// request paths (every pull), so a lookup allocates nothing: a bit per event type.
class Subscriptions {
 public:
  // `types` empty: every type.
  void add_global(const std::vector<std::string>& types);
  void add_project(const std::string& project, const std::vector<std::string>& types);
  // Whether an event of `type` about `project` ("": of no project, as GC's) goes anywhere.
  bool wants(std::string_view type, std::string_view project) const;

 private:
  std::uint32_t global_ = 0;
  std::map<std::string, std::uint32_t, std::less<>> projects_;
};

// Takes events that are no database change, and says which events anyone wants. note() and
// wants() run on request paths (every manifest GET): they must not block on I/O; thread-safe.
// note() gives an id to an event without one.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void note(meta::OutboxEvent event) = 0;
  // Asked before an event is built or written: what nobody wants costs nothing (a pull
  // nobody subscribes to builds no string, and a push writes no row).
  virtual bool wants(std::string_view type, std::string_view project) const = 0;
  // This process added or deleted a webhook: wants() answers for it from now on. Blocking
  // (reads the database).
  virtual void subscriptions_changed() = 0;
};

// Who caused an event, built only when an event is written (it copies the request's
// headers): empty for none known.
using EventOriginFn = std::function<meta::EventOrigin()>;

// An event of `type` about `repo`, with a new id, at `now`.
meta::OutboxEvent make_event(std::string_view type, const core::RepositoryName& repo,
                             core::TimePoint now, const EventOriginFn& origin);

// A pull of `record` (by `tag`, or by digest for ""), without an id: a pull is a hot path,
// and the sink's owner gives the ids off it.
meta::OutboxEvent pull_event(const core::RepositoryName& repo, const meta::ManifestRecord& record,
                             std::string_view tag, core::TimePoint now,
                             const EventOriginFn& origin);

// The push events of a manifest put: one per tag it sets, or one without a tag.
std::vector<meta::OutboxEvent> push_events(const meta::ManifestPut& put,
                                           const EventOriginFn& origin);

}  // namespace berth::registry
