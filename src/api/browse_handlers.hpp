// The browse API of /api/v1, what the web UI and scripts read a registry with (the README's
// "Browsing" table has the bodies). Reached through the admin API's dispatcher
// (admin_handlers.cpp), which has authenticated the caller; anonymous callers reach the
// read endpoints, which show each caller only the projects it may pull from (all of them with
// access control off).
//
//   GET  /api/v1/projects                         projects with kind, figures, quotas
//   GET  /api/v1/projects/{p}                     the same for one, with the caller's rights
//   GET  /api/v1/projects/{p}/repositories        a page of its repositories
//   GET  /api/v1/repositories/{name}              one repository's figures and rights
//   GET  /api/v1/repositories/{name}/-/tags       a page of its tags
//   GET  /api/v1/repositories/{name}/-/manifests/{reference}   everything an image page shows
//   POST /api/v1/repositories/{name}/-/delete     tags and manifests, each as a v2 DELETE
//   GET  /api/v1/search?q=                        repositories and tags by substring
//   GET  /api/v1/system, /api/v1/gc, /api/v1/proxies   (system administrators)
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <string>
#include <vector>

#include "api/context.hpp"
#include "meta/browse_store.hpp"

namespace berth::api {

// `parts`: the path after /api/v1/ split at '/', starting with "projects" (1 to 3 parts; the
// third is "repositories").
boost::asio::awaitable<void> serve_browse_projects(RequestContext& ctx,
                                                   const std::vector<std::string>& parts);
// /api/v1/repositories/...: the path is read from ctx.route.argument.
boost::asio::awaitable<void> serve_browse_repository(RequestContext& ctx);
// GET /api/v1/repositories/{name}/-/manifests/{reference}, once the caller may pull `repo`.
boost::asio::awaitable<void> serve_browse_manifest(RequestContext& ctx,
                                                   const core::RepositoryName& repo,
                                                   const std::string& reference);
boost::asio::awaitable<void> serve_search(RequestContext& ctx);
// The administrators' pages; the caller is checked here.
boost::asio::awaitable<void> serve_system(RequestContext& ctx);
boost::asio::awaitable<void> serve_gc_history(RequestContext& ctx);
boost::asio::awaitable<void> serve_proxies(RequestContext& ctx);

boost::json::object browse_repository_json(const meta::RepositoryFigures& repository);

}  // namespace berth::api
