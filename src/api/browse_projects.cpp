// GET /api/v1/projects, /projects/{p} and /projects/{p}/repositories of the browse API
// (browse_handlers.hpp): projects with their kind, figures and quotas, and a page of a
// project's repositories. Each answer is a fixed number of queries, however many projects or
// repositories there are.
#include <array>
#include <boost/json.hpp>
#include <map>
#include <string>
#include <vector>

#include "api/browse_common.hpp"
#include "api/browse_handlers.hpp"
#include "proxy/proxy.hpp"

namespace berth::api {

namespace asio = boost::asio;
namespace json = boost::json;
using core::ErrorCode;

namespace {

constexpr std::array<std::string_view, 5> kRepositorySorts = {"name", "last_push", "last_pull",
                                                              "size", "tags"};

json::object project_json(RequestContext& ctx, const meta::Project& project,
                          const meta::ProjectFigures* figures) {
  json::object out{{"name", project.name},
                   {"public", project.is_public},
                   {"created", core::to_unix_ms(project.created)}};
  const proxy::ProxyProject* proxy =
      ctx.services().proxies != nullptr ? ctx.services().proxies->find(project.name) : nullptr;
  out["kind"] = proxy == nullptr ? "hosted" : proxy->options().overlay ? "overlay" : "proxy";
  out["upstream"] =
      proxy == nullptr ? json::value(nullptr) : json::value(proxy->options().upstream.url);
  const meta::ProjectFigures none{};
  const auto& f = figures != nullptr ? *figures : none;
  out["repositories"] = f.repositories;
  out["bytes"] = f.bytes;
  out["quota_bytes"] = optional_json(f.quota_bytes);
  out["quota_repositories"] = optional_json(f.quota_repositories);
  out["last_push"] = time_json(f.last_push);
  return out;
}

// The projects and every project's figures: two queries.
struct ProjectsRead {
  std::vector<meta::Project> projects;
  std::map<std::string, meta::ProjectFigures> figures;
};

core::Result<ProjectsRead> read_projects(RequestContext& ctx) {
  auto projects = ctx.services().accounts.list_projects();
  if (!projects) {
    return std::unexpected(projects.error());
  }
  auto figures = ctx.services().browse->project_figures();
  if (!figures) {
    return std::unexpected(figures.error());
  }
  ProjectsRead out{std::move(*projects), {}};
  for (auto& f : *figures) {
    out.figures.emplace(f.project, std::move(f));
  }
  return out;
}

const meta::ProjectFigures* figures_of(const ProjectsRead& read, const std::string& project) {
  auto it = read.figures.find(project);
  return it == read.figures.end() ? nullptr : &it->second;
}

asio::awaitable<void> list_projects(RequestContext& ctx) {
  auto read = co_await ctx.blocking(
      [&]() -> core::Result<std::pair<ProjectsRead, std::vector<std::string>>> {
        auto all = read_projects(ctx);
        if (!all) {
          return std::unexpected(all.error());
        }
        auto visible = ctx.access().pullable(ctx.identity, all->projects);
        if (!visible) {
          return std::unexpected(visible.error());
        }
        return std::pair(std::move(*all), std::move(*visible));
      });
  if (!read) {
    co_return co_await ctx.fail(read.error());
  }
  const auto& [all, visible] = *read;
  json::array out;
  for (const auto& project : all.projects) {
    if (std::find(visible.begin(), visible.end(), project.name) != visible.end()) {
      out.push_back(project_json(ctx, project, figures_of(all, project.name)));
    }
  }
  co_await reply_json(ctx, std::move(out));
}

asio::awaitable<void> get_project(RequestContext& ctx, const std::string& name) {
  auto rights = co_await rights_in(ctx, name);
  if (!rights) {
    co_return co_await ctx.fail(rights.error());
  }
  auto read = co_await ctx.blocking([&] { return read_projects(ctx); });
  if (!read) {
    co_return co_await ctx.fail(read.error());
  }
  auto it = std::find_if(read->projects.begin(), read->projects.end(),
                         [&](const meta::Project& p) { return p.name == name; });
  // Unknown and invisible projects look the same.
  if (it == read->projects.end() || !rights->pull) {
    co_return co_await ctx.fail(ErrorCode::kNotFound, "no project " + name);
  }
  auto out = project_json(ctx, *it, figures_of(*read, name));
  out["can"] = rights->json();
  co_await reply_json(ctx, std::move(out));
}

json::object repository_json(const meta::RepositoryFigures& repository) {
  return json::object{{"name", repository.name},
                      {"tags", repository.tags},
                      {"bytes", repository.bytes},
                      {"last_push", time_json(repository.last_push)},
                      {"last_pull", time_json(repository.last_pull)},
                      {"pulls", repository.pulls}};
}

asio::awaitable<void> list_repositories(RequestContext& ctx, const std::string& project) {
  // A named local: GCC 12 mishandles a braced temporary inside a co_await.
  std::vector<std::string_view> sorts(kRepositorySorts.begin(), kRepositorySorts.end());
  auto listing = co_await read_listing(ctx, sorts);
  if (!listing) {
    co_return;
  }
  auto rights = co_await rights_in(ctx, project);
  if (!rights) {
    co_return co_await ctx.fail(rights.error());
  }
  auto exists = co_await ctx.blocking([&] { return ctx.services().accounts.get_project(project); });
  if (!exists) {
    co_return co_await ctx.fail(exists.error());
  }
  if (!*exists || !rights->pull) {
    co_return co_await ctx.fail(ErrorCode::kNotFound, "no project " + project);
  }
  const auto sort = listing->sort == "last_push"   ? meta::RepositorySort::kLastPush
                    : listing->sort == "last_pull" ? meta::RepositorySort::kLastPull
                    : listing->sort == "size"      ? meta::RepositorySort::kSize
                    : listing->sort == "tags"      ? meta::RepositorySort::kTags
                                                   : meta::RepositorySort::kName;
  auto page = co_await ctx.blocking(
      [&] { return ctx.services().browse->repositories(project, sort, listing->page); });
  if (!page) {
    co_return co_await ctx.fail(page.error());
  }
  json::array items;
  for (const auto& repository : page->items) {
    items.push_back(repository_json(repository));
  }
  json::object out{{"total", page->total}, {"items", std::move(items)}};
  co_await reply_json(ctx, std::move(out));
}

}  // namespace

asio::awaitable<void> serve_browse_projects(RequestContext& ctx,
                                            const std::vector<std::string>& parts) {
  if (!ctx.is(boost::beast::http::verb::get)) {
    co_return co_await ctx.method_not_allowed("GET");
  }
  if (parts.size() == 1) {
    co_return co_await list_projects(ctx);
  }
  if (parts.size() == 2) {
    co_return co_await get_project(ctx, parts[1]);
  }
  co_await list_repositories(ctx, parts[1]);
}

json::object browse_repository_json(const meta::RepositoryFigures& repository) {
  return repository_json(repository);
}

}  // namespace berth::api
