// The `webhooks:` list of the config (config.hpp, WebhookConfig): its rules and how it is
// printed. Internal to config/.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace berth::config::detail {

// Calls problem() with a sentence for each rule an endpoint breaks.
void check_webhooks(const Config& config, const std::function<void(std::string)>& problem);

// The list as YAML, secrets left out ("" when there is none); `scalar` quotes a value.
std::string render_webhooks(const Config& config,
                            const std::function<std::string(std::string_view)>& scalar);

}  // namespace berth::config::detail
