#include "api/audit_trail.hpp"

#include <string>
#include <vector>

#include "audit/audit_log.hpp"

namespace berth::api {

namespace bhttp = boost::beast::http;

namespace {

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    const auto slash = path.find('/');
    const auto part = path.substr(0, slash);
    if (!part.empty()) {
      out.push_back(part);
    }
    if (slash == std::string_view::npos) {
      break;
    }
    path.remove_prefix(slash + 1);
  }
  return out;
}

std::string_view verb_of(bhttp::verb method) {
  switch (method) {
    case bhttp::verb::post:
      return "create";
    case bhttp::verb::put:
    case bhttp::verb::patch:
      return "update";
    case bhttp::verb::delete_:
      return "delete";
    default:
      return "";
  }
}

struct What {
  std::string action;
  std::string project;
  std::string target;
};

std::string project_of(std::string_view repository) {
  return std::string(repository.substr(0, repository.find('/')));
}

// A registry request (/v2/...): manifest pushes and deletes, tag deletes, blob deletes.
std::optional<What> registry_change(const RequestFacts& facts) {
  const auto& route = facts.route;
  const bool is_digest = route.argument.find(':') != std::string::npos;
  What what{"", project_of(route.name), route.name + (is_digest ? "@" : ":") + route.argument};
  if (route.endpoint == Endpoint::kManifest && facts.method == bhttp::verb::put) {
    what.action = "manifest.push";
  } else if (route.endpoint == Endpoint::kManifest && facts.method == bhttp::verb::delete_) {
    what.action = is_digest ? "manifest.delete" : "tag.delete";
  } else if (route.endpoint == Endpoint::kBlob && facts.method == bhttp::verb::delete_) {
    what.action = "blob.delete";
  } else {
    return std::nullopt;
  }
  return what;
}

// A change through /api/v1/<path>: "<object>.<verb>" from the path, e.g. projects/app/members/
// bob with PUT is member.update of bob in app, users/bob/unlock is user.unlock of bob.
std::optional<What> admin_change(const RequestFacts& facts) {
  const auto parts = segments(facts.route.argument);
  const auto verb = verb_of(facts.method);
  if (parts.empty() || verb.empty()) {
    return std::nullopt;
  }
  const std::size_t n = parts.size();
  const std::string named(facts.named);
  if (parts[0] == "session") {
    // Signing in; signing out is not worth an entry, failures come from the authenticator.
    if (facts.method != bhttp::verb::post || facts.status >= 400) {
      return std::nullopt;
    }
    return What{"signin", "", "web UI"};
  }
  if (parts[0] == "gc" && n == 1) {
    return What{"gc.run", "", ""};
  }
  if (parts[0] == "repositories" && n >= 3 && parts.back() == "delete") {
    std::string repository;
    for (std::size_t i = 1; i + 1 < n; ++i) {
      repository += (i == 1 ? "" : "/") + std::string(parts[i]);
    }
    return What{"image.delete", project_of(repository), repository};
  }
  const std::string object = parts[0] == "projects" ? "project"
                             : parts[0] == "users"  ? "user"
                             : parts[0] == "robots" ? "robot"
                                                    : "";
  if (object.empty()) {
    return std::nullopt;
  }
  if (n == 1) {
    return What{object + "." + std::string(verb), object == "project" ? named : "", named};
  }
  const std::string name(parts[1]);
  const std::string project = object == "project" ? name : "";
  if (n == 2) {
    return What{object + "." + std::string(verb), project, name};
  }
  if (object == "project" && parts[2] == "members") {
    return What{"member." + std::string(verb), project, n > 3 ? std::string(parts[3]) : ""};
  }
  if (object == "project" && parts[2] == "settings") {
    return What{"project.settings", project, name};
  }
  if (object == "project" && n == 4 && parts[2] == "retention" && parts[3] == "run") {
    return What{"retention.run", project, name};
  }
  if (object == "project") {
    return std::nullopt;  // previews and other reads by POST
  }
  // users/<u>/unlock, robots/<r>/revoke.
  return What{object + "." + std::string(parts[2]), "", name};
}

}  // namespace

std::optional<meta::AuditEntry> audit_entry(const RequestFacts& facts) {
  if (facts.status == 401 || facts.status == 0) {
    return std::nullopt;
  }
  std::optional<What> what;
  switch (facts.route.endpoint) {
    case Endpoint::kManifest:
    case Endpoint::kBlob:
      what = registry_change(facts);
      break;
    case Endpoint::kAdmin:
      what = admin_change(facts);
      break;
    case Endpoint::kToken:
      // Only when the fetch created an offline (refresh) token: clients fetch an access token
      // per pull session, and an entry for each would be a database write per pull.
      if (facts.status < 400 && !facts.actor.empty() && !facts.named.empty()) {
        what = What{"signin", "", std::string(facts.named)};
      }
      break;
    default:
      break;
  }
  if (!what) {
    return std::nullopt;
  }
  return meta::AuditEntry{.actor = facts.actor.empty() ? "anonymous" : std::string(facts.actor),
                          .remote = std::string(facts.remote),
                          .action = std::move(what->action),
                          .project = std::move(what->project),
                          .target = std::move(what->target),
                          .result = facts.status < 400 ? "ok" : "failed",
                          .status = static_cast<int>(facts.status)};
}

void audit_request(RequestContext& ctx) {
  auto* log = ctx.services().audit;
  // Pulls are most requests and never audited: out before anything is built for them.
  const auto method = ctx.ex.request().method();
  if (log == nullptr || ((method == bhttp::verb::get || method == bhttp::verb::head) &&
                         ctx.route.endpoint != Endpoint::kToken)) {
    return;
  }
  const std::string remote = ctx.client_address();
  const std::string actor = ctx.identity.anonymous() ? "" : ctx.identity.name;
  auto entry = audit_entry(RequestFacts{.method = method,
                                        .route = ctx.route,
                                        .actor = actor,
                                        .remote = remote,
                                        .status = ctx.ex.status(),
                                        .named = ctx.audit_target});
  if (entry) {
    log->record(std::move(*entry));
  }
}

void audit_shadowed(RequestContext& ctx, const std::string& upstream,
                    const std::vector<core::Tag>& shadowed) {
  auto* log = ctx.services().audit;
  if (log == nullptr || !ctx.repo) {
    return;
  }
  for (const auto& tag : shadowed) {
    log->record(
        meta::AuditEntry{.actor = ctx.identity.anonymous() ? "anonymous" : ctx.identity.name,
                         .remote = ctx.client_address(),
                         .action = "tag.shadow",
                         .project = std::string(ctx.repo->project()),
                         .target = ctx.repo->str() + ":" + tag.str(),
                         .result = "ok",
                         .status = static_cast<int>(ctx.ex.status()),
                         .detail = "hides the tag of the upstream " + upstream});
  }
}

}  // namespace berth::api
