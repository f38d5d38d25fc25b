// The handlers of the OCI Distribution endpoints under /v2/<name>/. Each takes a request
// whose repository name has been validated (ctx.repo) and answers it.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/context.hpp"

namespace berth::proxy {
class ProxyProject;
}  // namespace berth::proxy

namespace berth::api {

// The <reference> of /v2/<name>/manifests/<reference>. A GET, HEAD or DELETE of a name that is
// no valid tag finds nothing (MANIFEST_UNKNOWN, 404, as Distribution and zot answer: nothing
// can exist under it); only a PUT is told the tag is invalid (TAG_INVALID). A malformed digest
// is DIGEST_INVALID whatever the method.
[[nodiscard]] core::Result<core::Reference> manifest_reference(const RequestContext& ctx);

// /v2/_catalog
boost::asio::awaitable<void> serve_catalog(RequestContext& ctx);
// /v2/<name>/tags/list
boost::asio::awaitable<void> serve_tags(RequestContext& ctx);
// /v2/<name>/referrers/<digest>
boost::asio::awaitable<void> serve_referrers(RequestContext& ctx);
// /v2/<name>/manifests/<reference>
boost::asio::awaitable<void> serve_manifest(RequestContext& ctx);
// /v2/<name>/blobs/<digest>
boost::asio::awaitable<void> serve_blob(RequestContext& ctx);
// GET and HEAD of /v2/<name>/manifests/<reference> in a proxy project.
boost::asio::awaitable<void> serve_proxy_manifest(RequestContext& ctx, proxy::ProxyProject& proxy);
// /v2/<name>/blobs/<digest> in a proxy project.
boost::asio::awaitable<void> serve_proxy_blob(RequestContext& ctx, proxy::ProxyProject& proxy);
// POST /v2/<name>/blobs/uploads/
boost::asio::awaitable<void> serve_uploads(RequestContext& ctx);
// /v2/<name>/blobs/uploads/<id>
boost::asio::awaitable<void> serve_upload(RequestContext& ctx);

}  // namespace berth::api
