// Access scopes of the Docker token protocol: "repository:ci/app:pull,push",
// "registry:catalog:*", and Berth's own "registry:admin:*" (tokens for the /api/v1 admin API).
// Parsed from the `scope` parameters of /token and written into the "access" claim of tokens and
// the scope of WWW-Authenticate challenges.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace berth::auth {

struct Access {
  // "repository" or "registry".
  std::string type;
  // A repository name (validated by the core grammar) or "catalog".
  std::string name;
  // Sorted, unique: "pull", "push", "delete", "*".
  std::vector<std::string> actions;

  friend bool operator==(const Access&, const Access&) = default;
};

// Parses one scope string. Several space-separated scopes in one string are allowed (the
// OAuth2 form). Unknown types and actions are dropped (the spec says to ignore what is not
// understood); a malformed repository name is an error (NAME_INVALID), and so is a scope
// without the two ':' of type:name:actions. The name is everything between the first and the
// last ':', so "repository:localhost:5000/app:pull" names "localhost:5000/app", which the
// OCI grammar refuses. The type may carry a "(plugin)" class suffix, which is ignored. Two
// scopes for one resource merge into one Access.
[[nodiscard]] core::Result<std::vector<Access>> parse_scope(std::string_view scope);

// "repository:ci/app:pull,push"
[[nodiscard]] std::string format_scope(const Access& access);

// Whether `granted` allows `action` on type/name. "*" grants everything on that resource.
[[nodiscard]] bool allows(const std::vector<Access>& granted, std::string_view type,
                          std::string_view name, std::string_view action);

}  // namespace berth::auth
