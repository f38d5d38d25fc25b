// GET /api/v1/repositories/{name}/-/manifests/{reference} of the browse API: everything an
// image page shows in one answer. The manifest (from the registry's cache or blob storage),
// its image config (at most kMaxConfigBytes) and its referrers are read on the blocking pool;
// the figures (total size) come from the BrowseStore.
#include <boost/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/browse_common.hpp"
#include "api/browse_handlers.hpp"
#include "core/image_config.hpp"
#include "core/manifest.hpp"
#include "meta/policy_store.hpp"
#include "storage/read_blob.hpp"

namespace berth::api {

namespace asio = boost::asio;
namespace json = boost::json;
using core::ErrorCode;

namespace {

constexpr std::uint64_t kMaxConfigBytes = 1024 * 1024;

// What the blocking part gathers.
struct ManifestPage {
  registry::ManifestContent content;
  core::Manifest manifest;
  std::optional<core::ImageConfig> config;
  std::vector<core::Tag> tags;
  std::string referrers_json;
  std::uint64_t total_size = 0;
};

json::value annotations_json(const std::string& text) {
  if (text.empty()) {
    return nullptr;
  }
  boost::system::error_code ec;
  auto value = json::parse(text, ec);
  return ec ? json::value(nullptr) : value;
}

json::value strings_json(const std::vector<std::string>& strings) {
  json::array out;
  for (const auto& s : strings) {
    out.emplace_back(s);
  }
  return out;
}

json::value optional_strings_json(const std::optional<std::vector<std::string>>& strings) {
  return strings ? strings_json(*strings) : json::value(nullptr);
}

json::value optional_text_json(const std::optional<std::string>& text) {
  return text ? json::value(*text) : json::value(nullptr);
}

json::object descriptor_json(const core::Descriptor& descriptor) {
  return json::object{{"digest", descriptor.digest.str()},
                      {"media_type", descriptor.media_type},
                      {"size", descriptor.size}};
}

json::value config_json(const core::Descriptor& descriptor,
                        const std::optional<core::ImageConfig>& config) {
  if (!config) {
    return nullptr;
  }
  auto out = descriptor_json(descriptor);
  out["created"] = optional_text_json(config->created);
  out["os"] = config->platform.os;
  out["architecture"] = config->platform.architecture;
  out["env"] = strings_json(config->env);
  out["entrypoint"] = optional_strings_json(config->entrypoint);
  out["cmd"] = optional_strings_json(config->cmd);
  out["working_dir"] = optional_text_json(config->working_dir);
  out["user"] = optional_text_json(config->user);
  json::object labels;
  for (const auto& [key, value] : config->labels) {
    labels[key] = value;
  }
  out["labels"] = std::move(labels);
  json::array history;
  for (const auto& entry : config->history) {
    history.push_back(json::object{{"created", optional_text_json(entry.created)},
                                   {"created_by", entry.created_by},
                                   {"empty_layer", entry.empty_layer},
                                   {"comment", optional_text_json(entry.comment)}});
  }
  out["history"] = std::move(history);
  return out;
}

// The referrers index (an OCI image index the registry builds) as the page lists them.
json::array referrers_json(const std::string& index) {
  json::array out;
  boost::system::error_code ec;
  auto value = json::parse(index, ec);
  const json::value* manifests = nullptr;
  if (!ec && value.is_object()) {
    manifests = value.as_object().if_contains("manifests");
  }
  if (manifests == nullptr || !manifests->is_array()) {
    return out;
  }
  for (const auto& entry : manifests->as_array()) {
    if (!entry.is_object()) {
      continue;
    }
    const auto& d = entry.as_object();
    auto field = [&](std::string_view key) -> json::value {
      const auto* v = d.if_contains(key);
      return v == nullptr ? json::value(nullptr) : *v;
    };
    out.push_back(json::object{{"digest", field("digest")},
                               {"media_type", field("mediaType")},
                               {"artifact_type", field("artifactType")},
                               {"size", field("size")},
                               {"annotations", field("annotations")}});
  }
  return out;
}

bool is_index(const core::Manifest& manifest) {
  return manifest.kind == core::ManifestKind::kOciIndex ||
         manifest.kind == core::ManifestKind::kDockerManifestList;
}

json::object page_json(const ManifestPage& page) {
  const auto& record = page.content.record;
  const auto& manifest = page.manifest;
  json::array tags;
  for (const auto& tag : page.tags) {
    tags.emplace_back(tag.str());
  }
  json::array platforms;
  json::array layers;
  for (const auto& child : manifest.manifests) {
    auto out = descriptor_json(child);
    const core::Platform none{};
    const auto& platform = child.platform ? *child.platform : none;
    out["os"] = platform.os;
    out["architecture"] = platform.architecture;
    out["variant"] = text_or_null(platform.variant);
    platforms.push_back(std::move(out));
  }
  for (const auto& layer : manifest.layers) {
    layers.push_back(descriptor_json(layer));
  }
  const bool artifact = !is_index(manifest) && !page.config;
  return json::object{
      {"digest", record.digest.str()},
      {"media_type", record.media_type},
      {"size", record.size},
      {"total_size", page.total_size},
      {"artifact_type", artifact_type_json(record.artifact_type)},
      {"tags", std::move(tags)},
      {"subject", record.subject ? json::value(record.subject->str()) : json::value(nullptr)},
      {"annotations", annotations_json(record.annotations_json)},
      {"pushed", core::to_unix_ms(record.created)},
      {"kind", is_index(manifest) ? "index"
               : artifact         ? "artifact"
                                  : "image"},
      {"platforms", std::move(platforms)},
      {"layers", std::move(layers)},
      {"config",
       manifest.config ? config_json(*manifest.config, page.config) : json::value(nullptr)},
      {"referrers", referrers_json(page.referrers_json)}};
}

// The image config when it is one (an artifact's config is not parsed), else nullopt.
std::optional<core::ImageConfig> read_config(RequestContext& ctx, const core::RepositoryName& repo,
                                             const core::Manifest& manifest) {
  if (!manifest.config || !core::is_image_config_media_type(manifest.config->media_type)) {
    return std::nullopt;
  }
  auto reader = ctx.registry().open_blob(repo, manifest.config->digest);
  if (!reader) {
    return std::nullopt;
  }
  auto bytes = storage::read_blob(**reader, manifest.config->digest, kMaxConfigBytes);
  if (!bytes) {
    return std::nullopt;
  }
  auto config = core::parse_image_config(*bytes);
  return config ? std::optional(std::move(*config)) : std::nullopt;
}

core::Result<ManifestPage> read_page(RequestContext& ctx, const core::RepositoryName& repo,
                                     const core::Reference& reference) {
  auto content = ctx.registry().read_manifest(repo, reference);
  if (!content) {
    return std::unexpected(content.error());
  }
  auto manifest = core::parse_manifest(*content->bytes, content->record.media_type);
  if (!manifest) {
    return std::unexpected(manifest.error());
  }
  ManifestPage page{std::move(*content), std::move(*manifest), {}, {}, {}, 0};
  const auto& digest = page.content.record.digest;
  page.config = read_config(ctx, repo, page.manifest);
  if (auto* policies = ctx.services().policies; policies != nullptr) {
    auto tags = policies->tags_of(repo, digest);
    if (!tags) {
      return std::unexpected(tags.error());
    }
    page.tags = std::move(*tags);
  }
  auto referrers = ctx.registry().referrers(repo, digest, std::nullopt);
  if (!referrers) {
    return std::unexpected(referrers.error());
  }
  page.referrers_json = std::move(referrers->json);
  auto figures = ctx.services().browse->manifest_figures(repo, digest);
  if (!figures) {
    return std::unexpected(figures.error());
  }
  page.total_size = *figures ? (*figures)->total_size : page.content.record.size;
  return page;
}

}  // namespace

asio::awaitable<void> serve_browse_manifest(RequestContext& ctx, const core::RepositoryName& repo,
                                            const std::string& reference) {
  auto parsed = core::Reference::parse(reference);
  if (!parsed) {
    co_return co_await ctx.fail(parsed.error());
  }
  auto page = co_await ctx.blocking([&] { return read_page(ctx, repo, *parsed); });
  if (!page) {
    co_return co_await ctx.fail(page.error());
  }
  auto out = page_json(*page);
  co_await reply_json(ctx, std::move(out));
}

}  // namespace berth::api
