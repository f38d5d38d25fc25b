#include "core/webhook_rules.hpp"

#include <algorithm>

namespace berth::core {

Result<void> check_webhook(std::string_view url, std::string_view secret, std::string_view format,
                           const std::vector<std::string>& events) {
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    return fail(ErrorCode::kInvalidRequest, "url must be an http:// or https:// URL");
  }
  if (secret.empty()) {
    return fail(ErrorCode::kInvalidRequest, "secret must be set (deliveries are signed with it)");
  }
  if (format != "cloudevents" && format != "distribution") {
    return fail(ErrorCode::kInvalidRequest,
                "format must be cloudevents or distribution, got '" + std::string(format) + "'");
  }
  for (const auto& type : events) {
    if (std::ranges::find(event_type::kAll, type) == event_type::kAll.end()) {
      std::string known;
      for (auto each : event_type::kAll) {
        known += (known.empty() ? "" : ", ") + std::string(each);
      }
      return fail(ErrorCode::kInvalidRequest,
                  "unknown event '" + type + "' (events: " + known + ")");
    }
  }
  return {};
}

}  // namespace berth::core
