#include "core/manifest.hpp"

#include <array>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <cstddef>
#include <string>

#include "core/media_type.hpp"

namespace berth::core {
namespace {

namespace json = boost::json;

constexpr std::string_view kSchema1Message =
    "Docker schema 1 manifests are not supported; push a Docker schema 2 or OCI manifest";

// Keys and other client text quoted in messages are cut to this many bytes.
constexpr std::size_t kQuoteLimit = 64;

std::unexpected<Error> invalid(std::string_view path, std::string_view what) {
  std::string message(path);
  message += ": ";
  message += what;
  return fail(ErrorCode::kManifestInvalid, std::move(message));
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  out += text.substr(0, kQuoteLimit);
  if (text.size() > kQuoteLimit) {
    out += "...";
  }
  out += '"';
  return out;
}

std::string_view sv(json::string_view s) { return {s.data(), s.size()}; }

// ---- media types -------------------------------------------------------------------------

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_ows(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// The "type/subtype" of a Content-Type, without parameters, lowercased (media types are
// case-insensitive on the wire).
std::string content_type_essence(std::string_view content_type) {
  std::string out(trim(content_type.substr(0, content_type.find(';'))));
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

bool is_schema1(std::string_view media_type) {
  return media_type == media_type::kDockerSchema1 || media_type == media_type::kDockerSchema1Signed;
}

std::optional<ManifestKind> kind_of(std::string_view media_type) {
  if (media_type == media_type::kOciManifest) return ManifestKind::kOciManifest;
  if (media_type == media_type::kOciIndex) return ManifestKind::kOciIndex;
  if (media_type == media_type::kDockerManifest) return ManifestKind::kDockerManifest;
  if (media_type == media_type::kDockerManifestList) return ManifestKind::kDockerManifestList;
  return std::nullopt;
}

std::string_view name_of(ManifestKind kind) {
  switch (kind) {
    case ManifestKind::kOciManifest:
      return media_type::kOciManifest;
    case ManifestKind::kOciIndex:
      return media_type::kOciIndex;
    case ManifestKind::kDockerManifest:
      return media_type::kDockerManifest;
    case ManifestKind::kDockerManifestList:
      return media_type::kDockerManifestList;
  }
  return {};
}

bool is_index(ManifestKind kind) {
  return kind == ManifestKind::kOciIndex || kind == ManifestKind::kDockerManifestList;
}

bool is_docker(ManifestKind kind) {
  return kind == ManifestKind::kDockerManifest || kind == ManifestKind::kDockerManifestList;
}

// RFC 6838 restricted-name, as the image spec's JSON schema writes it:
// [A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}
bool is_restricted_name(std::string_view s) {
  if (s.empty() || s.size() > 127) {
    return false;
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum) {
      continue;
    }
    if (i == 0) {
      return false;
    }
    switch (c) {
      case '!':
      case '#':
      case '$':
      case '&':
      case '^':
      case '_':
      case '.':
      case '+':
      case '-':
        continue;
      default:
        return false;
    }
  }
  return true;
}

// "type/subtype" without parameters: what descriptors' mediaType and artifactType must be.
bool is_media_type_grammar(std::string_view s) {
  auto slash = s.find('/');
  return slash != std::string_view::npos && is_restricted_name(s.substr(0, slash)) &&
         is_restricted_name(s.substr(slash + 1));
}

// ---- JSON --------------------------------------------------------------------------------

// A basic_parser handler that only adds up the member counts of every object, duplicates
// included. The DOM keeps one member per key, so a smaller total there means a repeated key.
struct MemberCounter {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  std::size_t members = 0;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t n, json::error_code&) {
    members += n;
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

// Member count of every object in a DOM. Depth is bounded by the parser's max_depth.
std::size_t count_members(const json::value& v) {
  std::size_t total = 0;
  if (const auto* object = v.if_object()) {
    total += object->size();
    for (const auto& member : *object) {
      total += count_members(member.value());
    }
  } else if (const auto* array = v.if_array()) {
    for (const auto& element : *array) {
      total += count_members(element);
    }
  }
  return total;
}

// Strict JSON (no comments, no trailing commas, valid UTF-8 only: Boost.JSON's defaults),
// and no object with a repeated key: parsers disagree on which copy wins, and a manifest
// must mean the same to the registry and to every client.
Result<json::value> parse_json(std::string_view bytes) {
  json::error_code ec;
  json::value value = json::parse(json::string_view(bytes.data(), bytes.size()), ec);
  if (ec) {
    return fail(ErrorCode::kManifestInvalid, "manifest is not valid JSON: " + ec.message());
  }
  json::basic_parser<MemberCounter> counter{json::parse_options{}};
  counter.write_some(false, bytes.data(), bytes.size(), ec);
  if (ec || counter.handler().members != count_members(value)) {
    return fail(ErrorCode::kManifestInvalid, "manifest has an object with a duplicate key");
  }
  return value;
}

const json::value* member(const json::object& object, std::string_view key) {
  return object.if_contains(json::string_view(key.data(), key.size()));
}

std::string join(std::string_view path, std::string_view key) {
  std::string out(path);
  if (!out.empty()) {
    out += '.';
  }
  out += key;
  return out;
}

std::string indexed(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

// ---- field readers -----------------------------------------------------------------------

// An optional string field: nullptr when absent.
Result<const json::string*> optional_string(const json::object& object, std::string_view path,
                                            std::string_view key) {
  const json::value* v = member(object, key);
  if (v == nullptr) {
    return nullptr;
  }
  if (!v->is_string()) {
    return invalid(join(path, key), "expected a string");
  }
  return &v->get_string();
}

// An optional media type field ("mediaType", "artifactType"): empty when absent.
Result<std::string> optional_media_type(const json::object& object, std::string_view path,
                                        std::string_view key) {
  auto s = optional_string(object, path, key);
  if (!s) {
    return std::unexpected(s.error());
  }
  if (*s == nullptr) {
    return std::string();
  }
  std::string_view text = sv(**s);
  if (!is_media_type_grammar(text)) {
    return invalid(join(path, key), quote(text) + " is not a media type (type/subtype)");
  }
  return std::string(text);
}

// An optional array of strings ("urls", "features"): empty when absent.
Result<std::vector<std::string>> optional_strings(const json::object& object, std::string_view path,
                                                  std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = member(object, key);
  if (v == nullptr) {
    return out;
  }
  const std::string field = join(path, key);
  if (!v->is_array()) {
    return invalid(field, "expected an array of strings");
  }
  const auto& array = v->get_array();
  out.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i) {
    if (!array[i].is_string()) {
      return invalid(indexed(field, i), "expected a string");
    }
    out.emplace_back(sv(array[i].get_string()));
  }
  return out;
}

// An optional map of strings to strings, serialized; empty when absent.
Result<std::string> optional_annotations(const json::object& object, std::string_view path) {
  const json::value* v = member(object, "annotations");
  if (v == nullptr) {
    return std::string();
  }
  const std::string field = join(path, "annotations");
  if (!v->is_object()) {
    return invalid(field, "expected an object of strings");
  }
  for (const auto& entry : v->get_object()) {
    if (!entry.value().is_string()) {
      return invalid(field + "[" + quote(sv(entry.key())) + "]", "expected a string");
    }
  }
  return json::serialize(*v);
}

Result<std::int64_t> required_size(const json::object& object, std::string_view path) {
  const std::string field = join(path, "size");
  const json::value* v = member(object, "size");
  if (v == nullptr) {
    return invalid(field, "missing");
  }
  // Boost.JSON keeps integers up to INT64_MAX as int64 and only larger ones as uint64, so
  // a uint64 here is out of range for a size.
  if (!v->is_int64() || v->get_int64() < 0) {
    return invalid(field, "expected a non-negative integer");
  }
  return v->get_int64();
}

Result<Digest> required_digest(const json::object& object, std::string_view path) {
  const std::string field = join(path, "digest");
  const json::value* v = member(object, "digest");
  if (v == nullptr) {
    return invalid(field, "missing");
  }
  if (!v->is_string()) {
    return invalid(field, "expected a string");
  }
  auto digest = Digest::parse(sv(v->get_string()));
  if (!digest) {
    return fail(ErrorCode::kDigestInvalid, field + ": " + digest.error().message);
  }
  return std::move(*digest);
}

// "platform" of an index entry: checked for shape; os, architecture and variant kept.
Result<std::optional<Platform>> parse_platform(const json::object& descriptor,
                                               std::string_view path) {
  const json::value* v = member(descriptor, "platform");
  if (v == nullptr) {
    return std::optional<Platform>();
  }
  const std::string field = join(path, "platform");
  if (!v->is_object()) {
    return invalid(field, "expected an object");
  }
  const auto& object = v->get_object();
  std::array<std::string, 4> values;
  std::size_t i = 0;
  for (std::string_view key : {"os", "architecture", "variant", "os.version"}) {
    auto s = optional_string(object, field, key);
    if (!s) {
      return std::unexpected(s.error());
    }
    values[i++] = *s == nullptr ? std::string() : std::string(sv(**s));
  }
  for (std::string_view key : {"os.features", "features"}) {
    if (auto s = optional_strings(object, field, key); !s) {
      return std::unexpected(s.error());
    }
  }
  return std::optional<Platform>(
      Platform{std::move(values[0]), std::move(values[1]), std::move(values[2])});
}

Result<Descriptor> parse_descriptor(const json::value& v, std::string_view path) {
  if (!v.is_object()) {
    return invalid(path, "expected an object (a descriptor)");
  }
  const auto& object = v.get_object();

  if (member(object, "mediaType") == nullptr) {
    return invalid(join(path, "mediaType"), "missing");
  }
  auto media_type = optional_media_type(object, path, "mediaType");
  if (!media_type) return std::unexpected(media_type.error());
  auto digest = required_digest(object, path);
  if (!digest) return std::unexpected(digest.error());
  auto size = required_size(object, path);
  if (!size) return std::unexpected(size.error());
  auto artifact_type = optional_media_type(object, path, "artifactType");
  if (!artifact_type) return std::unexpected(artifact_type.error());
  auto annotations = optional_annotations(object, path);
  if (!annotations) return std::unexpected(annotations.error());
  auto urls = optional_strings(object, path, "urls");
  if (!urls) return std::unexpected(urls.error());
  if (auto data = optional_string(object, path, "data"); !data) {
    return std::unexpected(data.error());
  }
  auto platform = parse_platform(object, path);
  if (!platform) return std::unexpected(platform.error());
  return Descriptor{
      .media_type = std::move(*media_type),
      .digest = std::move(*digest),
      .size = *size,
      .artifact_type = std::move(*artifact_type),
      .annotations_json = std::move(*annotations),
      .urls = std::move(*urls),
      .platform = std::move(*platform),
  };
}

Result<std::vector<Descriptor>> parse_descriptor_array(const json::object& object,
                                                       std::string_view key) {
  const json::value* v = member(object, key);
  if (v == nullptr) {
    return invalid(key, "missing");
  }
  if (!v->is_array()) {
    return invalid(key, "expected an array of descriptors");
  }
  std::vector<Descriptor> out;
  const auto& array = v->get_array();
  out.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i) {
    auto descriptor = parse_descriptor(array[i], indexed(key, i));
    if (!descriptor) {
      return std::unexpected(descriptor.error());
    }
    out.push_back(std::move(*descriptor));
  }
  return out;
}

// Decides the kind from the body's mediaType, the Content-Type and the body's shape.
Result<ManifestKind> decide_kind(const json::object& object, std::string_view content_type) {
  std::optional<ManifestKind> header_kind = kind_of(content_type);

  if (const json::value* v = member(object, "mediaType")) {
    if (!v->is_string()) {
      return invalid("mediaType", "expected a string");
    }
    std::string_view body_type = sv(v->get_string());
    if (is_schema1(body_type)) {
      return fail(ErrorCode::kManifestInvalid, std::string(kSchema1Message));
    }
    std::optional<ManifestKind> body_kind = kind_of(body_type);
    if (!body_kind) {
      return invalid("mediaType", quote(body_type) +
                                      " is not a manifest media type (OCI image manifest or "
                                      "index, Docker manifest or manifest list)");
    }
    if (header_kind && *header_kind != *body_kind) {
      return invalid("mediaType",
                     quote(body_type) + " does not match the Content-Type " + quote(content_type));
    }
    return *body_kind;
  }

  if (header_kind) {
    if (is_docker(*header_kind)) {
      return invalid("mediaType", "missing; Docker manifests must name their media type");
    }
    return *header_kind;
  }
  const bool has_manifests = member(object, "manifests") != nullptr;
  const bool has_config = member(object, "config") != nullptr;
  if (has_manifests && has_config) {
    return invalid("mediaType",
                   "missing, and the manifest has both \"config\" and "
                   "\"manifests\": it could be an image manifest or an index");
  }
  if (has_manifests) {
    return ManifestKind::kOciIndex;
  }
  if (has_config) {
    return ManifestKind::kOciManifest;
  }
  return invalid("mediaType", "missing, and the Content-Type does not name a manifest type");
}

}  // namespace

std::string Platform::str() const {
  std::string out = os + "/" + architecture;
  if (!variant.empty()) {
    out += "/" + variant;
  }
  return out;
}

std::vector<const Descriptor*> Manifest::required_blobs() const {
  std::vector<const Descriptor*> out;
  if (config) {
    out.push_back(&*config);
  }
  for (const auto& layer : layers) {
    if (layer.urls.empty()) {
      out.push_back(&layer);
    }
  }
  return out;
}

bool is_manifest_media_type(std::string_view media_type) { return kind_of(media_type).has_value(); }

Result<Manifest> parse_manifest(std::string_view bytes, std::string_view content_type) {
  const std::string header_type = content_type_essence(content_type);
  if (is_schema1(header_type)) {
    return fail(ErrorCode::kManifestInvalid, std::string(kSchema1Message));
  }

  auto parsed = parse_json(bytes);
  if (!parsed) {
    return std::unexpected(parsed.error());
  }
  if (!parsed->is_object()) {
    return fail(ErrorCode::kManifestInvalid, "manifest must be a JSON object");
  }
  const json::object& object = parsed->get_object();

  const json::value* version = member(object, "schemaVersion");
  if (version == nullptr) {
    return invalid("schemaVersion", "missing");
  }
  if (!version->is_int64()) {
    return invalid("schemaVersion", "expected the integer 2");
  }
  if (version->get_int64() == 1) {
    return fail(ErrorCode::kManifestInvalid, std::string(kSchema1Message));
  }
  if (version->get_int64() != 2) {
    return invalid("schemaVersion", "must be 2, not " + std::to_string(version->get_int64()));
  }

  auto kind = decide_kind(object, header_type);
  if (!kind) {
    return std::unexpected(kind.error());
  }

  Manifest manifest{
      .kind = *kind,
      .media_type = std::string(name_of(*kind)),
      .artifact_type = {},
      .config = std::nullopt,
      .layers = {},
      .manifests = {},
      .subject = std::nullopt,
      .annotations_json = {},
  };

  if (is_index(*kind)) {
    // An index that also looks like an image manifest could be read as either by a
    // client that trusts the shape over the media type (CVE-2021-41190).
    for (std::string_view key : {"config", "layers"}) {
      if (member(object, key) != nullptr) {
        return invalid(key, "not allowed in an index or manifest list");
      }
    }
    auto manifests = parse_descriptor_array(object, "manifests");
    if (!manifests) {
      return std::unexpected(manifests.error());
    }
    manifest.manifests = std::move(*manifests);
  } else {
    if (member(object, "manifests") != nullptr) {
      return invalid("manifests", "not allowed in an image manifest");
    }
    const json::value* config = member(object, "config");
    if (config == nullptr) {
      return invalid("config", "missing");
    }
    auto descriptor = parse_descriptor(*config, "config");
    if (!descriptor) {
      return std::unexpected(descriptor.error());
    }
    manifest.config = std::move(*descriptor);
    auto layers = parse_descriptor_array(object, "layers");
    if (!layers) {
      return std::unexpected(layers.error());
    }
    manifest.layers = std::move(*layers);
  }

  if (const json::value* subject = member(object, "subject")) {
    auto descriptor = parse_descriptor(*subject, "subject");
    if (!descriptor) {
      return std::unexpected(descriptor.error());
    }
    manifest.subject = std::move(*descriptor);
  }

  auto artifact_type = optional_media_type(object, "", "artifactType");
  if (!artifact_type) {
    return std::unexpected(artifact_type.error());
  }
  manifest.artifact_type = std::move(*artifact_type);
  if (manifest.artifact_type.empty() && manifest.config) {
    manifest.artifact_type = manifest.config->media_type;
  }

  auto annotations = optional_annotations(object, "");
  if (!annotations) {
    return std::unexpected(annotations.error());
  }
  manifest.annotations_json = std::move(*annotations);
  return manifest;
}

}  // namespace berth::core
