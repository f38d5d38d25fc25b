#include "api/mirror_route.hpp"

#include "proxy/proxy.hpp"

namespace berth::api {

boost::asio::awaitable<core::Result<std::string>> mirrored_name(
    RequestContext& ctx, std::string name, const std::optional<std::string>& ns, bool pull) {
  const proxy::Proxies* proxies = ctx.services().proxies;
  if (proxies == nullptr) {
    co_return name;
  }
  if (ns) {
    if (const auto* serving = proxies->mirror_for(*ns)) {
      co_return serving->options().project + "/" + name;
    }
    co_return name;
  }
  if (proxies->mirror() == nullptr) {
    co_return name;
  }
  const std::string& mirror_project = proxies->mirror()->options().project;
  const auto slash = name.find('/');
  const std::string project = name.substr(0, slash);
  if (!pull || slash == std::string::npos || proxies->find(project) != nullptr) {
    // Docker sends official images as library/<name>, so a mirrored name has two components.
    co_return name;
  }
  auto repo = core::RepositoryName::parse(name);
  if (!repo) {
    co_return name;  // the caller reports the bad name
  }
  auto here = co_await ctx.blocking([&]() -> core::Result<bool> {
    auto existing = ctx.services().accounts.get_project(project);
    if (!existing) {
      return std::unexpected(existing.error());
    }
    if (*existing) {
      return true;
    }
    return ctx.registry().repository_exists(*repo);
  });
  if (!here) {
    co_return std::unexpected(here.error());
  }
  if (*here) {
    co_return name;
  }
  co_return mirror_project + "/" + name;
}

}  // namespace berth::api
