#include "api/ui_handler.hpp"

#include <boost/beast/http/field.hpp>

#include "api/conditional.hpp"
#include "api/errors.hpp"
#include "ui/site.hpp"

namespace berth::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using core::ErrorCode;

namespace {

// An error on a UI path: the OCI error body, with the UI's security headers.
asio::awaitable<void> ui_error(RequestContext& ctx, ErrorCode code, std::string message,
                               std::string_view allow = {}) {
  auto response = error_response(core::Error{code, std::move(message), {}},
                                 ctx.ex.request().version(), ctx.keep_alive(), allow);
  ui::Site::add_security_headers(response);
  co_await ctx.send(std::move(response));
}

}  // namespace

asio::awaitable<void> serve_ui(RequestContext& ctx) {
  const ui::Site* site = ctx.services().ui;
  if (site == nullptr || !site->enabled()) {
    co_return co_await ctx.fail(ErrorCode::kNotFound, "no such endpoint");
  }
  std::string_view path = ctx.ex.request().target();
  path = path.substr(0, path.find_first_of("?#"));
  const auto found = site->lookup(path);
  if (found.match == ui::Site::Match::kNotMine) {
    co_return co_await ctx.fail(ErrorCode::kNotFound, "no such endpoint");
  }
  if (!ctx.is(bhttp::verb::get) && !ctx.is(bhttp::verb::head)) {
    co_return co_await ui_error(ctx, ErrorCode::kMethodNotAllowed,
                                "the web UI answers GET and HEAD only", "GET, HEAD");
  }
  if (!site->built_in()) {
    co_return co_await ui_error(ctx, ErrorCode::kNotFound,
                                "the web UI was not built into this berth (it was built with "
                                "-DBERTH_UI=OFF); the registry and /api/v1 work without it");
  }
  switch (found.match) {
    case ui::Site::Match::kRedirect: {
      auto response = ctx.response(bhttp::status::found);
      ui::Site::add_security_headers(response);
      response.set(bhttp::field::location, site->base() + "/");
      co_return co_await ctx.send(std::move(response));
    }
    case ui::Site::Match::kMissingAsset:
      co_return co_await ui_error(ctx, ErrorCode::kNotFound,
                                  "no such file of the web UI (an older or newer build's?)");
    default:
      break;
  }
  const auto& request = ctx.ex.request();
  auto chosen = ui::Site::choose(*found.file, request[bhttp::field::accept_encoding]);
  const bool not_modified = if_none_match(request[bhttp::field::if_none_match], chosen.etag);
  auto response = ui::Site::render(*found.file, chosen, not_modified, request.version());
  response.keep_alive(ctx.keep_alive());
  co_await ctx.send(std::move(response));
}

}  // namespace berth::api
