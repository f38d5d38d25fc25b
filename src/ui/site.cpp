#include "ui/site.hpp"

#include <algorithm>
#include <array>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <cstdint>
#include <optional>

#include "util/ascii.hpp"

namespace berth::ui {

namespace bhttp = boost::beast::http;

namespace {

// First path segments that belong to the registry and the API, never to the UI.
constexpr std::array<std::string_view, 5> kReserved = {"v2", "api", "token", "healthz", "readyz"};

constexpr std::string_view kAssetsDir = "assets/";

std::string etag_of(std::string_view bytes) {
  // FNV-1a: the same bytes give the same tag in every replica and after every restart.
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    hash = (hash ^ c) * 0x100000001b3ull;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag(16, '0');
  for (int i = 15; i >= 0; --i, hash >>= 4) {
    tag[static_cast<std::size_t>(i)] = kHex[hash & 0xf];
  }
  return tag;
}

// Vite's relative URLs (src="./assets/...") made absolute under `base`, and the base told to
// the app. `base` is validated by the configuration: only unreserved characters and '/'.
std::string rewrite_index(std::string_view html, const std::string& base) {
  std::string out;
  out.reserve(html.size() + 64);
  for (std::size_t i = 0; i < html.size();) {
    if (html.substr(i).starts_with("=\"./")) {
      out += "=\"" + base + "/";
      i += 4;
    } else {
      out += html[i++];
    }
  }
  const auto head = out.find("</head>");
  if (head != std::string::npos) {
    out.insert(head, "  <meta name=\"berth-base\" content=\"" + base + "\" />\n  ");
  }
  return out;
}

// q=0, q=0.0, q=0.000: refused. Anything else (no q, q=0.5, q=1) is accepted.
bool refused(std::string_view params) {
  while (!params.empty()) {
    const auto semi = params.find(';');
    auto param = util::trim_spaces(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
      auto value = param.substr(2);
      return !value.empty() && value.find_first_not_of("0.") == std::string_view::npos;
    }
  }
  return false;
}

}  // namespace

bool accepts_encoding(std::string_view header, std::string_view coding) {
  std::optional<bool> listed;
  bool star = false;
  while (!header.empty()) {
    const auto comma = header.find(',');
    auto item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    const auto semi = item.find(';');
    const auto name = util::trim_spaces(item.substr(0, semi));
    const auto params = semi == std::string_view::npos ? std::string_view() : item.substr(semi + 1);
    if (boost::beast::iequals(name, coding)) {
      listed = !refused(params);
    } else if (name == "*") {
      star = !refused(params);
    }
  }
  return listed.value_or(star);
}

Site::Site(SiteOptions options, std::span<const Asset> assets) : options_(std::move(options)) {
  base_ = options_.path;
  while (!base_.empty() && base_.back() == '/') {
    base_.pop_back();
  }
  files_.reserve(assets.size());
  for (const Asset& asset : assets) {
    File file{.name = std::string(asset.name),
              .content_type = asset.content_type,
              .raw = asset.raw.view(),
              .gzip = asset.gzip.view(),
              .brotli = asset.brotli.view(),
              .etag = {},
              .immutable = asset.name.starts_with(kAssetsDir)};
    if (file.name == "index.html") {
      index_html_ = rewrite_index(file.raw, base_);
      file.raw = index_html_;
      file.gzip = {};
      file.brotli = {};
    }
    file.etag = etag_of(file.raw);
    files_.push_back(std::move(file));
  }
  for (const File& file : files_) {
    if (file.name == "index.html") {
      index_ = &file;
    }
  }
}

Site::Lookup Site::lookup(std::string_view path) const {
  const auto first =
      path.substr(1, path.find('/', 1) == std::string_view::npos ? std::string_view::npos
                                                                 : path.find('/', 1) - 1);
  if (!path.starts_with('/') || std::ranges::find(kReserved, first) != kReserved.end()) {
    return {};
  }
  if (!base_.empty() && (path == "/" || path == base_)) {
    return {Match::kRedirect, nullptr};
  }
  if (!path.starts_with(base_ + "/")) {
    return {};
  }
  const auto relative = path.substr(base_.size() + 1);
  auto found = std::ranges::find(files_, relative, &File::name);
  if (found != files_.end()) {
    return {Match::kFile, &*found};
  }
  if (relative.starts_with(kAssetsDir) || index_ == nullptr) {
    return {Match::kMissingAsset, nullptr};
  }
  return {Match::kFile, index_};
}

void Site::add_security_headers(http::Response& response) {
  response.set("Content-Security-Policy", kContentSecurityPolicy);
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Referrer-Policy", "no-referrer");
  response.set(bhttp::field::x_frame_options, "DENY");
}

Site::Representation Site::choose(const File& file, std::string_view accept_encoding) {
  if (!file.brotli.empty() && accepts_encoding(accept_encoding, "br")) {
    return {file.brotli, "br", "\"" + file.etag + "-br\""};
  }
  if (!file.gzip.empty() && accepts_encoding(accept_encoding, "gzip")) {
    return {file.gzip, "gzip", "\"" + file.etag + "-gz\""};
  }
  return {file.raw, {}, "\"" + file.etag + "\""};
}

http::Response Site::render(const File& file, const Representation& representation,
                            bool not_modified, unsigned http_version) {
  http::Response response{not_modified ? bhttp::status::not_modified : bhttp::status::ok,
                          http_version};
  add_security_headers(response);
  response.set(bhttp::field::cache_control,
               file.immutable ? "public, max-age=31536000, immutable" : "no-cache");
  response.set(bhttp::field::vary, "Accept-Encoding");
  response.set(bhttp::field::etag, representation.etag);
  if (not_modified) {
    return response;
  }
  response.set(bhttp::field::content_type, file.content_type);
  if (!representation.encoding.empty()) {
    response.set(bhttp::field::content_encoding, representation.encoding);
  }
  response.body().assign(representation.body);
  return response;
}

}  // namespace berth::ui
