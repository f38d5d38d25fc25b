// How a webhook delivery is signed: Berth-Signature-256 is "sha256=" and the hex HMAC-SHA256
// of the exact body bytes, keyed with the endpoint's secret (as GitHub's X-Hub-Signature-256).
// The body carries the time it was sent (the CloudEvents attribute "sentat", the Distribution
// envelope's "sentAt"; Berth-Timestamp repeats it), so the signature covers it: a receiver
// that refuses bodies sent more than a few minutes ago is safe from replays.
#pragma once

#include <string>
#include <string_view>

namespace berth::events {

inline constexpr std::string_view kSignatureHeader = "Berth-Signature-256";
inline constexpr std::string_view kDeliveryHeader = "Berth-Delivery";
inline constexpr std::string_view kTimestampHeader = "Berth-Timestamp";
inline constexpr std::string_view kEventHeader = "Berth-Event";

// "sha256=<64 hex digits>" (OpenSSL's HMAC).
std::string signature(std::string_view secret, std::string_view body);

}  // namespace berth::events
