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

struct What {
  std::string action;
  std::string project;
  std::string target;
};

// A registry request (/v2/...): manifest pushes and deletes, tag deletes, blob deletes.
std::optional<What> registry_change(const RequestFacts& facts) {
  const auto& route = facts.route;
  const bool is_digest = route.argument.find(':') != std::string::npos;
  What what{"", std::string(core::project_of(route.name)),
            route.name + (is_digest ? "@" : ":") + route.argument};
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

// Where a field of an /api/v1 change's entry comes from.
enum class From {
  kNothing,
  kFirst,           // the path's first wildcard
  kSecond,          // its second
  kProjectOfFirst,  // the project (first component) of the repository the first names
  kNamed,           // RequestFacts::named: what the handler created
};

// An audited /api/v1 change: its method and path ("*" is one segment, "**" one or more), and
// the entry's action, project and target. Anything else through /api/v1 is not a change (reads,
// previews by POST, methods the endpoint does not have).
struct Change {
  bhttp::verb method;
  std::string_view path;
  std::string_view action;
  From project;
  From target;
};

using enum From;
constexpr Change kChanges[] = {
    {bhttp::verb::post, "gc", "gc.run", kNothing, kNothing},
    {bhttp::verb::post, "repositories/**/delete", "image.delete", kProjectOfFirst, kFirst},
    {bhttp::verb::post, "projects", "project.create", kNamed, kNamed},
    {bhttp::verb::patch, "projects/*", "project.update", kFirst, kFirst},
    {bhttp::verb::delete_, "projects/*", "project.delete", kFirst, kFirst},
    {bhttp::verb::put, "projects/*/members/*", "member.update", kFirst, kSecond},
    {bhttp::verb::delete_, "projects/*/members/*", "member.delete", kFirst, kSecond},
    {bhttp::verb::put, "projects/*/settings", "project.settings", kFirst, kFirst},
    {bhttp::verb::post, "projects/*/retention/run", "retention.run", kFirst, kFirst},
    {bhttp::verb::post, "projects/*/webhooks", "webhook.create", kFirst, kNamed},
    {bhttp::verb::delete_, "projects/*/webhooks/*", "webhook.delete", kFirst, kSecond},
    {bhttp::verb::post, "webhooks/deliveries/*/redeliver", "webhook.redeliver", kNothing, kFirst},
    {bhttp::verb::post, "users", "user.create", kNothing, kNamed},
    {bhttp::verb::patch, "users/*", "user.update", kNothing, kFirst},
    {bhttp::verb::delete_, "users/*", "user.delete", kNothing, kFirst},
    {bhttp::verb::post, "users/*/unlock", "user.unlock", kNothing, kFirst},
    {bhttp::verb::post, "robots", "robot.create", kNothing, kNamed},
    {bhttp::verb::delete_, "robots/*", "robot.delete", kNothing, kFirst},
    {bhttp::verb::post, "robots/*/revoke", "robot.revoke", kNothing, kFirst},
};

// The wildcards of `pattern` in `parts` ("**" joined with "/"), or nullopt when it does not
// match.
std::optional<std::vector<std::string>> match(std::string_view pattern,
                                              const std::vector<std::string_view>& parts) {
  const auto want = segments(pattern);
  std::vector<std::string> captured;
  std::size_t at = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i] == "**") {
      // One or more segments: all but those the rest of the pattern needs.
      const std::size_t rest = want.size() - i - 1;
      if (parts.size() < at + 1 + rest) {
        return std::nullopt;
      }
      std::string joined;
      for (; at < parts.size() - rest; ++at) {
        joined += (joined.empty() ? "" : "/") + std::string(parts[at]);
      }
      captured.push_back(std::move(joined));
      continue;
    }
    if (at == parts.size() || (want[i] != "*" && want[i] != parts[at])) {
      return std::nullopt;
    }
    if (want[i] == "*") {
      captured.emplace_back(parts[at]);
    }
    ++at;
  }
  if (at != parts.size()) {
    return std::nullopt;
  }
  return captured;
}

std::string field(From from, const std::vector<std::string>& captured, std::string_view named) {
  switch (from) {
    case kFirst:
      return captured.empty() ? "" : captured[0];
    case kSecond:
      return captured.size() < 2 ? "" : captured[1];
    case kProjectOfFirst:
      return captured.empty() ? "" : std::string(core::project_of(captured[0]));
    case kNamed:
      return std::string(named);
    case kNothing:
      break;
  }
  return "";
}

// A change through /api/v1/<path>, from kChanges; web UI sign-ins.
std::optional<What> admin_change(const RequestFacts& facts) {
  const auto parts = segments(facts.route.argument);
  if (parts.size() == 1 && parts[0] == "session") {
    // Signing in; signing out is not worth an entry, failures come from the authenticator.
    if (facts.method != bhttp::verb::post || facts.status >= 400) {
      return std::nullopt;
    }
    return What{"signin", "", "web UI"};
  }
  for (const auto& change : kChanges) {
    if (change.method != facts.method) {
      continue;
    }
    if (auto captured = match(change.path, parts)) {
      return What{std::string(change.action), field(change.project, *captured, facts.named),
                  field(change.target, *captured, facts.named)};
    }
  }
  return std::nullopt;
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
  if (log == nullptr) {
    return;
  }
  // Pulls, uploads and token fetches are most requests and never audited (a token fetch only
  // when it made an offline token): out before anything is built for them.
  const auto method = ctx.ex.request().method();
  switch (ctx.route.endpoint) {
    case Endpoint::kManifest:
    case Endpoint::kBlob:
    case Endpoint::kAdmin:
      if (method == bhttp::verb::get || method == bhttp::verb::head) {
        return;
      }
      break;
    case Endpoint::kToken:
      if (ctx.audit_target.empty()) {
        return;
      }
      break;
    default:
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
