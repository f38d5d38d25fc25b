// Scope strings of the Docker token spec ("type[(class)]:name:actions"). A repository name
// cannot contain ':' under the OCI grammar, yet some clients put a registry host with a port
// into it ("repository:localhost:5000/app:pull"). The name is therefore read as everything
// between the first and the last ':' and then checked by core::RepositoryName, which refuses
// the host-and-port form with NAME_INVALID rather than guessing what was meant.
#include "auth/scope.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <utility>

#include "core/names.hpp"

namespace berth::auth {
namespace {

constexpr std::array<std::string_view, 4> kKnownActions = {"*", "delete", "pull", "push"};

bool is_known_action(std::string_view action) {
  return std::find(kKnownActions.begin(), kKnownActions.end(), action) != kKnownActions.end();
}

// "repository(plugin)" -> "repository". A '(' without a closing ')' at the end is not a
// class, and leaves a type nobody knows.
std::string_view strip_class(std::string_view type) {
  const auto open = type.find('(');
  if (open == std::string_view::npos || type.back() != ')' ||
      type.find_first_of("()", open + 1) != type.size() - 1) {
    return type;
  }
  return type.substr(0, open);
}

std::vector<std::string> parse_actions(std::string_view list) {
  std::vector<std::string> actions;
  while (true) {
    const auto comma = list.find(',');
    const std::string_view action = list.substr(0, comma);
    if (is_known_action(action)) {
      actions.emplace_back(action);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    list.remove_prefix(comma + 1);
  }
  return actions;
}

void sort_unique(std::vector<std::string>& actions) {
  std::sort(actions.begin(), actions.end());
  actions.erase(std::unique(actions.begin(), actions.end()), actions.end());
}

}  // namespace

core::Result<std::vector<Access>> parse_scope(std::string_view scope) {
  std::vector<Access> result;
  // Repeated resources ("repository:a:pull repository:a:push") merge into one entry, in
  // the order of first appearance.
  std::map<std::pair<std::string, std::string>, std::size_t> index;
  while (!scope.empty()) {
    const auto space = scope.find(' ');
    const std::string_view item = scope.substr(0, space);
    scope.remove_prefix(space == std::string_view::npos ? scope.size() : space + 1);
    if (item.empty()) {
      continue;
    }
    const auto first = item.find(':');
    const auto last = item.rfind(':');
    if (first == std::string_view::npos || first == last) {
      return core::fail(core::ErrorCode::kNameInvalid,
                        "malformed scope: expected type:name:actions");
    }
    const std::string_view type = strip_class(item.substr(0, first));
    const std::string_view name = item.substr(first + 1, last - first - 1);
    const std::string_view actions = item.substr(last + 1);
    if (type == "repository") {
      auto parsed = core::RepositoryName::parse(name);
      if (!parsed) {
        return core::fail(core::ErrorCode::kNameInvalid,
                          "invalid repository name in scope: " + parsed.error().message);
      }
    } else if (type != "registry" || (name != "catalog" && name != "admin")) {
      continue;  // A resource we do not know: the spec says to ignore it.
    }
    auto key = std::make_pair(std::string(type), std::string(name));
    auto [it, inserted] = index.try_emplace(std::move(key), result.size());
    if (inserted) {
      result.push_back(Access{std::string(type), std::string(name), {}});
    }
    Access& access = result[it->second];
    for (auto& action : parse_actions(actions)) {
      access.actions.push_back(std::move(action));
    }
    sort_unique(access.actions);
  }
  return result;
}

std::string format_scope(const Access& access) {
  std::string out = access.type;
  out += ':';
  out += access.name;
  out += ':';
  for (std::size_t i = 0; i < access.actions.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += access.actions[i];
  }
  return out;
}

bool allows(const std::vector<Access>& granted, std::string_view type, std::string_view name,
            std::string_view action) {
  if (!is_known_action(action)) {
    return false;
  }
  for (const Access& access : granted) {
    if (access.type != type || access.name != name) {
      continue;
    }
    for (const std::string& held : access.actions) {
      if (held == action || held == "*") {
        return true;
      }
    }
  }
  return false;
}

}  // namespace berth::auth
