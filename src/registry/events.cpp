#include "registry/events.hpp"

#include <string>

namespace berth::registry {

meta::OutboxEvent make_event(std::string_view type, const core::RepositoryName& repo,
                             core::TimePoint now, const meta::EventOrigin& origin) {
  meta::OutboxEvent event;
  event.id = meta::random_event_id();
  event.type = std::string(type);
  event.time = now;
  event.project = std::string(repo.project());
  event.repository = repo.str();
  event.origin = origin;
  return event;
}

meta::OutboxEvent pull_event(const core::RepositoryName& repo, const meta::ManifestRecord& record,
                             std::string_view tag, core::TimePoint now,
                             const meta::EventOrigin& origin) {
  meta::OutboxEvent event;
  event.type = meta::event_type::kPull;
  event.time = now;
  event.project = std::string(repo.project());
  event.repository = repo.str();
  event.digest = record.digest.str();
  event.tag = std::string(tag);
  event.media_type = record.media_type;
  event.size = record.size;
  event.origin = origin;
  return event;
}

std::vector<meta::OutboxEvent> push_events(const meta::ManifestPut& put,
                                           const meta::EventOrigin& origin) {
  auto base = make_event(meta::event_type::kPush, put.repository, put.manifest.created, origin);
  base.digest = put.manifest.digest.str();
  base.media_type = put.manifest.media_type;
  base.size = put.manifest.size;
  std::vector<meta::OutboxEvent> events;
  if (put.tags.empty()) {
    events.push_back(std::move(base));
    return events;
  }
  for (const auto& tag : put.tags) {
    auto event = base;
    event.id = meta::random_event_id();
    event.tag = tag.str();
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace berth::registry
