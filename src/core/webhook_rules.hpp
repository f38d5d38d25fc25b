// What a webhook is allowed to be, wherever one is made: a global endpoint of the config
// (config/webhooks_config.cpp), a project's webhook through the API (api/webhook_handlers.cpp)
// or the CLI (cli/webhook_commands.cpp). Here, below all three, so that the rules and the list
// of event types are written once.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace berth::core {

// The event types, as written in the config's `events:` lists and the API.
namespace event_type {
inline constexpr const char* kPush = "push";
inline constexpr const char* kPull = "pull";
inline constexpr const char* kDelete = "delete";
inline constexpr const char* kMount = "mount";
inline constexpr const char* kQuotaExceeded = "quota_exceeded";
inline constexpr const char* kRetentionFinished = "retention_finished";
inline constexpr const char* kGcFinished = "gc_finished";
// Every type, in this order wherever they are listed.
inline constexpr std::array<std::string_view, 7> kAll = {
    kPush, kPull, kDelete, kMount, kQuotaExceeded, kRetentionFinished, kGcFinished};
}  // namespace event_type

// INVALID_REQUEST saying what is wrong (the first problem) unless: the URL is http:// or
// https://, the secret is not empty (deliveries are signed with it), the format is cloudevents
// or distribution, and every event type is known (none: every type).
[[nodiscard]] Result<void> check_webhook(std::string_view url, std::string_view secret,
                                         std::string_view format,
                                         const std::vector<std::string>& events);

}  // namespace berth::core
