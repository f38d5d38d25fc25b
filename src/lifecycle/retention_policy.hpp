// A project's retention policy: which tags go, and when the policy runs. This file holds the
// model and its JSON (what owners write through the admin API and the CLI, and what the
// metadata stores); lifecycle/retention.hpp applies it.
//
//   {
//     "enabled": true,            // false (the default): preview and manual runs only
//     "schedule": "1d",           // how often it runs when enabled: d, h, m; default 1d
//     "include": ["*"],           // tag patterns the policy looks at; default ["*"]
//     "exclude": ["latest"],      // tag patterns it never touches; default []
//     "match": "any",             // "any" or "all" of the rules; required with 2+ rules
//     "rules": {
//       "keep_last": 10,          // keep the 10 most recently pushed, per repository
//       "max_age_days": 14,       // pushed more than 14 days ago
//       "not_pulled_days": 30     // not pulled (or, never pulled, pushed) for 30 days
//     }
//   }
//
// Exactly how a tag is judged, per repository of the project:
//  1. A tag is a candidate when it matches an include pattern and no exclude pattern, and
//     matches none of the project's immutable tag patterns (those are never deleted by
//     retention). Other tags are kept and take no part in what follows.
//  2. Each rule given says "delete" or "keep" for each candidate:
//     - keep_last N: delete unless the tag is among the N candidates of its repository pushed
//       most recently (push time = when the tag last moved; on equal times the greater tag
//       name counts as newer, so v10 after v9 pushed in the same millisecond);
//     - max_age_days D: delete if pushed before now - D days;
//     - not_pulled_days D: delete if its last pull, or its push when it was never pulled,
//       was before now - D days. A pull of the tag's manifest by digest counts as a pull of
//       the tag (clients resolve a tag with HEAD and fetch by digest).
//  3. match "any": a candidate is deleted when any rule says delete; "all": when every rule
//     does. So {"keep_last": 10, "max_age_days": 14} keeps at most the 10 newest and nothing
//     older than 14 days with "any", and keeps the 10 newest plus everything younger than 14
//     days with "all".
// Parsing is strict: unknown keys, wrong types, fractions and out-of-range numbers are
// errors that say which key and what was expected.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "lifecycle/tag_pattern.hpp"

namespace berth::lifecycle {

enum class RuleMatch { kAny, kAll };

struct RetentionRules {
  std::optional<std::uint64_t> keep_last;
  std::optional<std::uint32_t> max_age_days;
  std::optional<std::uint32_t> not_pulled_days;

  std::size_t count() const {
    return (keep_last ? 1 : 0) + (max_age_days ? 1 : 0) + (not_pulled_days ? 1 : 0);
  }
  friend bool operator==(const RetentionRules&, const RetentionRules&) = default;
};

struct RetentionPolicy {
  static constexpr std::uint64_t kMaxKeepLast = 1'000'000;
  static constexpr std::uint32_t kMaxDays = 36'500;
  static constexpr std::chrono::minutes kMinSchedule{1};
  static constexpr std::chrono::minutes kMaxSchedule{std::chrono::days(365)};

  bool enabled = false;
  std::chrono::minutes schedule = std::chrono::days(1);
  std::vector<TagPattern> include;
  std::vector<TagPattern> exclude;
  RuleMatch match = RuleMatch::kAny;
  RetentionRules rules;

  friend bool operator==(const RetentionPolicy&, const RetentionPolicy&) = default;
};

// kInvalidRequest with a message starting "retention policy: " that names the key at fault.
[[nodiscard]] core::Result<RetentionPolicy> parse_retention_policy(std::string_view json);

// The canonical JSON: every key, in the order of the example above. parse_retention_policy of
// it gives back an equal policy.
[[nodiscard]] std::string to_json(const RetentionPolicy& policy);

// "1d12h", "30m": the schedule syntax, largest unit first, each unit once.
[[nodiscard]] core::Result<std::chrono::minutes> parse_schedule(std::string_view text);
[[nodiscard]] std::string format_schedule(std::chrono::minutes schedule);

}  // namespace berth::lifecycle
