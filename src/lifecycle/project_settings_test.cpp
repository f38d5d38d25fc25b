// Project settings JSON: what the admin API takes and shows.
#include "lifecycle/project_settings.hpp"

#include <gtest/gtest.h>

namespace berth::lifecycle {
namespace {

TEST(ProjectSettingsTest, EveryKeyIsReadAndThePolicyStoredCanonically) {
  auto settings = parse_settings_json(R"({
    "immutable_tags": ["v*", "release-*", "v*"],
    "quota": {"bytes": 1073741824, "repositories": null},
    "retention": {"rules": {"keep_last": 10}}})")
                      .value();
  EXPECT_EQ(settings.immutable_tags, (std::vector<std::string>{"release-*", "v*"}));
  EXPECT_EQ(settings.quota_bytes, std::optional<std::uint64_t>(1073741824));
  EXPECT_EQ(settings.quota_repositories, std::nullopt);
  EXPECT_EQ(settings.retention_json,
            R"({"enabled":false,"schedule":"1d","include":["*"],"exclude":[],"match":"any",)"
            R"("rules":{"keep_last":10}})");
}

TEST(ProjectSettingsTest, LeftOutKeysMeanNone) {
  EXPECT_EQ(parse_settings_json("{}").value(), meta::ProjectSettings{});
  EXPECT_EQ(parse_settings_json(R"({"quota": null, "retention": null})").value(),
            meta::ProjectSettings{});
}

TEST(ProjectSettingsTest, MistakesNameTheKey) {
  auto error = [](std::string_view json) {
    auto parsed = parse_settings_json(json);
    EXPECT_FALSE(parsed) << json;
    return parsed ? std::string() : parsed.error().message;
  };
  EXPECT_NE(error("[]").find("JSON object"), std::string::npos);
  EXPECT_NE(error(R"({"quotas": {}})").find("unknown key 'quotas'"), std::string::npos);
  EXPECT_NE(error(R"({"quota": {"bytes": -1}})").find("'quota.bytes'"), std::string::npos);
  EXPECT_NE(error(R"({"quota": {"blobs": 1}})").find("'quota.blobs'"), std::string::npos);
  EXPECT_NE(error(R"({"immutable_tags": "v*"})").find("'immutable_tags'"), std::string::npos);
  EXPECT_NE(error(R"({"immutable_tags": ["v 1"]})").find("'immutable_tags[0]'"), std::string::npos);
  EXPECT_NE(error(R"({"retention": {"rules": {}}})").find("retention policy:"), std::string::npos);
}

TEST(ProjectSettingsTest, ShownSettingsParseBackToTheSame) {
  meta::ProjectSettings settings{
      .retention_json = R"({"enabled":true,"schedule":"12h","include":["*"],"exclude":[],)"
                        R"("match":"all","rules":{"keep_last":3,"max_age_days":7}})",
      .immutable_tags = {"v*"},
      .quota_bytes = 5,
      .quota_repositories = 0};
  auto shown = settings_json(settings);
  EXPECT_EQ(parse_settings_json(shown).value(), settings) << shown;
  EXPECT_EQ(settings_json(meta::ProjectSettings{}),
            R"({"immutable_tags":[],"quota":{"bytes":null,"repositories":null},"retention":null})");
}

TEST(ProjectSettingsTest, UsageIsShownBesideTheQuotas) {
  EXPECT_EQ(usage_json("ci", meta::ProjectUsage{.bytes = 1024, .repositories = 2},
                       meta::ProjectSettings{.quota_bytes = 4096}),
            R"({"project":"ci","bytes":1024,"repositories":2,)"
            R"("quota":{"bytes":4096,"repositories":null}})");
}

}  // namespace
}  // namespace berth::lifecycle
