#include "registry/events.hpp"

#include <algorithm>
#include <string>

namespace berth::registry {
namespace {

meta::EventOrigin origin_of(const EventOriginFn& origin) {
  return origin ? origin() : meta::EventOrigin{};
}

// Bits of meta::event_type::kAll; empty: all of them.
std::uint32_t mask_of(const std::vector<std::string>& types) {
  std::uint32_t mask = 0;
  for (std::size_t i = 0; i < meta::event_type::kAll.size(); ++i) {
    if (types.empty() || std::ranges::find(types, meta::event_type::kAll[i]) != types.end()) {
      mask |= 1u << i;
    }
  }
  return mask;
}

std::uint32_t bit_of(std::string_view type) {
  for (std::size_t i = 0; i < meta::event_type::kAll.size(); ++i) {
    if (meta::event_type::kAll[i] == type) {
      return 1u << i;
    }
  }
  return 0;
}

}  // namespace

void Subscriptions::add_global(const std::vector<std::string>& types) { global_ |= mask_of(types); }

void Subscriptions::add_project(const std::string& project, const std::vector<std::string>& types) {
  projects_[project] |= mask_of(types);
}

bool Subscriptions::wants(std::string_view type, std::string_view project) const {
  const auto bit = bit_of(type);
  if ((global_ & bit) != 0) {
    return true;
  }
  const auto it = projects_.find(project);
  return it != projects_.end() && (it->second & bit) != 0;
}

meta::OutboxEvent make_event(std::string_view type, const core::RepositoryName& repo,
                             core::TimePoint now, const EventOriginFn& origin) {
  meta::OutboxEvent event;
  event.id = meta::random_event_id();
  event.type = std::string(type);
  event.time = now;
  event.project = std::string(repo.project());
  event.repository = repo.str();
  event.origin = origin_of(origin);
  return event;
}

meta::OutboxEvent pull_event(const core::RepositoryName& repo, const meta::ManifestRecord& record,
                             std::string_view tag, core::TimePoint now,
                             const EventOriginFn& origin) {
  meta::OutboxEvent event;
  event.type = meta::event_type::kPull;
  event.time = now;
  event.project = std::string(repo.project());
  event.repository = repo.str();
  event.digest = record.digest.str();
  event.tag = std::string(tag);
  event.media_type = record.media_type;
  event.size = record.size;
  event.origin = origin_of(origin);
  return event;
}

std::vector<meta::OutboxEvent> push_events(const meta::ManifestPut& put,
                                           const EventOriginFn& origin) {
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
