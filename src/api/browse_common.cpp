#include "api/browse_common.hpp"

#include <algorithm>
#include <charconv>

#include "core/image_config.hpp"

namespace berth::api {

namespace asio = boost::asio;
namespace json = boost::json;
using core::ErrorCode;

namespace {

std::string quoted_list(const std::vector<std::string_view>& names) {
  std::string out;
  for (auto name : names) {
    out += (out.empty() ? "" : ", ") + std::string(name);
  }
  return out;
}

}  // namespace

std::optional<std::size_t> parse_count(const std::string& text, std::size_t max) {
  std::size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || value > max) {
    return std::nullopt;
  }
  return value;
}

json::object Rights::json() const {
  return json::object{
      {"pull", pull}, {"push", push}, {"delete", remove}, {"manage", manage}, {"admin", admin}};
}

asio::awaitable<core::Result<Rights>> rights_in(RequestContext& ctx, const std::string& project) {
  auto allowed = co_await ctx.blocking([&] { return ctx.access().allowed(ctx.identity, project); });
  if (!allowed) {
    co_return std::unexpected(allowed.error());
  }
  Rights rights;
  rights.admin = !ctx.access().enabled() || ctx.identity.admin;
  for (auto action : *allowed) {
    switch (action) {
      case auth::Action::kPull:
        rights.pull = true;
        break;
      case auth::Action::kPush:
        rights.push = true;
        break;
      case auth::Action::kDelete:
        rights.remove = true;
        break;
      case auth::Action::kManage:
        rights.manage = true;
        break;
    }
  }
  co_return rights;
}

asio::awaitable<std::optional<Listing>> read_listing(RequestContext& ctx,
                                                     std::vector<std::string_view> sorts) {
  Listing out;
  out.page.filter = ctx.route.param("q").value_or("");
  out.sort = ctx.route.param("sort").value_or(std::string(sorts.front()));
  if (std::find(sorts.begin(), sorts.end(), out.sort) == sorts.end()) {
    co_await ctx.fail(ErrorCode::kInvalidRequest,
                      "sort must be one of " + quoted_list(sorts) + ", not '" + out.sort + "'");
    co_return std::nullopt;
  }
  const std::string order = ctx.route.param("order").value_or(out.sort == "name" ? "asc" : "desc");
  if (order != "asc" && order != "desc") {
    co_await ctx.fail(ErrorCode::kInvalidRequest, "order must be asc or desc");
    co_return std::nullopt;
  }
  out.page.descending = order == "desc";
  if (auto limit = ctx.route.param("limit")) {
    auto value = parse_count(*limit, kMaxPageLimit);
    if (!value || *value == 0) {
      co_await ctx.fail(ErrorCode::kInvalidRequest,
                        "limit must be a number from 1 to " + std::to_string(kMaxPageLimit));
      co_return std::nullopt;
    }
    out.page.limit = *value;
  }
  if (auto offset = ctx.route.param("offset")) {
    auto value = parse_count(*offset, std::numeric_limits<std::int64_t>::max());
    if (!value) {
      co_await ctx.fail(ErrorCode::kInvalidRequest, "offset must be a number from 0");
      co_return std::nullopt;
    }
    out.page.offset = *value;
  }
  co_return out;
}

json::value time_json(const std::optional<core::TimePoint>& time) {
  if (!time) {
    return nullptr;
  }
  return core::to_unix_ms(*time);
}

json::value optional_json(const std::optional<std::uint64_t>& value) {
  if (!value) {
    return nullptr;
  }
  return *value;
}

json::value text_or_null(const std::string& text) {
  if (text.empty()) {
    return nullptr;
  }
  return json::string(text);
}

json::value artifact_type_json(const std::string& artifact_type) {
  if (core::is_image_config_media_type(artifact_type)) {
    return nullptr;
  }
  return text_or_null(artifact_type);
}

asio::awaitable<void> reply_json(RequestContext& ctx, json::value body) {
  auto text = json::serialize(body);
  co_await ctx.respond_json(boost::beast::http::status::ok, std::move(text));
}

}  // namespace berth::api
