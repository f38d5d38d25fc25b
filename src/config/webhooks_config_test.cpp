// webhooks: and events.*: the global webhook endpoints as the issue names them, their rules, and
// `config show` (which leaves the secrets out).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/config.hpp"
#include "config/config_test_support.hpp"

namespace berth::config {
namespace {

using test_support::env_of;
using test_support::write_temp_config;

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ConfigWebhooks, EndpointsAndEventKeysAreReadAndShownWithoutSecrets) {
  const auto file = write_temp_config(
      "webhooks:\n"
      "  - url: https://ci.example.com/hook\n"
      "    secret: top-secret\n"
      "    events: [push, delete]\n"
      "    format: distribution\n"
      "    timeout: 3s\n"
      "  - url: http://127.0.0.1:9000/all\n"
      "    secret: other\n"
      "events:\n"
      "  max_attempts: 5\n"
      "  backoff_base: 100ms\n"
      "  backoff_cap: 1m\n"
      "  retention: 2d\n");
  auto config = load_config(file, env_of());
  std::filesystem::remove(file);
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_EQ(config->webhooks.size(), 2u);
  EXPECT_EQ(config->webhooks[0].url, "https://ci.example.com/hook");
  EXPECT_EQ(config->webhooks[0].secret, "top-secret");
  EXPECT_EQ(config->webhooks[0].events, (std::vector<std::string>{"push", "delete"}));
  EXPECT_EQ(config->webhooks[0].format, "distribution");
  EXPECT_EQ(config->webhooks[0].timeout, std::chrono::seconds(3));
  EXPECT_TRUE(config->webhooks[1].events.empty());
  EXPECT_EQ(config->webhooks[1].format, "cloudevents");
  EXPECT_EQ(config->events.max_attempts, 5u);
  EXPECT_EQ(config->events.backoff_base, std::chrono::milliseconds(100));
  EXPECT_EQ(config->events.retention, std::chrono::hours(48));

  const auto shown = render_yaml(*config);
  EXPECT_THAT(shown, HasSubstr("url: https://ci.example.com/hook"));
  EXPECT_THAT(shown, HasSubstr("events: [push, delete]"));
  EXPECT_THAT(shown, Not(HasSubstr("top-secret")));
}

TEST(ConfigWebhooks, BadEndpointsAreRefusedWithTheReason) {
  auto check = [](const std::string& yaml) {
    const auto file = write_temp_config(yaml);
    auto config = load_config(file, env_of());
    std::filesystem::remove(file);
    if (!config) {
      return config.error().message;
    }
    auto valid = validate(*config);
    return valid ? std::string() : valid.error().message;
  };
  EXPECT_THAT(check("webhooks:\n  - url: ftp://x\n    secret: s\n"),
              HasSubstr("url must be an http:// or https:// URL"));
  EXPECT_THAT(check("webhooks:\n  - url: http://x\n"), HasSubstr("secret must be set"));
  EXPECT_THAT(check("webhooks:\n  - url: http://x\n    secret: s\n    format: xml\n"),
              HasSubstr("format must be cloudevents or distribution"));
  EXPECT_THAT(check("webhooks:\n  - url: http://x\n    secret: s\n    events: [push, pusj]\n"),
              HasSubstr("unknown event 'pusj'"));
  EXPECT_THAT(check("webhooks:\n  - url: http://x\n    secret: s\n    colour: red\n"),
              HasSubstr("unknown key 'webhooks.colour'"));
  EXPECT_THAT(check("events:\n  max_attempts: 0\n"), HasSubstr("events.max_attempts"));
}

}  // namespace
}  // namespace berth::config
