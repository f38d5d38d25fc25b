// GET /api/v1/audit (api/audit_trail.hpp): the audit log for administrators.
#include <boost/json.hpp>
#include <charconv>
#include <string>
#include <utility>

#include "api/audit_trail.hpp"
#include "api/browse_common.hpp"
#include "audit/audit_log.hpp"
#include "util/utc_time.hpp"

namespace berth::api {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using core::ErrorCode;

namespace {

constexpr std::size_t kDefaultPage = 100;
constexpr std::size_t kMaxPage = 1000;

// The query of the request, or the message of the 400 it gets.
core::Result<meta::AuditQuery> read_query(const Route& route) {
  meta::AuditQuery query;
  query.actor = route.param("user").value_or("");
  query.project = route.param("project").value_or("");
  query.action = route.param("action").value_or("");
  for (auto [key, bound] : {std::pair{"since", &query.since}, std::pair{"until", &query.until}}) {
    if (auto text = route.param(key)) {
      auto time = util::parse_utc(*text);
      if (!time) {
        return core::fail(
            ErrorCode::kInvalidRequest,
            std::string(key) + " must be a time as " + "2026-12-06T08:30:00Z, not '" + *text + "'");
      }
      *bound = *time;
    }
  }
  query.limit = kDefaultPage;
  if (auto n = route.param("n")) {
    auto value = parse_count(*n, kMaxPage);
    if (!value || *value == 0) {
      return core::fail(ErrorCode::kInvalidRequest,
                        "n must be a number from 1 to " + std::to_string(kMaxPage));
    }
    query.limit = *value;
  }
  if (auto cursor = route.param("cursor")) {
    auto value = parse_count(*cursor, INT64_MAX);
    if (!value) {
      return core::fail(ErrorCode::kInvalidRequest, "cursor must be the \"next\" of a page");
    }
    query.before_id = static_cast<std::int64_t>(*value);
  }
  if (auto page = route.param("page")) {
    auto value = parse_count(*page, 1'000'000);
    if (!value || *value == 0) {
      return core::fail(ErrorCode::kInvalidRequest, "page must be a number from 1");
    }
    query.offset = (*value - 1) * query.limit;
  }
  return query;
}

}  // namespace

asio::awaitable<void> serve_audit(RequestContext& ctx) {
  if (!ctx.is(bhttp::verb::get)) {
    co_return co_await ctx.method_not_allowed("GET");
  }
  if (ctx.access().enabled() && !ctx.identity.admin) {
    co_return co_await ctx.fail(ErrorCode::kDenied, "you may not read the audit log");
  }
  auto* store = ctx.services().audit_store;
  if (store == nullptr) {
    co_return co_await ctx.fail(ErrorCode::kNotFound, "no audit log");
  }
  auto query = read_query(ctx.route);
  if (!query) {
    co_return co_await ctx.fail(query.error());
  }
  auto entries = co_await ctx.blocking([&] { return store->list(*query); });
  if (!entries) {
    co_return co_await ctx.fail(entries.error());
  }
  boost::json::array out;
  for (const auto& entry : *entries) {
    out.push_back(audit::to_json(entry));
  }
  boost::json::value next = nullptr;
  if (entries->size() == query->limit) {
    next = std::to_string(entries->back().id);
  }
  // Named: GCC 12 mishandles the string literals of an initializer list inside a co_await.
  boost::json::object page;
  page["entries"] = std::move(out);
  page["next"] = std::move(next);
  co_await reply_json(ctx, std::move(page));
}

}  // namespace berth::api
