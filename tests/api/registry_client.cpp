// The test registry client (see registry_client.hpp).
#include "registry_client.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <random>

namespace berth::testing {

namespace {

namespace json = boost::json;

std::string hex_digest(const EVP_MD* md, std::string_view name, std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> raw{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), raw.data(), &length, md, nullptr) != 1) {
    throw std::runtime_error("EVP_Digest failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(name);
  out.push_back(':');
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[raw[i] >> 4]);
    out.push_back(kHex[raw[i] & 0xf]);
  }
  return out;
}

// Seeds differ per call and per process, so two tests never push the same content by chance.
std::uint64_t fresh_seed() {
  static std::atomic<std::uint64_t> counter{0};
  static const std::uint64_t base =
      std::random_device{}() ^ (static_cast<std::uint64_t>(std::random_device{}()) << 32);
  return base + 0x9e3779b97f4a7c15ull * ++counter;
}

json::object descriptor_json(const Descriptor& d) {
  json::object out;
  out["mediaType"] = d.media_type;
  out["digest"] = d.digest;
  out["size"] = d.size;
  if (!d.artifact_type.empty()) {
    out["artifactType"] = d.artifact_type;
  }
  if (!d.annotations.empty()) {
    json::object annotations;
    for (const auto& [key, value] : d.annotations) {
      annotations[key] = value;
    }
    out["annotations"] = std::move(annotations);
  }
  if (!d.platform_os.empty() || !d.platform_architecture.empty()) {
    json::object platform;
    platform["architecture"] = d.platform_architecture;
    platform["os"] = d.platform_os;
    out["platform"] = std::move(platform);
  }
  return out;
}

void add_common(json::object& out, const ManifestOptions& options) {
  if (!options.artifact_type.empty()) {
    out["artifactType"] = options.artifact_type;
  }
  if (options.subject) {
    out["subject"] = descriptor_json(*options.subject);
  }
  if (!options.annotations.empty()) {
    json::object annotations;
    for (const auto& [key, value] : options.annotations) {
      annotations[key] = value;
    }
    out["annotations"] = std::move(annotations);
  }
}

std::string join_path(std::string_view repo, std::string_view kind, std::string_view rest) {
  std::string out = "/v2/";
  out += repo;
  out += '/';
  out += kind;
  out += '/';
  out += rest;
  return out;
}

[[noreturn]] void unexpected(std::string_view what, const HttpResponse& response) {
  throw RegistryClientError(std::string(what) + ": " + describe(response));
}

// Appends a query parameter to a target that may already have a query.
std::string with_param(std::string target, std::string_view key, std::string_view value) {
  target += target.find('?') == std::string::npos ? '?' : '&';
  target += key;
  target += '=';
  target += value;
  return target;
}

}  // namespace

// ---------------------------------------------------------------------------- content

std::string sha256_digest(std::string_view bytes) {
  return hex_digest(EVP_sha256(), "sha256", bytes);
}

std::string sha512_digest(std::string_view bytes) {
  return hex_digest(EVP_sha512(), "sha512", bytes);
}

std::string random_bytes(std::size_t size, std::optional<std::uint64_t> seed) {
  std::mt19937_64 engine(seed.value_or(fresh_seed()));
  std::string out(size, '\0');
  std::size_t i = 0;
  while (i < size) {
    std::uint64_t word = engine();
    for (int b = 0; b < 8 && i < size; ++b, ++i) {
      out[i] = static_cast<char>(word & 0xff);
      word >>= 8;
    }
  }
  return out;
}

std::string random_token(std::size_t length) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::mt19937_64 engine(fresh_seed());
  std::string out;
  for (std::size_t i = 0; i < length; ++i) {
    out.push_back(kAlphabet[engine() % (sizeof kAlphabet - 1)]);
  }
  return out;
}

Descriptor describe(std::string_view media_type, std::string_view bytes) {
  Descriptor d;
  d.media_type = media_type;
  d.digest = sha256_digest(bytes);
  d.size = bytes.size();
  return d;
}

std::string make_image_manifest(const Descriptor& config, const std::vector<Descriptor>& layers,
                                const ManifestOptions& options) {
  json::object out;
  out["schemaVersion"] = 2;
  if (!options.media_type.empty()) {
    out["mediaType"] = options.media_type;
  }
  out["config"] = descriptor_json(config);
  json::array layer_array;
  for (const auto& layer : layers) {
    layer_array.push_back(descriptor_json(layer));
  }
  out["layers"] = std::move(layer_array);
  add_common(out, options);
  return json::serialize(out);
}

std::string make_index(const std::vector<Descriptor>& manifests, const ManifestOptions& options) {
  json::object out;
  out["schemaVersion"] = 2;
  if (!options.media_type.empty()) {
    out["mediaType"] = options.media_type;
  }
  json::array entries;
  for (const auto& manifest : manifests) {
    entries.push_back(descriptor_json(manifest));
  }
  out["manifests"] = std::move(entries);
  add_common(out, options);
  return json::serialize(out);
}

// ---------------------------------------------------------------------------- responses

std::vector<std::string> error_codes(const HttpResponse& response) {
  std::vector<std::string> codes;
  json::error_code ec;
  auto value = json::parse(response.body, ec);
  if (ec || !value.is_object()) {
    return codes;
  }
  const auto* errors = value.get_object().if_contains("errors");
  if (errors == nullptr || !errors->is_array()) {
    return codes;
  }
  for (const auto& entry : errors->get_array()) {
    if (!entry.is_object()) {
      continue;
    }
    const auto* code = entry.get_object().if_contains("code");
    if (code != nullptr && code->is_string()) {
      codes.emplace_back(code->get_string());
    }
  }
  return codes;
}

std::string error_code(const HttpResponse& response) {
  auto codes = error_codes(response);
  return codes.empty() ? std::string() : codes.front();
}

std::string describe(const HttpResponse& response) {
  std::string body = response.body.substr(0, 2000);
  return std::to_string(response.status) + " " + response.reason + ": " + body;
}

std::string location_target(const HttpResponse& response) {
  std::string location = response.header("Location");
  const auto scheme = location.find("://");
  if (scheme != std::string::npos) {
    const auto path = location.find('/', scheme + 3);
    return path == std::string::npos ? "/" : location.substr(path);
  }
  return location;
}

std::optional<std::string> next_link(const HttpResponse& response) {
  const auto link = response.headers.get("Link");
  if (!link) {
    return std::nullopt;
  }
  const auto open = link->find('<');
  const auto close = link->find('>', open);
  if (open == std::string::npos || close == std::string::npos) {
    return std::nullopt;
  }
  const std::string params = link->substr(close + 1);
  if (params.find("rel=\"next\"") == std::string::npos &&
      params.find("rel=next") == std::string::npos) {
    return std::nullopt;
  }
  return link->substr(open + 1, close - open - 1);
}

std::vector<std::string> json_string_array(std::string_view body, std::string_view key) {
  std::vector<std::string> out;
  json::error_code ec;
  auto value = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec || !value.is_object()) {
    throw RegistryClientError("not a JSON object: " + std::string(body.substr(0, 500)));
  }
  const auto* array = value.get_object().if_contains(json::string_view(key.data(), key.size()));
  if (array == nullptr || array->is_null()) {
    return out;
  }
  if (!array->is_array()) {
    throw RegistryClientError("\"" + std::string(key) +
                              "\" is not an array: " + std::string(body.substr(0, 500)));
  }
  for (const auto& entry : array->get_array()) {
    if (!entry.is_string()) {
      throw RegistryClientError("\"" + std::string(key) + "\" holds a non-string");
    }
    out.emplace_back(entry.get_string());
  }
  return out;
}

// ---------------------------------------------------------------------------- client

RegistryClient::RegistryClient(std::string host, std::uint16_t port)
    : http_(std::move(host), port) {}

std::string RegistryClient::push_blob(std::string_view repo, std::string_view bytes) {
  const std::string digest = sha256_digest(bytes);
  const auto response =
      http_.post(with_param(join_path(repo, "blobs", "uploads/"), "digest", digest), bytes,
                 {{"Content-Type", "application/octet-stream"}});
  if (response.status != 201) {
    unexpected("monolithic upload of " + digest, response);
  }
  return digest;
}

std::string RegistryClient::start_upload(std::string_view repo) {
  const auto response = http_.post(join_path(repo, "blobs", "uploads/"), "");
  if (response.status != 202 || location_target(response).empty()) {
    unexpected("starting an upload", response);
  }
  return location_target(response);
}

std::string RegistryClient::push_blob_chunked(std::string_view repo, std::string_view bytes,
                                              std::size_t chunk_size) {
  const std::string digest = sha256_digest(bytes);
  std::string location = start_upload(repo);
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    const std::size_t n = std::min(chunk_size, bytes.size() - offset);
    const auto response = http_.patch(
        location, bytes.substr(offset, n),
        {{"Content-Type", "application/octet-stream"},
         {"Content-Range", std::to_string(offset) + "-" + std::to_string(offset + n - 1)}});
    if (response.status != 202 || location_target(response).empty()) {
      unexpected("PATCH of bytes " + std::to_string(offset) + "+" + std::to_string(n), response);
    }
    location = location_target(response);
    offset += n;
  }
  const auto response = http_.put(with_param(location, "digest", digest), "");
  if (response.status != 201) {
    unexpected("closing PUT of " + digest, response);
  }
  return digest;
}

std::string RegistryClient::pull_blob(std::string_view repo, std::string_view digest) {
  const auto response = http_.get(join_path(repo, "blobs", digest));
  if (response.status != 200) {
    unexpected("GET blob " + std::string(digest), response);
  }
  return response.body;
}

bool RegistryClient::blob_exists(std::string_view repo, std::string_view digest) {
  const auto response = http_.head(join_path(repo, "blobs", digest));
  if (response.status != 200 && response.status != 404) {
    unexpected("HEAD blob " + std::string(digest), response);
  }
  return response.status == 200;
}

std::string RegistryClient::push_manifest(std::string_view repo, std::string_view reference,
                                          std::string_view manifest, std::string_view media_type) {
  const auto response = http_.put(join_path(repo, "manifests", reference), manifest,
                                  {{"Content-Type", std::string(media_type)}});
  if (response.status != 201) {
    unexpected("PUT manifest " + std::string(repo) + ":" + std::string(reference), response);
  }
  const std::string digest = response.header("Docker-Content-Digest");
  if (digest != sha256_digest(manifest)) {
    throw RegistryClientError("PUT manifest answered Docker-Content-Digest " + digest +
                              ", expected " + sha256_digest(manifest));
  }
  return digest;
}

HttpResponse RegistryClient::get_manifest(std::string_view repo, std::string_view reference) {
  return http_.get(join_path(repo, "manifests", reference),
                   {{"Accept", std::string(media_types::kOciManifest) + ", " +
                                   std::string(media_types::kOciIndex) + ", " +
                                   std::string(media_types::kDockerManifest) + ", " +
                                   std::string(media_types::kDockerManifestList)}});
}

bool RegistryClient::manifest_exists(std::string_view repo, std::string_view reference) {
  const auto response = http_.head(join_path(repo, "manifests", reference));
  if (response.status != 200 && response.status != 404) {
    unexpected("HEAD manifest " + std::string(reference), response);
  }
  return response.status == 200;
}

PushedImage RegistryClient::push_image(std::string_view repo, std::string_view tag,
                                       const ImageOptions& options) {
  const bool docker = options.media_type == media_types::kDockerManifest;
  PushedImage image;
  image.media_type = options.media_type;
  // A config that is valid JSON and unique to this image.
  image.config.bytes = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"},)"
                       R"("config":{"Labels":{"berth.test":")" +
                       random_token(16) + R"("}}})";
  image.config.digest = push_blob(repo, image.config.bytes);
  std::vector<Descriptor> layers;
  for (std::size_t i = 0; i < options.layers; ++i) {
    PushedBlob layer;
    layer.bytes = random_bytes(options.layer_size);
    layer.digest = layer.bytes.size() > options.chunked_above
                       ? push_blob_chunked(repo, layer.bytes, options.chunked_above)
                       : push_blob(repo, layer.bytes);
    layers.push_back(
        describe(docker ? media_types::kDockerLayer : media_types::kOciLayer, layer.bytes));
    image.layers.push_back(std::move(layer));
  }
  const Descriptor config =
      describe(docker ? media_types::kDockerConfig : media_types::kOciConfig, image.config.bytes);
  image.manifest =
      make_image_manifest(config, layers, ManifestOptions().with_media_type(options.media_type));
  const std::string digest = sha256_digest(image.manifest);
  image.digest = push_manifest(repo, tag.empty() ? std::string_view(digest) : tag, image.manifest,
                               options.media_type);
  image.descriptor = describe(options.media_type, image.manifest);
  return image;
}

void RegistryClient::verify_image(std::string_view repo, const PushedImage& image) {
  const auto manifest = get_manifest(repo, image.digest);
  if (manifest.status != 200) {
    unexpected("GET manifest " + image.digest, manifest);
  }
  if (manifest.body != image.manifest) {
    throw RegistryClientError("manifest " + image.digest + " does not read back byte for byte");
  }
  if (pull_blob(repo, image.config.digest) != image.config.bytes) {
    throw RegistryClientError("config " + image.config.digest + " reads back different bytes");
  }
  for (const auto& layer : image.layers) {
    const std::string bytes = pull_blob(repo, layer.digest);
    if (bytes != layer.bytes) {
      throw RegistryClientError("layer " + layer.digest + " reads back different bytes");
    }
  }
}

std::vector<std::string> RegistryClient::list_tags(std::string_view repo, std::size_t page_size) {
  std::string target = join_path(repo, "tags", "list");
  if (page_size != 0) {
    target = with_param(target, "n", std::to_string(page_size));
  }
  std::vector<std::string> tags;
  // A registry that keeps answering with a next link would loop forever; no test has this many.
  for (int page = 0; page < 100000; ++page) {
    const auto response = http_.get(target);
    if (response.status != 200) {
      unexpected("GET " + target, response);
    }
    auto names = json_string_array(response.body, "tags");
    tags.insert(tags.end(), names.begin(), names.end());
    const auto next = next_link(response);
    if (!next) {
      return tags;
    }
    target = *next;
  }
  throw RegistryClientError("tags/list of " + std::string(repo) + " never ends");
}

}  // namespace berth::testing
