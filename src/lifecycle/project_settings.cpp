// Project settings JSON (see project_settings.hpp).
#include "lifecycle/project_settings.hpp"

#include <boost/json.hpp>
#include <set>

#include "lifecycle/retention_policy.hpp"
#include "lifecycle/tag_pattern.hpp"

namespace berth::lifecycle {
namespace {

namespace json = boost::json;

std::unexpected<core::Error> invalid(std::string message) {
  return core::fail(core::ErrorCode::kInvalidRequest, "settings: " + std::move(message));
}

core::Result<std::optional<std::uint64_t>> limit(const json::value& value, std::string_view key) {
  if (value.is_null()) {
    return std::optional<std::uint64_t>();
  }
  if (value.is_uint64()) {
    return std::optional<std::uint64_t>(value.as_uint64());
  }
  if (value.is_int64() && value.as_int64() >= 0) {
    return std::optional<std::uint64_t>(static_cast<std::uint64_t>(value.as_int64()));
  }
  return invalid("'quota." + std::string(key) +
                 "' must be a whole number of at least 0, or null for no limit");
}

json::value limit_json(const std::optional<std::uint64_t>& limit) {
  if (!limit) {
    return nullptr;
  }
  return *limit;
}

}  // namespace

core::Result<meta::ProjectSettings> parse_settings_json(std::string_view text) {
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 10;
  auto value = json::parse(text, ec, {}, options);
  if (ec || !value.is_object()) {
    return invalid("expected a JSON object with immutable_tags, quota and retention");
  }
  meta::ProjectSettings settings;
  for (const auto& [key, field] : value.as_object()) {
    if (key == "immutable_tags") {
      const auto* array = field.if_array();
      if (array == nullptr) {
        return invalid("'immutable_tags' must be an array of tag patterns like \"v*\"");
      }
      std::set<std::string> patterns;
      for (std::size_t i = 0; i < array->size(); ++i) {
        const auto* pattern = (*array)[i].if_string();
        if (pattern == nullptr) {
          return invalid("'immutable_tags[" + std::to_string(i) + "]' must be a string");
        }
        if (auto parsed = TagPattern::parse(*pattern); !parsed) {
          return invalid("'immutable_tags[" + std::to_string(i) + "]': " + parsed.error().message);
        }
        patterns.emplace(*pattern);
      }
      settings.immutable_tags.assign(patterns.begin(), patterns.end());
    } else if (key == "quota") {
      if (field.is_null()) {
        continue;
      }
      const auto* quota = field.if_object();
      if (quota == nullptr) {
        return invalid(
            "'quota' must be an object like {\"bytes\": 1073741824, \"repositories\": 10}");
      }
      for (const auto& [quota_key, quota_value] : *quota) {
        if (quota_key != "bytes" && quota_key != "repositories") {
          return invalid("unknown key 'quota." + std::string(quota_key) +
                         "' (the quotas are bytes and repositories)");
        }
        auto parsed = limit(quota_value, quota_key);
        if (!parsed) {
          return std::unexpected(parsed.error());
        }
        (quota_key == "bytes" ? settings.quota_bytes : settings.quota_repositories) = *parsed;
      }
    } else if (key == "retention") {
      if (field.is_null()) {
        continue;
      }
      auto policy = parse_retention_policy(json::serialize(field));
      if (!policy) {
        return std::unexpected(policy.error());
      }
      settings.retention_json = to_json(*policy);
    } else {
      return invalid("unknown key '" + std::string(key) +
                     "' (the keys are immutable_tags, quota and retention)");
    }
  }
  return settings;
}

std::string settings_json(const meta::ProjectSettings& settings) {
  json::array patterns;
  for (const auto& pattern : settings.immutable_tags) {
    patterns.emplace_back(pattern);
  }
  json::object quota;
  quota["bytes"] = limit_json(settings.quota_bytes);
  quota["repositories"] = limit_json(settings.quota_repositories);
  json::object out;
  out["immutable_tags"] = std::move(patterns);
  out["quota"] = std::move(quota);
  json::value retention = nullptr;
  if (!settings.retention_json.empty()) {
    boost::system::error_code ec;
    retention = json::parse(settings.retention_json, ec);
    if (ec) {
      retention = nullptr;  // stored by an older or broken writer: shown as none
    }
  }
  out["retention"] = std::move(retention);
  return json::serialize(out);
}

std::string usage_json(const std::string& project, const meta::ProjectUsage& usage,
                       const meta::ProjectSettings& settings) {
  json::object quota;
  quota["bytes"] = limit_json(settings.quota_bytes);
  quota["repositories"] = limit_json(settings.quota_repositories);
  json::object out;
  out["project"] = project;
  out["bytes"] = usage.bytes;
  out["repositories"] = usage.repositories;
  out["quota"] = std::move(quota);
  return json::serialize(out);
}

}  // namespace berth::lifecycle
