#include "auth/account_names.hpp"

#include <algorithm>

#include "core/names.hpp"

namespace berth::auth {

bool valid_account_name(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '@';
  });
}

bool valid_project_name(std::string_view name) {
  return name.find('/') == std::string_view::npos && core::RepositoryName::parse(name).has_value();
}

}  // namespace berth::auth
