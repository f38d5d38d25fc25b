// Planning and applying retention (see retention.hpp). The planner is a pure function over a
// snapshot, so what preview shows and what apply deletes come from the same code on the same
// kind of input; apply only adds the store's re-check of each item.
#include "lifecycle/retention.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <deque>
#include <map>
#include <set>
#include <utility>

namespace berth::lifecycle {
namespace {

namespace json = boost::json;

// (repository, digest) as one key.
std::string key_of(const core::RepositoryName& repository, const core::Digest& digest) {
  return repository.str() + "@" + digest.str();
}

std::optional<core::TimePoint> later(std::optional<core::TimePoint> a,
                                     std::optional<core::TimePoint> b) {
  if (!a) {
    return b;
  }
  if (!b) {
    return a;
  }
  return std::max(*a, *b);
}

// The manifests reachable from the given tags, each as key_of(). See retention.hpp.
std::set<std::string> reachable(const meta::RetentionSnapshot& snapshot,
                                const std::vector<const meta::TagInfo*>& roots) {
  std::map<std::string, const meta::ManifestInfo*> manifests;
  // subject key -> referrers
  std::map<std::string, std::vector<const meta::ManifestInfo*>> referrers;
  for (const auto& info : snapshot.manifests) {
    manifests[key_of(info.repository, info.digest)] = &info;
    if (info.subject) {
      referrers[key_of(info.repository, *info.subject)].push_back(&info);
    }
  }
  std::set<std::string> live;
  std::deque<std::string> queue;
  auto visit = [&](std::string key) {
    if (manifests.contains(key) && live.insert(key).second) {
      queue.push_back(std::move(key));
    }
  };
  for (const auto* tag : roots) {
    visit(key_of(tag->repository, tag->digest));
  }
  while (!queue.empty()) {
    const std::string key = std::move(queue.front());
    queue.pop_front();
    const auto* info = manifests.at(key);
    for (const auto& child : info->children) {
      visit(key_of(info->repository, child));
    }
    if (auto it = referrers.find(key); it != referrers.end()) {
      for (const auto* referrer : it->second) {
        visit(key_of(referrer->repository, referrer->digest));
      }
    }
  }
  return live;
}

// The digests (with sizes) `manifests` reference, own bytes included.
void add_references(const meta::ManifestInfo& info, std::map<std::string, meta::BlobRef>& out) {
  out.emplace(info.digest.str(), meta::BlobRef{info.digest, info.size});
  for (const auto& blob : info.blobs) {
    out.emplace(blob.digest.str(), blob);
  }
}

// Of `candidates`, those no manifest of `snapshot` outside `deleted` references.
std::vector<meta::BlobRef> unreferenced(const std::map<std::string, meta::BlobRef>& candidates,
                                        const meta::RetentionSnapshot& snapshot,
                                        const std::set<std::string>& deleted) {
  std::set<std::string> referenced;
  for (const auto& info : snapshot.manifests) {
    if (deleted.contains(key_of(info.repository, info.digest))) {
      continue;
    }
    referenced.insert(info.digest.str());
    for (const auto& blob : info.blobs) {
      referenced.insert(blob.digest.str());
    }
  }
  std::vector<meta::BlobRef> out;
  for (const auto& [digest, blob] : candidates) {
    if (!referenced.contains(digest)) {
      out.push_back(blob);
    }
  }
  return out;
}

std::uint64_t total_size(const std::vector<meta::BlobRef>& blobs) {
  std::uint64_t total = 0;
  for (const auto& blob : blobs) {
    total += blob.size;
  }
  return total;
}

json::value time_or_null(const std::optional<core::TimePoint>& t) {
  if (!t) {
    return nullptr;
  }
  return core::to_unix_ms(*t);
}

json::object plan_object(const RetentionPlan& plan) {
  json::array tags;
  for (const auto& tag : plan.tags) {
    json::array reasons;
    for (const auto& reason : tag.reasons) {
      reasons.emplace_back(reason);
    }
    tags.push_back(json::object{{"repository", tag.ref.repository.str()},
                                {"tag", tag.ref.tag.str()},
                                {"digest", tag.ref.digest.str()},
                                {"pushed", core::to_unix_ms(tag.ref.pushed)},
                                {"last_pulled", time_or_null(tag.last_pulled)},
                                {"reasons", std::move(reasons)}});
  }
  json::array manifests;
  for (const auto& manifest : plan.manifests) {
    manifests.push_back(
        json::object{{"repository", manifest.repository.str()}, {"digest", manifest.digest.str()}});
  }
  return json::object{{"project", plan.project},
                      {"now", core::to_unix_ms(plan.now)},
                      {"tags", std::move(tags)},
                      {"manifests", std::move(manifests)},
                      {"freed_blobs", plan.freed_blobs.size()},
                      {"freed_bytes", plan.freed_bytes}};
}

}  // namespace

RetentionPlan plan_retention(const std::string& project, const RetentionPolicy& policy,
                             const std::vector<TagPattern>& immutable,
                             const meta::RetentionSnapshot& snapshot, core::TimePoint now) {
  RetentionPlan plan{.project = project, .now = now};
  std::map<std::string, const meta::ManifestInfo*> manifests;
  for (const auto& info : snapshot.manifests) {
    manifests[key_of(info.repository, info.digest)] = &info;
  }

  // ---- tags, repository by repository
  std::map<std::string, std::vector<const meta::TagInfo*>> candidates;
  for (const auto& tag : snapshot.tags) {
    const auto name = tag.tag.str();
    if (first_match(policy.include, name) == nullptr ||
        first_match(policy.exclude, name) != nullptr || first_match(immutable, name) != nullptr) {
      continue;
    }
    candidates[tag.repository.str()].push_back(&tag);
  }
  std::set<const meta::TagInfo*> doomed;
  using namespace std::chrono;
  const auto days = [](std::uint32_t n) {
    return duration_cast<system_clock::duration>(std::chrono::days(n));
  };
  for (auto& [repository, tags] : candidates) {
    std::sort(tags.begin(), tags.end(), [](const meta::TagInfo* a, const meta::TagInfo* b) {
      if (a->pushed != b->pushed) {
        return a->pushed > b->pushed;
      }
      return a->tag.str() > b->tag.str();
    });
    for (std::size_t rank = 0; rank < tags.size(); ++rank) {
      const auto& tag = *tags[rank];
      std::optional<core::TimePoint> last_pulled = tag.last_pulled;
      if (auto it = manifests.find(key_of(tag.repository, tag.digest)); it != manifests.end()) {
        last_pulled = later(last_pulled, it->second->last_pulled);
      }
      std::vector<std::string> reasons;
      std::size_t votes = 0;
      if (policy.rules.keep_last && rank >= *policy.rules.keep_last) {
        reasons.emplace_back("keep_last");
        ++votes;
      }
      if (policy.rules.max_age_days && tag.pushed < now - days(*policy.rules.max_age_days)) {
        reasons.emplace_back("max_age_days");
        ++votes;
      }
      if (policy.rules.not_pulled_days && std::max(tag.pushed, last_pulled.value_or(tag.pushed)) <
                                              now - days(*policy.rules.not_pulled_days)) {
        reasons.emplace_back("not_pulled_days");
        ++votes;
      }
      const bool deleted =
          policy.match == RuleMatch::kAll ? votes == policy.rules.count() : votes > 0;
      if (deleted) {
        doomed.insert(&tag);
        plan.tags.push_back(
            PlannedTag{.ref = meta::TagRef{tag.repository, tag.tag, tag.digest, tag.pushed},
                       .last_pulled = last_pulled,
                       .reasons = std::move(reasons)});
      }
    }
  }
  std::sort(plan.tags.begin(), plan.tags.end(), [](const PlannedTag& a, const PlannedTag& b) {
    return std::pair(a.ref.repository.str(), a.ref.tag.str()) <
           std::pair(b.ref.repository.str(), b.ref.tag.str());
  });

  // ---- manifests that lose their last way of being reached
  std::vector<const meta::TagInfo*> all_roots;
  std::vector<const meta::TagInfo*> kept_roots;
  for (const auto& tag : snapshot.tags) {
    all_roots.push_back(&tag);
    if (!doomed.contains(&tag)) {
      kept_roots.push_back(&tag);
    }
  }
  const auto before = reachable(snapshot, all_roots);
  const auto after = reachable(snapshot, kept_roots);
  std::set<std::string> deleted;
  std::map<std::string, meta::BlobRef> references;
  for (const auto& info : snapshot.manifests) {  // already in repository, digest order
    const auto key = key_of(info.repository, info.digest);
    if (before.contains(key) && !after.contains(key)) {
      deleted.insert(key);
      plan.manifests.push_back(meta::ManifestRef{info.repository, info.digest});
      add_references(info, references);
    }
  }

  // ---- what that frees within the project
  plan.freed_blobs = unreferenced(references, snapshot, deleted);
  plan.freed_bytes = total_size(plan.freed_blobs);
  return plan;
}

std::string plan_json(const RetentionPlan& plan) { return json::serialize(plan_object(plan)); }

std::string outcome_json(const RetentionOutcome& outcome) {
  auto out = plan_object(outcome.plan);
  out["deleted_tags"] = outcome.deleted.tags.size();
  out["deleted_manifests"] = outcome.deleted.manifests.size();
  out["skipped_tags"] = outcome.skipped_tags;
  out["skipped_manifests"] = outcome.skipped_manifests;
  out["freed_bytes"] = outcome.freed_bytes;
  return json::serialize(out);
}

// ---- Retention

core::Result<RetentionPlan> Retention::preview(const std::string& project) {
  auto settings = store_.settings(project);
  if (!settings) {
    return std::unexpected(settings.error());
  }
  if (settings->retention_json.empty()) {
    return core::fail(core::ErrorCode::kNotFound,
                      "project " + project + " has no retention policy");
  }
  auto policy = parse_retention_policy(settings->retention_json);
  if (!policy) {
    return std::unexpected(policy.error());
  }
  return plan(project, *policy, settings->immutable_tags);
}

core::Result<RetentionPlan> Retention::preview(const std::string& project,
                                               const RetentionPolicy& policy) {
  auto settings = store_.settings(project);
  if (!settings) {
    return std::unexpected(settings.error());
  }
  return plan(project, policy, settings->immutable_tags);
}

core::Result<RetentionOutcome> Retention::apply(const std::string& project) {
  auto settings = store_.settings(project);
  if (!settings) {
    return std::unexpected(settings.error());
  }
  if (settings->retention_json.empty()) {
    return core::fail(core::ErrorCode::kNotFound,
                      "project " + project + " has no retention policy");
  }
  auto policy = parse_retention_policy(settings->retention_json);
  if (!policy) {
    return std::unexpected(policy.error());
  }
  return apply(project, *policy, settings->immutable_tags);
}

core::Result<RetentionPlan> Retention::plan(const std::string& project,
                                            const RetentionPolicy& policy,
                                            const std::vector<std::string>& immutable) {
  auto patterns = parse_tag_patterns(immutable, "immutable_tags");
  if (!patterns) {
    return std::unexpected(patterns.error());
  }
  auto snapshot = store_.retention_snapshot(project);
  if (!snapshot) {
    return std::unexpected(snapshot.error());
  }
  return plan_retention(project, policy, *patterns, *snapshot, clock_.now());
}

core::Result<RetentionOutcome> Retention::apply(const std::string& project,
                                                const RetentionPolicy& policy,
                                                const std::vector<std::string>& immutable) {
  auto planned = plan(project, policy, immutable);
  if (!planned) {
    return std::unexpected(planned.error());
  }
  RetentionOutcome outcome{.plan = std::move(*planned)};
  meta::RetentionDeletions deletions;
  for (const auto& tag : outcome.plan.tags) {
    deletions.tags.push_back(tag.ref);
  }
  deletions.manifests = outcome.plan.manifests;
  auto deleted = store_.delete_retained(deletions);
  if (!deleted) {
    return std::unexpected(deleted.error());
  }
  outcome.deleted = std::move(*deleted);
  outcome.skipped_tags = deletions.tags.size() - outcome.deleted.tags.size();
  outcome.skipped_manifests = deletions.manifests.size() - outcome.deleted.manifests.size();
  if (outcome.skipped_tags == 0 && outcome.skipped_manifests == 0) {
    outcome.freed_bytes = outcome.plan.freed_bytes;
    return outcome;
  }
  // Something was kept after all: see which of the planned blobs are really let go now.
  auto now_held = store_.retention_snapshot(project);
  if (!now_held) {
    return std::unexpected(now_held.error());
  }
  std::map<std::string, meta::BlobRef> candidates;
  for (const auto& blob : outcome.plan.freed_blobs) {
    candidates.emplace(blob.digest.str(), blob);
  }
  outcome.freed_bytes = total_size(unreferenced(candidates, *now_held, {}));
  return outcome;
}

core::Result<std::vector<Retention::ScheduledRun>> Retention::run_due(std::stop_token stop) {
  auto projects = store_.projects_with_retention();
  if (!projects) {
    return std::unexpected(projects.error());
  }
  std::vector<ScheduledRun> runs;
  for (const auto& project : *projects) {
    if (stop.stop_requested()) {
      break;
    }
    auto settings = store_.settings(project);
    if (!settings) {
      runs.push_back({project, std::unexpected(settings.error())});
      continue;
    }
    if (settings->retention_json.empty()) {
      continue;  // removed since the list was read
    }
    auto policy = parse_retention_policy(settings->retention_json);
    if (!policy) {
      runs.push_back({project, std::unexpected(policy.error())});
      continue;
    }
    if (!policy->enabled) {
      continue;
    }
    const auto now = clock_.now();
    auto claimed = store_.claim_retention_run(project, now, now - policy->schedule);
    if (!claimed) {
      runs.push_back({project, std::unexpected(claimed.error())});
      continue;
    }
    if (*claimed) {
      runs.push_back({project, apply(project, *policy, settings->immutable_tags)});
    }
  }
  return runs;
}

}  // namespace berth::lifecycle
