// parse_scope: the `scope` parameters of /token. Every access it returns is well-formed
// (known type, valid name, sorted known actions, one entry per resource), survives
// format_scope and parsing again unchanged, and grants exactly the actions it lists.
#include <algorithm>
#include <set>
#include <string>
#include <utility>

#include "auth/scope.hpp"
#include "core/names.hpp"
#include "fuzz_check.hpp"

using berth::auth::Access;
using berth::core::ErrorCode;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = berth::fuzz::as_text(data, size);
  auto parsed = berth::auth::parse_scope(text);
  if (!parsed) {
    FUZZ_CHECK(parsed.error().code == ErrorCode::kNameInvalid);
    FUZZ_CHECK(!parsed.error().message.empty());
    return 0;
  }
  std::set<std::pair<std::string, std::string>> resources;
  for (const Access& access : *parsed) {
    FUZZ_CHECK(resources.emplace(access.type, access.name).second);
    if (access.type == "registry") {
      FUZZ_CHECK(access.name == "catalog" || access.name == "admin");
    } else {
      FUZZ_CHECK(access.type == "repository");
      FUZZ_CHECK(berth::core::RepositoryName::parse(access.name).has_value());
    }
    FUZZ_CHECK(std::is_sorted(access.actions.begin(), access.actions.end()));
    FUZZ_CHECK(std::adjacent_find(access.actions.begin(), access.actions.end()) ==
               access.actions.end());
    for (const std::string& action : access.actions) {
      FUZZ_CHECK(action == "pull" || action == "push" || action == "delete" || action == "*");
      FUZZ_CHECK(berth::auth::allows({access}, access.type, access.name, action));
    }
    const bool wildcard = std::binary_search(access.actions.begin(), access.actions.end(), "*");
    for (std::string_view action : {"pull", "push", "delete", "*"}) {
      const bool listed = std::binary_search(access.actions.begin(), access.actions.end(), action);
      FUZZ_CHECK(berth::auth::allows({access}, access.type, access.name, action) ==
                 (listed || wildcard));
    }

    const std::string formatted = berth::auth::format_scope(access);
    auto again = berth::auth::parse_scope(formatted);
    FUZZ_CHECK(again.has_value() && again->size() == 1 && (*again)[0] == access);
  }
  return 0;
}
