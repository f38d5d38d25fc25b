// /api/v1/repositories/{name}[/-/...] of the browse API (browse_handlers.hpp): a repository's
// figures, a page of its tags, and the bulk delete of tags and manifests, each item deleted as
// a v2 DELETE would (manifest_delete.hpp), failures reported per item.
#include <array>
#include <boost/json.hpp>
#include <string>
#include <vector>

#include "api/browse_common.hpp"
#include "api/browse_handlers.hpp"
#include "api/manifest_delete.hpp"

namespace berth::api {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using core::ErrorCode;

namespace {

constexpr std::array<std::string_view, 5> kTagSorts = {"name", "pushed", "pulled", "size", "pulls"};

constexpr std::size_t kMaxDeleteBody = 256 * 1024;
// References one delete may name.
constexpr std::size_t kMaxDeleteItems = 1000;

// "team/app/-/tags" -> name "team/app", rest "tags"; the name alone has no "/-/".
struct RepositoryPath {
  std::string name;
  std::string rest;
};

RepositoryPath split_repository_path(const std::string& path) {
  auto marker = path.find("/-/");
  if (marker == std::string::npos) {
    return {path, ""};
  }
  return {path.substr(0, marker), path.substr(marker + 3)};
}

json::object tag_json(const meta::TagRow& row) {
  json::array platforms;
  for (const auto& platform : row.platforms) {
    platforms.emplace_back(platform);
  }
  return json::object{{"tag", row.tag},
                      {"digest", row.digest.str()},
                      {"media_type", row.media_type},
                      {"artifact_type", artifact_type_json(row.artifact_type)},
                      {"size", row.size},
                      {"platforms", std::move(platforms)},
                      {"pushed", core::to_unix_ms(row.pushed)},
                      {"last_pulled", time_json(row.last_pulled)},
                      {"pulls", row.pulls}};
}

class RepositoryRequest {
 public:
  RepositoryRequest(RequestContext& ctx, core::RepositoryName repo, std::string rest)
      : ctx_(ctx), repo_(std::move(repo)), rest_(std::move(rest)) {}

  asio::awaitable<void> serve() {
    auto rights = co_await rights_in(ctx_, std::string(repo_.project()));
    if (!rights) {
      co_return co_await ctx_.fail(rights.error());
    }
    rights_ = *rights;
    // A repository the caller may not pull from looks like one that does not exist.
    if (!rights_.pull) {
      co_return co_await unknown();
    }
    if (rest_ == "delete") {
      if (!ctx_.is(bhttp::verb::post)) {
        co_return co_await ctx_.method_not_allowed("POST");
      }
      co_return co_await remove();
    }
    if (!ctx_.is(bhttp::verb::get)) {
      co_return co_await ctx_.method_not_allowed("GET");
    }
    if (rest_.empty()) {
      co_return co_await figures();
    }
    if (rest_ == "tags") {
      co_return co_await tags();
    }
    if (rest_.starts_with("manifests/") && rest_.size() > 10) {
      co_return co_await serve_browse_manifest(ctx_, repo_, rest_.substr(10));
    }
    co_await ctx_.fail(ErrorCode::kNotFound, "no such endpoint of a repository: " + rest_);
  }

 private:
  asio::awaitable<void> unknown() {
    // Named, not braced inside the co_await: GCC 12 destroys such temporaries twice.
    core::Error error{ErrorCode::kNameUnknown, "repository " + repo_.str() + " is not known",
                      json::serialize(json::value(repo_.str()))};
    co_await ctx_.fail(error);
  }

  asio::awaitable<void> figures() {
    auto found = co_await ctx_.blocking([&] { return ctx_.services().browse->repository(repo_); });
    if (!found) {
      co_return co_await ctx_.fail(found.error());
    }
    if (!*found) {
      co_return co_await unknown();
    }
    json::object out{{"name", repo_.str()},
                     {"project", std::string(repo_.project())},
                     {"tags", (*found)->tags},
                     {"manifests", (*found)->manifests},
                     {"bytes", (*found)->bytes},
                     {"last_push", time_json((*found)->last_push)},
                     {"last_pull", time_json((*found)->last_pull)},
                     {"pulls", (*found)->pulls},
                     {"can", rights_.json()}};
    co_await reply_json(ctx_, std::move(out));
  }

  asio::awaitable<void> tags() {
    // A named local: GCC 12 mishandles a braced temporary inside a co_await.
    std::vector<std::string_view> sorts(kTagSorts.begin(), kTagSorts.end());
    auto listing = co_await read_listing(ctx_, sorts);
    if (!listing) {
      co_return;
    }
    const auto sort = listing->sort == "pushed"   ? meta::TagSort::kPushed
                      : listing->sort == "pulled" ? meta::TagSort::kPulled
                      : listing->sort == "size"   ? meta::TagSort::kSize
                      : listing->sort == "pulls"  ? meta::TagSort::kPulls
                                                  : meta::TagSort::kName;
    auto page = co_await ctx_.blocking([&]() -> core::Result<std::optional<meta::TagPage>> {
      auto exists = ctx_.registry().repository_exists(repo_);
      if (!exists) {
        return std::unexpected(exists.error());
      }
      if (!*exists) {
        return std::optional<meta::TagPage>();
      }
      auto tags = ctx_.services().browse->tags(repo_, sort, listing->page);
      if (!tags) {
        return std::unexpected(tags.error());
      }
      return std::optional(std::move(*tags));
    });
    if (!page) {
      co_return co_await ctx_.fail(page.error());
    }
    if (!*page) {
      co_return co_await unknown();
    }
    json::array items;
    for (const auto& row : (*page)->items) {
      items.push_back(tag_json(row));
    }
    json::object out{{"total", (*page)->total}, {"items", std::move(items)}};
    co_await reply_json(ctx_, std::move(out));
  }

  // {"tags":[..],"manifests":[..]}: every reference checked first (a malformed one refuses
  // the whole request), then each deleted on its own.
  asio::awaitable<void> remove() {
    if (!rights_.remove) {
      if (ctx_.identity.anonymous() && ctx_.access().enabled()) {
        co_return co_await ctx_.fail(ErrorCode::kUnauthorized, "deleting needs credentials");
      }
      co_return co_await ctx_.fail(ErrorCode::kDenied, "you may not delete from " + repo_.str());
    }
    ctx_.ex.set_body_limit(kMaxDeleteBody);
    auto text = co_await ctx_.ex.read_body_string(kMaxDeleteBody);
    if (!text) {
      co_return co_await ctx_.fail(ErrorCode::kTooLarge, "the JSON body is too large or cut off");
    }
    auto references = parse_references(*text);
    if (!references) {
      co_return co_await ctx_.fail(references.error());
    }
    json::array deleted_tags;
    json::array deleted_manifests;
    json::array failed;
    for (const auto& reference : *references) {
      auto deleted =
          co_await ctx_.blocking([&] { return delete_manifest_checked(ctx_, repo_, reference); });
      if (deleted) {
        (reference.is_tag() ? deleted_tags : deleted_manifests).emplace_back(reference.str());
        continue;
      }
      failed.push_back(json::object{{"reference", reference.str()},
                                    {"code", std::string(core::wire_code(deleted.error().code))},
                                    {"message", deleted.error().message}});
    }
    json::object out{{"deleted_tags", std::move(deleted_tags)},
                     {"deleted_manifests", std::move(deleted_manifests)},
                     {"failed", std::move(failed)}};
    co_await reply_json(ctx_, std::move(out));
  }

  static core::Result<core::Reference> tag_reference(const std::string& text) {
    auto tag = core::Tag::parse(text);
    if (!tag) {
      return std::unexpected(tag.error());
    }
    return core::Reference(std::move(*tag));
  }

  static core::Result<core::Reference> digest_reference(const std::string& text) {
    auto digest = core::Digest::parse(text);
    if (!digest) {
      return std::unexpected(digest.error());
    }
    return core::Reference(std::move(*digest));
  }

  // Tags before manifests: a tag named and on a manifest named goes as a tag first.
  static core::Result<std::vector<core::Reference>> parse_references(const std::string& text) {
    boost::system::error_code ec;
    auto value = json::parse(text, ec);
    const auto usage = "expected {\"tags\": [tag, ...], \"manifests\": [digest, ...]}";
    if (ec || !value.is_object()) {
      return core::fail(ErrorCode::kInvalidRequest, usage);
    }
    std::vector<core::Reference> out;
    for (const auto* key : {"tags", "manifests"}) {
      const auto* list = value.as_object().if_contains(key);
      if (list == nullptr) {
        continue;
      }
      if (!list->is_array()) {
        return core::fail(ErrorCode::kInvalidRequest, usage);
      }
      for (const auto& item : list->as_array()) {
        if (!item.is_string()) {
          return core::fail(ErrorCode::kInvalidRequest, usage);
        }
        const std::string text(item.as_string());
        auto reference =
            std::string_view(key) == "tags" ? tag_reference(text) : digest_reference(text);
        if (!reference) {
          return std::unexpected(reference.error());
        }
        out.push_back(std::move(*reference));
      }
    }
    if (out.size() > kMaxDeleteItems) {
      return core::fail(ErrorCode::kInvalidRequest,
                        "at most " + std::to_string(kMaxDeleteItems) + " references at once");
    }
    return out;
  }

  RequestContext& ctx_;
  core::RepositoryName repo_;
  std::string rest_;
  Rights rights_;
};

}  // namespace

asio::awaitable<void> serve_browse_repository(RequestContext& ctx) {
  if (ctx.services().browse == nullptr) {
    co_return co_await ctx.fail(ErrorCode::kNotFound, "no such admin endpoint");
  }
  // "repositories/" then the name: read from the path as sent, so that "a//b" or ".." is
  // refused as a name rather than silently tidied.
  auto path = split_repository_path(ctx.route.argument.substr(std::string("repositories/").size()));
  auto repo = core::RepositoryName::parse(path.name);
  if (!repo) {
    co_return co_await ctx.fail(repo.error());
  }
  RepositoryRequest request(ctx, std::move(*repo), std::move(path.rest));
  co_await request.serve();
}

}  // namespace berth::api
