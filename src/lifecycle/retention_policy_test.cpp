// The retention policy's JSON: defaults, every refusal with a message naming the key, and
// the canonical form round-tripping.
#include "lifecycle/retention_policy.hpp"

#include <gtest/gtest.h>

#include <string>

namespace berth::lifecycle {
namespace {

using namespace std::chrono_literals;

std::string error_of(std::string_view json) {
  auto parsed = parse_retention_policy(json);
  if (parsed) {
    return "(parsed)";
  }
  EXPECT_EQ(parsed.error().code, core::ErrorCode::kInvalidRequest);
  return parsed.error().message;
}

TEST(RetentionPolicyTest, DefaultsAreDisabledDailyAndEveryTag) {
  auto policy = parse_retention_policy(R"({"rules": {"keep_last": 10}})").value();
  EXPECT_FALSE(policy.enabled);
  EXPECT_EQ(policy.schedule, std::chrono::minutes(24h));
  ASSERT_EQ(policy.include.size(), 1u);
  EXPECT_EQ(policy.include[0].str(), "*");
  EXPECT_TRUE(policy.exclude.empty());
  EXPECT_EQ(policy.match, RuleMatch::kAny);
  EXPECT_EQ(policy.rules.keep_last, std::optional<std::uint64_t>(10));
  EXPECT_FALSE(policy.rules.max_age_days);
}

TEST(RetentionPolicyTest, EveryFieldIsRead) {
  auto policy = parse_retention_policy(R"({
    "enabled": true, "schedule": "1h30m", "include": ["v*", "build-*"], "exclude": ["v1*"],
    "match": "all", "rules": {"keep_last": 0, "max_age_days": 14, "not_pulled_days": 30}})")
                    .value();
  EXPECT_TRUE(policy.enabled);
  EXPECT_EQ(policy.schedule, 90min);
  EXPECT_EQ(policy.include.size(), 2u);
  EXPECT_EQ(policy.exclude.size(), 1u);
  EXPECT_EQ(policy.match, RuleMatch::kAll);
  EXPECT_EQ(policy.rules.keep_last, std::optional<std::uint64_t>(0));
  EXPECT_EQ(policy.rules.max_age_days, std::optional<std::uint32_t>(14));
  EXPECT_EQ(policy.rules.not_pulled_days, std::optional<std::uint32_t>(30));
}

TEST(RetentionPolicyTest, MistakesAreRefusedNamingTheKey) {
  EXPECT_EQ(error_of("[]"), "retention policy: must be a JSON object");
  EXPECT_NE(error_of("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("{}").find("'rules' is required"), std::string::npos);
  EXPECT_NE(error_of(R"({"rules": {}})").find("at least one"), std::string::npos);
  EXPECT_NE(error_of(R"({"rules": {"keep_last": 3}, "keep": 1})").find("unknown key 'keep'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"rules": {"keep_first": 3}})").find("unknown rule 'rules.keep_first'"),
            std::string::npos);
  EXPECT_EQ(error_of(R"({"rules": {"keep_last": -1}})"),
            "retention policy: 'rules.keep_last' must be a whole number from 0 to 1000000, got -1");
  EXPECT_NE(error_of(R"({"rules": {"keep_last": 2.5}})").find("whole number"), std::string::npos);
  EXPECT_NE(error_of(R"({"rules": {"keep_last": "3"}})").find("whole number"), std::string::npos);
  EXPECT_NE(error_of(R"({"rules": {"max_age_days": 0}})").find("from 1 to 36500"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"rules": {"keep_last": 3, "max_age_days": 2}})").find("'match'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"rules": {"keep_last": 3}, "match": "some"})").find("\"any\" or"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"rules": {"keep_last": 3}, "enabled": "yes"})").find("'enabled'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"rules": {"keep_last": 3}, "include": []})").find("non-empty"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"rules": {"keep_last": 3}, "exclude": ["a b"]})").find("'exclude[0]'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"rules": {"keep_last": 3}, "include": [1]})").find("'include[0]'"),
            std::string::npos);
}

TEST(RetentionPolicyTest, SchedulesUseDaysHoursMinutesLargestFirst) {
  EXPECT_EQ(parse_schedule("1d").value(), std::chrono::minutes(24h));
  EXPECT_EQ(parse_schedule("12h").value(), 720min);
  EXPECT_EQ(parse_schedule("1d2h3m").value(), 1563min);
  EXPECT_EQ(parse_schedule("90m").value(), 90min);
  for (std::string_view bad : {"", "1", "h", "1h1d", "1h1h", "1s", "0m", "366d", "-1h", "1.5h",
                               "99999999999999999999d", "1h "}) {
    EXPECT_FALSE(parse_schedule(bad)) << bad;
  }
  EXPECT_EQ(format_schedule(1563min), "1d2h3m");
  EXPECT_EQ(format_schedule(std::chrono::minutes(24h)), "1d");
  EXPECT_EQ(format_schedule(5min), "5m");
}

TEST(RetentionPolicyTest, TheCanonicalJsonRoundTrips) {
  for (std::string_view text : {
           R"({"rules": {"keep_last": 10}})",
           R"({"enabled": true, "schedule": "30m", "include": ["v*"], "exclude": ["latest", "x?"],
               "match": "all", "rules": {"max_age_days": 3, "not_pulled_days": 7}})",
       }) {
    auto policy = parse_retention_policy(text).value();
    auto json = to_json(policy);
    auto again = parse_retention_policy(json);
    ASSERT_TRUE(again) << json << ": " << again.error().message;
    EXPECT_EQ(*again, policy) << json;
    EXPECT_EQ(to_json(*again), json);
  }
  EXPECT_EQ(to_json(parse_retention_policy(R"({"rules": {"keep_last": 10}})").value()),
            R"({"enabled":false,"schedule":"1d","include":["*"],"exclude":[],"match":"any",)"
            R"("rules":{"keep_last":10}})");
}

}  // namespace
}  // namespace berth::lifecycle
