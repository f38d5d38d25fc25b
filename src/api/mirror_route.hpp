// Mirror requests. Docker's `registry-mirrors` and containerd's hosts.toml send a mirror the
// upstream's own repository names ("library/alpine"), with no project in front; the proxy
// marked `mirror` serves them under its project ("hub/library/alpine"), so its cache, access
// control and lifecycle are the same whether an image is pulled as hub/library/alpine or
// through the mirror.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>

#include "api/context.hpp"
#include "core/error.hpp"

namespace berth::api {

// The repository a request for `name` is served from: a proxy project in front of `name`
// when
//  - the request names the registry it mirrors (`ns`, containerd's hosts.toml): the project
//    of the proxy of that registry (the mirror's, or any proxy's: containerd may mirror
//    ghcr.io through the ghcr project);
//  - or it is a pull (`pull`) without `ns` of a name whose first component is neither a
//    project nor a repository here, so pushed images are never hidden by the mirror;
// otherwise `name` itself.
[[nodiscard]] boost::asio::awaitable<core::Result<std::string>> mirrored_name(
    RequestContext& ctx, std::string name, const std::optional<std::string>& ns, bool pull);

}  // namespace berth::api
