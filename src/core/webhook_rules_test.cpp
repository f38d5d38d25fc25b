#include "core/webhook_rules.hpp"

#include <gtest/gtest.h>

namespace berth::core {
namespace {

std::string problem(std::string_view url, std::string_view secret, std::string_view format,
                    const std::vector<std::string>& events) {
  auto checked = check_webhook(url, secret, format, events);
  if (checked) {
    return "";
  }
  EXPECT_EQ(checked.error().code, ErrorCode::kInvalidRequest);
  return checked.error().message;
}

TEST(WebhookRules, AWebhookNeedsAnHttpUrlASecretAFormatAndKnownEvents) {
  EXPECT_EQ(problem("https://ci/hook", "s", "cloudevents", {}), "");
  EXPECT_EQ(problem("http://ci/hook", "s", "distribution", {"push", "gc_finished"}), "");
  EXPECT_EQ(problem("ftp://ci", "s", "cloudevents", {}), "url must be an http:// or https:// URL");
  EXPECT_EQ(problem("http://ci", "", "cloudevents", {}),
            "secret must be set (deliveries are signed with it)");
  EXPECT_EQ(problem("http://ci", "s", "xml", {}),
            "format must be cloudevents or distribution, got 'xml'");
  EXPECT_EQ(problem("http://ci", "s", "cloudevents", {"push", "pusj"}),
            "unknown event 'pusj' (events: push, pull, delete, mount, quota_exceeded, "
            "retention_finished, gc_finished)");
}

}  // namespace
}  // namespace berth::core
