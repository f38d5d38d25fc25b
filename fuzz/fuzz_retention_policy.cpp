// parse_retention_policy: the JSON project owners give as a retention policy. Whatever it
// accepts is within the documented limits, prints as canonical JSON that parses back to the
// same policy, and prints the same again; what it refuses is refused as kInvalidRequest with a
// message.
#include <string>

#include "fuzz_check.hpp"
#include "lifecycle/retention_policy.hpp"

using berth::core::ErrorCode;
using berth::lifecycle::RetentionPolicy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = berth::fuzz::as_text(data, size);
  auto parsed = berth::lifecycle::parse_retention_policy(text);
  if (!parsed) {
    FUZZ_CHECK(parsed.error().code == ErrorCode::kInvalidRequest);
    FUZZ_CHECK(parsed.error().message.starts_with("retention policy: "));
    return 0;
  }
  const RetentionPolicy& policy = *parsed;
  FUZZ_CHECK(policy.rules.count() >= 1);
  FUZZ_CHECK(!policy.include.empty());
  FUZZ_CHECK(policy.schedule >= RetentionPolicy::kMinSchedule &&
             policy.schedule <= RetentionPolicy::kMaxSchedule);
  FUZZ_CHECK(!policy.rules.keep_last || *policy.rules.keep_last <= RetentionPolicy::kMaxKeepLast);
  FUZZ_CHECK(
      !policy.rules.max_age_days ||
      (*policy.rules.max_age_days >= 1 && *policy.rules.max_age_days <= RetentionPolicy::kMaxDays));
  FUZZ_CHECK(!policy.rules.not_pulled_days ||
             (*policy.rules.not_pulled_days >= 1 &&
              *policy.rules.not_pulled_days <= RetentionPolicy::kMaxDays));

  const std::string canonical = berth::lifecycle::to_json(policy);
  auto again = berth::lifecycle::parse_retention_policy(canonical);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == policy);
  FUZZ_CHECK(berth::lifecycle::to_json(*again) == canonical);
  return 0;
}
