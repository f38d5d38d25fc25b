// Parsing, validating and printing retention policies (see retention_policy.hpp). Depends on
// core and Boost.JSON only, so the fuzz build can build it (fuzz/fuzz_retention_policy.cpp).
#include "lifecycle/retention_policy.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <limits>

namespace berth::lifecycle {
namespace {

namespace json = boost::json;
using core::ErrorCode;

std::unexpected<core::Error> invalid(std::string message) {
  return core::fail(ErrorCode::kInvalidRequest, "retention policy: " + std::move(message));
}

std::string shown(const json::value& value) {
  std::string text = json::serialize(value);
  if (text.size() > 40) {
    text = text.substr(0, 37) + "...";
  }
  return text;
}

// A whole number in [low, high]; JSON integers only (1.0 and 1e2 are refused: a fraction
// where a count is meant is a mistake worth reporting).
core::Result<std::uint64_t> whole_number(const json::value& value, std::string_view key,
                                         std::uint64_t low, std::uint64_t high) {
  std::optional<std::uint64_t> number;
  if (value.is_uint64()) {
    number = value.as_uint64();
  } else if (value.is_int64() && value.as_int64() >= 0) {
    number = static_cast<std::uint64_t>(value.as_int64());
  }
  if (!number || *number < low || *number > high) {
    return invalid("'" + std::string(key) + "' must be a whole number from " + std::to_string(low) +
                   " to " + std::to_string(high) + ", got " + shown(value));
  }
  return *number;
}

core::Result<std::vector<TagPattern>> patterns(const json::value& value, std::string_view key,
                                               bool allow_empty) {
  const auto* array = value.if_array();
  if (array == nullptr || (!allow_empty && array->empty())) {
    return invalid("'" + std::string(key) + "' must be " +
                   (allow_empty ? "an array" : "a non-empty array") +
                   " of tag patterns like \"v*\", got " + shown(value));
  }
  std::vector<TagPattern> out;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const auto* text = (*array)[i].if_string();
    if (text == nullptr) {
      return invalid("'" + std::string(key) + "[" + std::to_string(i) +
                     "]' must be a string, got " + shown((*array)[i]));
    }
    auto pattern = TagPattern::parse(*text);
    if (!pattern) {
      return invalid("'" + std::string(key) + "[" + std::to_string(i) +
                     "]': " + pattern.error().message);
    }
    out.push_back(std::move(*pattern));
  }
  return out;
}

core::Result<RetentionRules> parse_rules(const json::value& value) {
  const auto* object = value.if_object();
  if (object == nullptr) {
    return invalid("'rules' must be an object like {\"keep_last\": 10}, got " + shown(value));
  }
  RetentionRules rules;
  for (const auto& [key, field] : *object) {
    if (key == "keep_last") {
      auto n = whole_number(field, "rules.keep_last", 0, RetentionPolicy::kMaxKeepLast);
      if (!n) {
        return std::unexpected(n.error());
      }
      rules.keep_last = *n;
    } else if (key == "max_age_days" || key == "not_pulled_days") {
      auto n = whole_number(field, "rules." + std::string(key), 1, RetentionPolicy::kMaxDays);
      if (!n) {
        return std::unexpected(n.error());
      }
      (key == "max_age_days" ? rules.max_age_days : rules.not_pulled_days) =
          static_cast<std::uint32_t>(*n);
    } else {
      return invalid("unknown rule 'rules." + std::string(key) +
                     "' (the rules are keep_last, max_age_days and not_pulled_days)");
    }
  }
  if (rules.count() == 0) {
    return invalid("'rules' needs at least one of keep_last, max_age_days, not_pulled_days");
  }
  return rules;
}

}  // namespace

core::Result<std::chrono::minutes> parse_schedule(std::string_view text) {
  auto bad = [&](std::string why) {
    return invalid("'schedule' " + why + ", like \"1d\", \"12h\" or \"1h30m\" (units d, h, m, " +
                   "largest first), got \"" + std::string(text.substr(0, 40)) + "\"");
  };
  if (text.empty()) {
    return bad("must be a duration");
  }
  std::chrono::minutes total{0};
  int last_rank = 3;  // d = 2, h = 1, m = 0: each unit after the previous, once
  std::size_t i = 0;
  while (i < text.size()) {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), n);
    if (ec != std::errc() || end == text.data() + i || end == text.data() + text.size()) {
      return bad("must be a duration");
    }
    i = static_cast<std::size_t>(end - text.data());
    const char unit = text[i++];
    const int rank = unit == 'd' ? 2 : unit == 'h' ? 1 : unit == 'm' ? 0 : -1;
    if (rank < 0 || rank >= last_rank) {
      return bad("must be a duration");
    }
    last_rank = rank;
    // Bounded well below overflow: anything past the maximum is refused below anyway.
    if (n > 1'000'000) {
      return bad("is too long");
    }
    total += std::chrono::minutes(n * (rank == 2 ? 1440 : rank == 1 ? 60 : 1));
  }
  if (total < RetentionPolicy::kMinSchedule || total > RetentionPolicy::kMaxSchedule) {
    return bad("must be from 1m to 365d");
  }
  return total;
}

std::string format_schedule(std::chrono::minutes schedule) {
  auto minutes = schedule.count();
  std::string out;
  if (minutes >= 1440) {
    out += std::to_string(minutes / 1440) + "d";
    minutes %= 1440;
  }
  if (minutes >= 60) {
    out += std::to_string(minutes / 60) + "h";
    minutes %= 60;
  }
  if (minutes > 0 || out.empty()) {
    out += std::to_string(minutes) + "m";
  }
  return out;
}

core::Result<RetentionPolicy> parse_retention_policy(std::string_view text) {
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 8;
  auto value = json::parse(text, ec, {}, options);
  if (ec) {
    return invalid("not valid JSON (" + ec.message() + ")");
  }
  const auto* object = value.if_object();
  if (object == nullptr) {
    return invalid("must be a JSON object");
  }
  RetentionPolicy policy;
  bool have_match = false;
  bool have_rules = false;
  bool have_include = false;
  for (const auto& [key, field] : *object) {
    if (key == "enabled") {
      if (!field.is_bool()) {
        return invalid("'enabled' must be true or false, got " + shown(field));
      }
      policy.enabled = field.as_bool();
    } else if (key == "schedule") {
      if (!field.is_string()) {
        return invalid("'schedule' must be a string like \"1d\", got " + shown(field));
      }
      auto schedule = parse_schedule(field.as_string());
      if (!schedule) {
        return std::unexpected(schedule.error());
      }
      policy.schedule = *schedule;
    } else if (key == "include" || key == "exclude") {
      auto list = patterns(field, key, key == "exclude");
      if (!list) {
        return std::unexpected(list.error());
      }
      (key == "include" ? policy.include : policy.exclude) = std::move(*list);
      have_include = have_include || key == "include";
    } else if (key == "match") {
      const auto* match = field.if_string();
      if (match != nullptr && *match == "any") {
        policy.match = RuleMatch::kAny;
      } else if (match != nullptr && *match == "all") {
        policy.match = RuleMatch::kAll;
      } else {
        return invalid("'match' must be \"any\" or \"all\", got " + shown(field));
      }
      have_match = true;
    } else if (key == "rules") {
      auto rules = parse_rules(field);
      if (!rules) {
        return std::unexpected(rules.error());
      }
      policy.rules = *rules;
      have_rules = true;
    } else {
      return invalid("unknown key '" + std::string(key) +
                     "' (the keys are enabled, schedule, include, exclude, match, rules)");
    }
  }
  if (!have_rules) {
    return invalid("'rules' is required, e.g. {\"rules\": {\"keep_last\": 10}}");
  }
  if (policy.rules.count() > 1 && !have_match) {
    return invalid(
        "with more than one rule, 'match' must say whether \"any\" rule or \"all\" rules "
        "must call for deleting a tag");
  }
  if (!have_include) {
    policy.include.push_back(*TagPattern::parse("*"));
  }
  return policy;
}

std::string to_json(const RetentionPolicy& policy) {
  json::array include;
  for (const auto& pattern : policy.include) {
    include.emplace_back(pattern.str());
  }
  json::array exclude;
  for (const auto& pattern : policy.exclude) {
    exclude.emplace_back(pattern.str());
  }
  json::object rules;
  if (policy.rules.keep_last) {
    rules["keep_last"] = *policy.rules.keep_last;
  }
  if (policy.rules.max_age_days) {
    rules["max_age_days"] = *policy.rules.max_age_days;
  }
  if (policy.rules.not_pulled_days) {
    rules["not_pulled_days"] = *policy.rules.not_pulled_days;
  }
  json::object out;
  out["enabled"] = policy.enabled;
  out["schedule"] = format_schedule(policy.schedule);
  out["include"] = std::move(include);
  out["exclude"] = std::move(exclude);
  out["match"] = policy.match == RuleMatch::kAll ? "all" : "any";
  out["rules"] = std::move(rules);
  return json::serialize(out);
}

}  // namespace berth::lifecycle
