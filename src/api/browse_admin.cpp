// GET /api/v1/search (everyone: what they may pull), and the administrators' pages
// GET /api/v1/system, /api/v1/gc (the recorded collections) and /api/v1/proxies (the counters
// of each pull-through cache since this process started). See browse_handlers.hpp.
#include <boost/json.hpp>
#include <string>
#include <vector>

#include "api/browse_common.hpp"
#include "api/browse_handlers.hpp"
#include "meta/gc_store.hpp"
#include "proxy/proxy.hpp"

namespace berth::api {

namespace asio = boost::asio;
namespace json = boost::json;
using core::ErrorCode;

namespace {

constexpr std::size_t kDefaultSearchLimit = 20;
constexpr std::size_t kMaxSearchLimit = 100;
// Rows read per query, and queries per list at most: a caller who may see little of a large
// registry gets what the first few thousand matches hold, not a scan of everything.
constexpr std::size_t kSearchBatch = 200;
constexpr int kSearchBatches = 20;

bool administrator(RequestContext& ctx) { return !ctx.access().enabled() || ctx.identity.admin; }

struct SearchResult {
  std::vector<std::string> repositories;
  std::vector<meta::TagHit> tags;
};

bool in(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

core::Result<SearchResult> search(RequestContext& ctx, const std::string& text, std::size_t limit) {
  auto projects = ctx.services().accounts.list_projects();
  if (!projects) {
    return std::unexpected(projects.error());
  }
  auto visible = ctx.access().pullable(ctx.identity, *projects);
  if (!visible) {
    return std::unexpected(visible.error());
  }
  auto& browse = *ctx.services().browse;
  SearchResult out;
  std::string after;
  for (int batch = 0; batch < kSearchBatches && out.repositories.size() < limit; ++batch) {
    auto names = browse.find_repositories(text, after, kSearchBatch);
    if (!names) {
      return std::unexpected(names.error());
    }
    for (auto& name : *names) {
      if (out.repositories.size() < limit && in(*visible, core::project_of(name))) {
        out.repositories.push_back(name);
      }
    }
    if (names->size() < kSearchBatch) {
      break;
    }
    after = names->back();
  }
  std::string last_repository;
  std::string last_tag;
  for (int batch = 0; batch < kSearchBatches && out.tags.size() < limit; ++batch) {
    auto hits = browse.find_tags(text, last_repository, last_tag, kSearchBatch);
    if (!hits) {
      return std::unexpected(hits.error());
    }
    for (auto& hit : *hits) {
      if (out.tags.size() < limit && in(*visible, core::project_of(hit.repository))) {
        out.tags.push_back(hit);
      }
    }
    if (hits->size() < kSearchBatch) {
      break;
    }
    last_repository = hits->back().repository;
    last_tag = hits->back().tag;
  }
  return out;
}

}  // namespace

asio::awaitable<void> serve_search(RequestContext& ctx) {
  if (!ctx.is(boost::beast::http::verb::get)) {
    co_return co_await ctx.method_not_allowed("GET");
  }
  const std::string text = ctx.route.param("q").value_or("");
  if (text.empty()) {
    co_return co_await ctx.fail(ErrorCode::kInvalidRequest, "q must have at least 1 character");
  }
  std::size_t limit = kDefaultSearchLimit;
  if (auto given = ctx.route.param("limit")) {
    auto value = parse_count(*given, kMaxSearchLimit);
    if (!value || *value == 0) {
      co_return co_await ctx.fail(ErrorCode::kInvalidRequest, "limit must be a number from 1 to " +
                                                                  std::to_string(kMaxSearchLimit));
    }
    limit = *value;
  }
  auto found = co_await ctx.blocking([&] { return search(ctx, text, limit); });
  if (!found) {
    co_return co_await ctx.fail(found.error());
  }
  json::array repositories;
  for (const auto& name : found->repositories) {
    repositories.push_back(
        json::object{{"name", name}, {"project", std::string(core::project_of(name))}});
  }
  json::array tags;
  for (const auto& hit : found->tags) {
    tags.push_back(json::object{
        {"repository", hit.repository}, {"tag", hit.tag}, {"digest", hit.digest.str()}});
  }
  json::object out{{"repositories", std::move(repositories)}, {"tags", std::move(tags)}};
  co_await reply_json(ctx, std::move(out));
}

asio::awaitable<void> serve_system(RequestContext& ctx) {
  if (!ctx.is(boost::beast::http::verb::get)) {
    co_return co_await ctx.method_not_allowed("GET");
  }
  if (!administrator(ctx)) {
    co_return co_await ctx.fail(ErrorCode::kDenied, "you may not see the system's figures");
  }
  auto totals = co_await ctx.blocking([&] { return ctx.services().browse->totals(); });
  if (!totals) {
    co_return co_await ctx.fail(totals.error());
  }
  const auto& system = ctx.services().system;
  json::object out{{"version", system.version},
                   {"metadata", system.metadata},
                   {"storage", system.storage},
                   {"projects", totals->projects},
                   {"repositories", totals->repositories},
                   {"blobs", totals->blobs},
                   {"bytes", totals->bytes},
                   {"access_control", ctx.access().enabled()}};
  co_await reply_json(ctx, std::move(out));
}

asio::awaitable<void> serve_gc_history(RequestContext& ctx) {
  if (!administrator(ctx)) {
    co_return co_await ctx.fail(ErrorCode::kDenied, "you may not see garbage collection");
  }
  json::array runs;
  if (auto* history = ctx.services().gc_history; history != nullptr) {
    auto recorded = co_await ctx.blocking([&] { return history->recent_runs(); });
    if (!recorded) {
      co_return co_await ctx.fail(recorded.error());
    }
    for (const auto& run : *recorded) {
      boost::system::error_code ec;
      auto report = json::parse(run.report_json, ec);
      runs.push_back(json::object{{"started", core::to_unix_ms(run.started)},
                                  {"finished", core::to_unix_ms(run.finished)},
                                  {"dry_run", run.dry_run},
                                  {"by", run.started_by},
                                  {"report", ec ? json::value(nullptr) : report}});
    }
  }
  json::object out{{"runs", std::move(runs)}};
  co_await reply_json(ctx, std::move(out));
}

asio::awaitable<void> serve_proxies(RequestContext& ctx) {
  if (!ctx.is(boost::beast::http::verb::get)) {
    co_return co_await ctx.method_not_allowed("GET");
  }
  if (!administrator(ctx)) {
    co_return co_await ctx.fail(ErrorCode::kDenied, "you may not see the proxy projects");
  }
  json::array out;
  if (auto* proxies = ctx.services().proxies; proxies != nullptr) {
    for (auto* proxy : proxies->all()) {
      const auto stats = proxy->stats();
      out.push_back(json::object{{"project", proxy->options().project},
                                 {"kind", proxy->options().overlay ? "overlay" : "proxy"},
                                 {"upstream", proxy->options().upstream.url},
                                 {"manifest_hits", stats.manifest_hits},
                                 {"manifest_fetches", stats.manifest_fetches},
                                 {"stale_serves", stats.stale_serves},
                                 {"blob_fetches", stats.blob_fetches},
                                 {"blob_bytes_fetched", stats.blob_bytes_fetched},
                                 {"upstream_errors", stats.upstream_errors}});
    }
  }
  co_await reply_json(ctx, std::move(out));
}

}  // namespace berth::api
