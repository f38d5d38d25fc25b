#include "config/webhooks_config.hpp"

#include <algorithm>
#include <array>
#include <set>
#include <string_view>

#include "config/config_codecs.hpp"
#include "core/url_credentials.hpp"

namespace berth::config::detail {
namespace {

constexpr std::array<std::string_view, 7> kEventTypes = {
    "push", "pull", "delete", "mount", "quota_exceeded", "retention_finished", "gc_finished"};

}  // namespace

void check_webhooks(const Config& config, const std::function<void(std::string)>& problem) {
  std::set<std::string> urls;
  for (const WebhookConfig& hook : config.webhooks) {
    const std::string which = "webhook " + quote(core::without_url_credentials(hook.url));
    if (!hook.url.starts_with("http://") && !hook.url.starts_with("https://")) {
      problem(which + ": url must be an http:// or https:// URL");
    }
    if (!urls.insert(hook.url).second) {
      problem(which + ": the url is listed twice");
    }
    if (hook.secret.empty()) {
      problem(which + ": secret must be set (deliveries are signed with it)");
    }
    if (hook.format != "cloudevents" && hook.format != "distribution") {
      problem(which + ": format must be cloudevents or distribution, got " + quote(hook.format));
    }
    for (const auto& type : hook.events) {
      if (std::ranges::find(kEventTypes, type) == kEventTypes.end()) {
        problem(which + ": unknown event " + quote(type) +
                " (events: push, pull, delete, mount, quota_exceeded, retention_finished, "
                "gc_finished)");
      }
    }
  }
}

std::string render_webhooks(const Config& config,
                            const std::function<std::string(std::string_view)>& yaml_scalar) {
  if (config.webhooks.empty()) {
    return {};
  }
  std::string out = "\n# Global webhook endpoints (YAML only; see the README).\nwebhooks:\n";
  for (const WebhookConfig& hook : config.webhooks) {
    out += "  - url: " + yaml_scalar(core::without_url_credentials(hook.url)) + "\n";
    out += "    # secret: set, not shown\n";
    out += "    events: [";
    for (std::size_t i = 0; i < hook.events.size(); ++i) {
      out += (i == 0 ? "" : ", ") + hook.events[i];
    }
    out += "]\n    format: " + yaml_scalar(hook.format) + "\n";
    if (hook.timeout != Duration::zero()) {
      out += "    timeout: " + duration_codec().format(hook.timeout) + "\n";
    }
  }
  return out;
}

}  // namespace berth::config::detail
