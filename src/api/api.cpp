#include "api/api.hpp"

#include <spdlog/spdlog.h>

#include <string>

#include "api/admin_handlers.hpp"
#include "api/audit_trail.hpp"
#include "api/auth_gate.hpp"
#include "api/errors.hpp"
#include "api/metrics_handler.hpp"
#include "api/mirror_route.hpp"
#include "api/token_handler.hpp"
#include "api/ui_handler.hpp"
#include "api/v2_handlers.hpp"
#include "proxy/proxy.hpp"
#include "ui/site.hpp"

namespace berth::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using core::ErrorCode;

namespace {

// What an endpoint does to its repository, for the access check; nullopt for a method the
// endpoint does not have (answered 405 after authentication).
std::optional<auth::Action> action_of(Endpoint endpoint, bhttp::verb method) {
  const bool read = method == bhttp::verb::get || method == bhttp::verb::head;
  switch (endpoint) {
    case Endpoint::kTags:
    case Endpoint::kReferrers:
      return method == bhttp::verb::get ? std::optional(auth::Action::kPull) : std::nullopt;
    case Endpoint::kManifest:
      if (read) {
        return auth::Action::kPull;
      }
      if (method == bhttp::verb::put) {
        return auth::Action::kPush;
      }
      return method == bhttp::verb::delete_ ? std::optional(auth::Action::kDelete) : std::nullopt;
    case Endpoint::kBlob:
      if (read) {
        return auth::Action::kPull;
      }
      return method == bhttp::verb::delete_ ? std::optional(auth::Action::kDelete) : std::nullopt;
    case Endpoint::kUploads:
      return method == bhttp::verb::post ? std::optional(auth::Action::kPush) : std::nullopt;
    case Endpoint::kUpload:
      return auth::Action::kPush;
    default:
      return std::nullopt;
  }
}

// A push into an overlay project (a pull-through cache taking pushes) that set tags: tells the
// project, which asks its upstream whether the tags hide some there (audited as tag.shadow).
// After the answer and the push's own audit entry: neither waits for the upstream.
asio::awaitable<void> note_overlay_push(RequestContext& ctx) {
  auto* proxies = ctx.services().proxies;
  if (ctx.pushed_tags.empty() || proxies == nullptr || !ctx.repo) {
    co_return;
  }
  proxy::ProxyProject* proxy = proxies->find(ctx.repo->project());
  if (proxy == nullptr) {
    co_return;
  }
  auto shadowed = co_await proxy->note_push(*ctx.repo, ctx.pushed_tags);
  audit_shadowed(ctx, proxy->options().upstream.url, shadowed);
}

}  // namespace

asio::awaitable<void> Api::dispatch(RequestContext& ctx) {
  switch (ctx.route.endpoint) {
    case Endpoint::kHealth:
      co_return co_await ctx.respond_text(bhttp::status::ok, "ok\n");
    case Endpoint::kReady: {
      bool ready = co_await ctx.blocking([this] { return services_.ready(); });
      const auto status = ready ? bhttp::status::ok : bhttp::status::service_unavailable;
      std::string body = ready ? "ready\n" : "not ready\n";
      co_return co_await ctx.respond_text(status, std::move(body));
    }
    case Endpoint::kToken:
      co_return co_await serve_token(ctx);
    case Endpoint::kMetrics:
      co_return co_await serve_metrics(ctx);
    case Endpoint::kAdmin:
      co_return co_await serve_admin(ctx);
    case Endpoint::kNotFound:
      co_return co_await serve_ui(ctx);
    default:
      break;
  }
  // What the request needs, known before authenticating so that every challenge names it.
  std::optional<auth::Action> action;
  std::string scope;
  proxy::ProxyProject* proxy = nullptr;
  if (ctx.route.endpoint == Endpoint::kCatalog) {
    scope = "registry:catalog:*";
  } else if (ctx.route.endpoint != Endpoint::kBase) {
    action = action_of(ctx.route.endpoint, ctx.ex.request().method());
    const bool pull = action == auth::Action::kPull;
    const std::optional<std::string> ns = ctx.route.param("ns");
    auto name = co_await mirrored_name(ctx, ctx.route.name, ns, pull);
    if (!name) {
      co_return co_await ctx.fail(name.error());
    }
    auto repo = core::RepositoryName::parse(*name);
    if (!repo) {
      co_return co_await ctx.fail(repo.error());
    }
    ctx.ex.set_repository(repo->str());
    ctx.repo.emplace(std::move(*repo));
    if (!action) {
      co_return co_await ctx.method_not_allowed();
    }
    if (services_.proxies != nullptr) {
      proxy = services_.proxies->find(ctx.repo->project());
    }
    scope = challenge_scope(ctx.repo->str(), *action);
  }
  if (!co_await authenticate(ctx, scope)) {
    co_return;
  }
  switch (ctx.route.endpoint) {
    case Endpoint::kBase:
      if (!ctx.is(bhttp::verb::get) && !ctx.is(bhttp::verb::head)) {
        co_return co_await ctx.method_not_allowed();
      }
      // Clients probe /v2/ to learn how to authenticate: with access control on, an
      // anonymous probe gets the challenge (an anonymous token is fine).
      if (ctx.access().enabled() && ctx.identity.anonymous() && !ctx.token) {
        co_return co_await challenge(ctx, "", false, "authentication required");
      }
      co_return co_await ctx.respond_json(bhttp::status::ok, "{}");
    case Endpoint::kCatalog:
      if (!ctx.is(bhttp::verb::get)) {
        co_return co_await ctx.method_not_allowed();
      }
      if (ctx.access().enabled() && ctx.token &&
          !auth::allows(ctx.token->access, "registry", "catalog", "*")) {
        co_return co_await challenge(ctx, scope, true,
                                     "the token does not grant registry:catalog:*");
      }
      co_return co_await serve_catalog(ctx);
    default:
      break;
  }
  if (!co_await authorize(ctx, ctx.repo->str(), *action)) {
    co_return;
  }
  // A cache holds what its upstream has: nothing may be pushed into it (an overlay project
  // takes pushes). Said only to a caller who could push here otherwise: it names the upstream.
  if (proxy != nullptr && !proxy->options().overlay && *action == auth::Action::kPush) {
    co_return co_await ctx.fail(ErrorCode::kDenied, "project '" + proxy->options().project +
                                                        "' is a pull-through cache of " +
                                                        proxy->options().upstream.url +
                                                        ": pushes into it are refused");
  }
  // The first write into a project makes it (if the caller may).
  if (ctx.route.endpoint == Endpoint::kUploads ||
      (ctx.route.endpoint == Endpoint::kManifest && *action == auth::Action::kPush)) {
    auto project = std::string(ctx.repo->project());
    auto ensured =
        co_await ctx.blocking([&] { return ctx.access().ensure_project(ctx.identity, project); });
    if (!ensured) {
      co_return co_await ctx.fail(ensured.error());
    }
  }
  if (proxy != nullptr && ctx.route.endpoint == Endpoint::kManifest &&
      (ctx.is(bhttp::verb::get) || ctx.is(bhttp::verb::head))) {
    co_return co_await serve_proxy_manifest(ctx, *proxy);
  }
  if (proxy != nullptr && ctx.route.endpoint == Endpoint::kBlob) {
    co_return co_await serve_proxy_blob(ctx, *proxy);
  }
  switch (ctx.route.endpoint) {
    case Endpoint::kTags:
      co_return co_await serve_tags(ctx);
    case Endpoint::kManifest:
      co_return co_await serve_manifest(ctx);
    case Endpoint::kReferrers:
      co_return co_await serve_referrers(ctx);
    case Endpoint::kBlob:
      co_return co_await serve_blob(ctx);
    case Endpoint::kUploads:
      co_return co_await serve_uploads(ctx);
    case Endpoint::kUpload:
      co_return co_await serve_upload(ctx);
    default:
      co_return co_await ctx.fail(ErrorCode::kNotFound, "no such endpoint");
  }
}

asio::awaitable<void> Api::handle(http::Exchange& exchange) {
  RequestContext ctx(services_, exchange, route(exchange.request().target()));
  exchange.set_route(
      route_class(ctx.route.endpoint, services_.ui != nullptr && services_.ui->enabled()));
  std::string failure;
  try {
    co_await dispatch(ctx);
    audit_request(ctx);
    co_await note_overlay_push(ctx);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  // A bug or a failure of the machine: log it with the request id, answer 500 if still
  // possible. (co_await is not allowed inside a catch block.)
  if (!failure.empty()) {
    spdlog::error("request {} {} {} failed: {}", exchange.request_id(),
                  exchange.request().method_string(), exchange.request().target(), failure);
    if (!exchange.responded()) {
      core::Error error{ErrorCode::kInternal,
                        "internal error; the server log has details under request id " +
                            std::string(exchange.request_id()),
                        {}};
      auto response = error_response(error, exchange.request().version(), false);
      co_await exchange.respond(std::move(response));
    }
  }
}

}  // namespace berth::api
