// The parts of the outbox (outbox_store.hpp, sql_outbox_store.hpp) that are no template.
#include "core/url_credentials.hpp"
#include "meta/outbox_store.hpp"
#include "meta/sql_outbox_store.hpp"
#include "util/hex.hpp"

namespace berth::meta {

const char* delivery_state_name(DeliveryState state) {
  switch (state) {
    case DeliveryState::kPending:
      return "pending";
    case DeliveryState::kDelivered:
      return "delivered";
    case DeliveryState::kDead:
      return "dead";
  }
  return "dead";
}

std::optional<DeliveryState> parse_delivery_state(std::string_view text) {
  for (auto state : {DeliveryState::kPending, DeliveryState::kDelivered, DeliveryState::kDead}) {
    if (text == delivery_state_name(state)) {
      return state;
    }
  }
  return std::nullopt;
}

std::string shown_endpoint(std::string_view endpoint) {
  constexpr std::string_view kConfig = "config:";
  if (!endpoint.starts_with(kConfig)) {
    return std::string(endpoint);
  }
  return std::string(kConfig) +
         core::without_url_credentials(std::string(endpoint.substr(kConfig.size())));
}

std::string random_event_id() { return util::random_hex(16); }

namespace sql::outbox {

std::string join_types(const std::vector<std::string>& types) {
  std::string text;
  for (const auto& type : types) {
    if (!text.empty()) {
      text += ',';
    }
    text += type;
  }
  return text;
}

std::vector<std::string> split_types(std::string_view text) {
  std::vector<std::string> types;
  while (!text.empty()) {
    const auto comma = text.find(',');
    auto type = text.substr(0, comma);
    if (!type.empty()) {
      types.emplace_back(type);
    }
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  return types;
}

bool wants(const std::vector<std::string>& types, std::string_view type) {
  return types.empty() || std::ranges::find(types, type) != types.end();
}

}  // namespace sql::outbox

}  // namespace berth::meta
