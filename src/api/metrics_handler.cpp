#include "api/metrics_handler.hpp"

#include "api/auth_gate.hpp"
#include "api/errors.hpp"
#include "auth/scope.hpp"
#include "metrics/exposition.hpp"

namespace berth::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using core::ErrorCode;

metrics::RouteClass route_class(Endpoint endpoint, bool ui_enabled) {
  using metrics::RouteClass;
  switch (endpoint) {
    case Endpoint::kBase:
      return RouteClass::kBase;
    case Endpoint::kCatalog:
      return RouteClass::kCatalog;
    case Endpoint::kTags:
      return RouteClass::kTags;
    case Endpoint::kManifest:
      return RouteClass::kManifest;
    case Endpoint::kReferrers:
      return RouteClass::kReferrers;
    case Endpoint::kUploads:
    case Endpoint::kUpload:
      return RouteClass::kUpload;
    case Endpoint::kBlob:
      return RouteClass::kBlob;
    case Endpoint::kToken:
      return RouteClass::kToken;
    case Endpoint::kMetrics:
      return RouteClass::kMetrics;
    case Endpoint::kAdmin:
      return RouteClass::kApi;
    case Endpoint::kNotFound:
      return ui_enabled ? RouteClass::kUi : RouteClass::kOther;
    case Endpoint::kHealth:
    case Endpoint::kReady:
      return RouteClass::kOther;
  }
  return RouteClass::kOther;
}

asio::awaitable<void> serve_metrics(RequestContext& ctx) {
  if (!ctx.services().metrics) {
    co_return co_await ctx.fail(ErrorCode::kNotFound, "metrics are not served here");
  }
  if (!ctx.is(bhttp::verb::get) && !ctx.is(bhttp::verb::head)) {
    co_return co_await ctx.method_not_allowed();
  }
  const std::string scope = "registry:admin:*";
  if (!co_await authenticate(ctx, scope)) {
    co_return;
  }
  if (ctx.access().enabled()) {
    if (ctx.identity.anonymous()) {
      core::Error error{
          ErrorCode::kUnauthorized, "/metrics needs an administrator's credentials", {}};
      auto response = error_response(error, ctx.ex.request().version(), ctx.keep_alive());
      response.set(bhttp::field::www_authenticate, "Basic realm=\"berth\"");
      co_return co_await ctx.send(std::move(response));
    }
    const bool token_for_admin =
        !ctx.token || auth::allows(ctx.token->access, "registry", "admin", "*");
    if (!ctx.identity.admin || !token_for_admin) {
      co_return co_await ctx.fail(ErrorCode::kDenied, "/metrics is for administrators");
    }
  }
  std::string text = co_await ctx.services().metrics();
  auto response = ctx.response(bhttp::status::ok);
  response.set(bhttp::field::content_type, metrics::kContentType);
  response.body() = std::move(text);
  co_await ctx.send(std::move(response));
}

}  // namespace berth::api
