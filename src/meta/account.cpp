// The names of project roles, as the admin API, the CLI and configuration spell them.
#include <array>
#include <utility>

#include "meta/account_store.hpp"

namespace berth::meta {
namespace {

constexpr std::array<std::pair<Role, std::string_view>, 4> kRoleNames = {{
    {Role::kReader, "reader"},
    {Role::kWriter, "writer"},
    {Role::kMaintainer, "maintainer"},
    {Role::kOwner, "owner"},
}};

}  // namespace

std::string_view role_name(Role role) {
  for (const auto& [value, name] : kRoleNames) {
    if (value == role) {
      return name;
    }
  }
  // Only a cast of a number that is no Role gets here (a bug, or a corrupt row caught
  // elsewhere); a recognisable word beats an empty string in a log line.
  return "unknown";
}

std::optional<Role> parse_role(std::string_view text) {
  for (const auto& [value, name] : kRoleNames) {
    if (name == text) {
      return value;
    }
  }
  return std::nullopt;
}

}  // namespace berth::meta
