#include "config/webhooks_config.hpp"

#include <set>

#include "config/config_codecs.hpp"
#include "core/url_credentials.hpp"
#include "core/webhook_rules.hpp"

namespace berth::config::detail {

void check_webhooks(const Config& config, const std::function<void(std::string)>& problem) {
  std::set<std::string> urls;
  for (const WebhookConfig& hook : config.webhooks) {
    const std::string which = "webhook " + quote(core::without_url_credentials(hook.url));
    if (!urls.insert(hook.url).second) {
      problem(which + ": the url is listed twice");
    }
    if (auto checked = core::check_webhook(hook.url, hook.secret, hook.format, hook.events);
        !checked) {
      problem(which + ": " + checked.error().message);
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
