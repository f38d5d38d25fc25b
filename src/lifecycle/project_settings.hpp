// The JSON of a project's lifecycle settings, as the admin API (GET/PUT
// /api/v1/projects/{p}/settings) and `berth project settings` show and take them:
//
//   {
//     "immutable_tags": ["v*", "release-*"],              // tag patterns; [] for none
//     "quota": {"bytes": 10737418240, "repositories": 20}, // null (or absent): no limit
//     "retention": {"enabled": true, "rules": {...}}      // retention_policy.hpp; null: none
//   }
//
// A PUT replaces the settings whole: a key left out is reset (no patterns, no quota, no
// policy). Parsing is strict (unknown keys, wrong types and invalid patterns or policies are
// errors naming the key); the policy is stored in its canonical form.
#pragma once

#include <string>
#include <string_view>

#include "core/error.hpp"
#include "meta/policy_store.hpp"

namespace berth::lifecycle {

// kInvalidRequest naming the key at fault.
[[nodiscard]] core::Result<meta::ProjectSettings> parse_settings_json(std::string_view json);

// Every key, the policy as an object (or null).
[[nodiscard]] std::string settings_json(const meta::ProjectSettings& settings);

// A project's usage beside its quotas, as GET /api/v1/projects/{p}/usage and `berth project
// usage --json` show it:
//   {"project": "ci", "bytes": N, "repositories": N,
//    "quota": {"bytes": N or null, "repositories": N or null}}
[[nodiscard]] std::string usage_json(const std::string& project, const meta::ProjectUsage& usage,
                                     const meta::ProjectSettings& settings);

}  // namespace berth::lifecycle
