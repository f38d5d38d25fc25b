// The discovery endpoints: the catalog, tag lists and referrers.
#include <boost/json.hpp>
#include <charconv>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/conditional.hpp"
#include "api/context.hpp"
#include "api/errors.hpp"
#include "api/headers.hpp"
#include "api/v2_handlers.hpp"
#include "core/range.hpp"

namespace berth::api {

namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using core::ErrorCode;
using core::Result;

namespace {

// Parses the `n` of a paginated list. Absent: nullopt. Not a number: PAGINATION_NUMBER_INVALID.
Result<std::optional<std::size_t>> parse_page_size(const Route& route) {
  auto text = route.param("n");
  if (!text || text->empty()) {
    return std::optional<std::size_t>();
  }
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc() || end != text->data() + text->size()) {
    return core::fail(ErrorCode::kPaginationInvalid, "n must be a non-negative integer");
  }
  return std::optional<std::size_t>(n);
}

}  // namespace

asio::awaitable<void> serve_catalog(RequestContext& ctx) {
  auto n = parse_page_size(ctx.route);
  if (!n) {
    co_return co_await ctx.fail(n.error());
  }
  auto last = ctx.route.param("last").value_or("");
  // Each caller sees the repositories it may pull; decided once per project.
  registry::Registry::RepositoryFilter visible;
  std::map<std::string, bool, std::less<>> decided;
  if (ctx.access().enabled()) {
    visible = [&ctx, &decided](const std::string& repository) {
      auto project = core::project_of(repository);
      auto it = decided.find(project);
      if (it == decided.end()) {
        auto may = ctx.access().may(ctx.identity, project, auth::Action::kPull);
        it = decided.emplace(project, may && *may).first;
      }
      return it->second;
    };
  }
  auto page = co_await ctx.lookup([&] { return ctx.registry().catalog(*n, last, visible); });
  if (!page) {
    co_return co_await ctx.fail(page.error());
  }
  boost::json::array names;
  for (auto& name : page->names) {
    names.emplace_back(name);
  }
  boost::json::object body;
  body["repositories"] = std::move(names);
  auto res = ctx.response(bhttp::status::ok);
  res.set(bhttp::field::content_type, kJsonContentType);
  if (page->next_last) {
    res.set(bhttp::field::link, "</v2/_catalog?n=" + std::to_string(page->names.size()) + "&last=" +
                                    encode_query_value(*page->next_last) + ">; rel=\"next\"");
  }
  res.body() = boost::json::serialize(body);
  co_await ctx.send(std::move(res));
}

asio::awaitable<void> serve_tags(RequestContext& ctx) {
  auto n = parse_page_size(ctx.route);
  if (!n) {
    co_return co_await ctx.fail(n.error());
  }
  auto last = ctx.route.param("last").value_or("");
  auto page = co_await ctx.lookup([&] { return ctx.registry().list_tags(*ctx.repo, *n, last); });
  if (!page) {
    co_return co_await ctx.fail(page.error());
  }
  boost::json::array names;
  for (auto& name : page->names) {
    names.emplace_back(name);
  }
  boost::json::object body;
  body["name"] = ctx.repo->str();
  body["tags"] = std::move(names);
  auto res = ctx.response(bhttp::status::ok);
  res.set(bhttp::field::content_type, kJsonContentType);
  if (page->next_last) {
    res.set(bhttp::field::link,
            "</v2/" + ctx.repo->str() + "/tags/list?n=" + std::to_string(page->names.size()) +
                "&last=" + encode_query_value(*page->next_last) + ">; rel=\"next\"");
  }
  res.body() = boost::json::serialize(body);
  co_await ctx.send(std::move(res));
}

asio::awaitable<void> serve_referrers(RequestContext& ctx) {
  auto subject = core::Digest::parse(ctx.route.argument);
  if (!subject) {
    co_return co_await ctx.fail(subject.error());
  }
  auto artifact_type = ctx.route.param("artifactType");
  if (artifact_type && artifact_type->empty()) {
    artifact_type.reset();
  }
  auto index = co_await ctx.lookup(
      [&] { return ctx.registry().referrers(*ctx.repo, *subject, artifact_type); });
  if (!index) {
    co_return co_await ctx.fail(index.error());
  }
  auto res = ctx.response(bhttp::status::ok);
  res.set(bhttp::field::content_type, "application/vnd.oci.image.index.v1+json");
  if (index->filtered) {
    res.set(kFiltersAppliedHeader, "artifactType");
  }
  res.body() = std::move(index->json);
  co_await ctx.send(std::move(res));
}

}  // namespace berth::api
