// How the web UI is served: which request paths belong to it, which embedded file answers
// each, in which encoding, with which headers.
//
// The UI lives at ui.path ("/" by default). Its hashed assets (assets/index-<hash>.js) never
// change under their name, so browsers keep them a year; index.html is revalidated on every
// load (an ETag makes that a 304), so a new berth's UI shows at the next reload. Every other
// path under ui.path is a page of the single-page app (a deep link such as
// /projects/team/repositories) and gets index.html; only a missing file under assets/ is a
// 404. The registry's and the API's paths (/v2/, /api/, /token, the probes) are never the
// UI's, whatever ui.path says.
//
// index.html is the one file rewritten at start: Vite writes relative asset URLs
// ("./assets/x.js"), which a deep link would resolve below its own path, so they become
// absolute under ui.path, and a <meta name="berth-base"> tells the app its base. It is a few
// hundred bytes and goes out uncompressed (its precompressed copies no longer match).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/server.hpp"
#include "ui/assets.hpp"

namespace berth::ui {

struct SiteOptions {
  bool enabled = true;
  // Where the UI is mounted: "/" or "/<segments>" (config validates it; a trailing slash is
  // ignored).
  std::string path = "/";
};

// The Content-Security-Policy of every UI response: nothing inline, nothing from elsewhere.
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'";

class Site {
 public:
  Site(SiteOptions options, std::span<const Asset> assets);
  Site(const Site&) = delete;
  Site& operator=(const Site&) = delete;

  bool enabled() const { return options_.enabled; }
  // Whether this binary has the UI's files (built with BERTH_UI=ON).
  bool built_in() const { return !files_.empty(); }
  // ui.path without its trailing slash: "" for the root, "/ui".
  const std::string& base() const { return base_; }

  struct File {
    std::string name;
    std::string_view content_type;
    std::string_view raw;
    std::string_view gzip;
    std::string_view brotli;
    // Of the raw bytes; the encoded copies add "-gz" / "-br".
    std::string etag;
    // A hashed asset: cached for a year; anything else is revalidated each time.
    bool immutable = false;
  };

  enum class Match {
    kNotMine,       // not under ui.path, or a path of the registry or the API
    kFile,          // a file, or index.html for a page of the app
    kMissingAsset,  // under assets/, and no such file: 404
    kRedirect,      // ui.path without its slash, or "/" with the UI elsewhere: to base() + "/"
  };
  struct Lookup {
    Match match = Match::kNotMine;
    const File* file = nullptr;
  };
  // `path`: the request target's path (no query).
  Lookup lookup(std::string_view path) const;

  // What goes out for a file: the best encoding the request accepts (br, then gzip, then
  // none) and its entity tag (quoted), for the caller's If-None-Match check.
  struct Representation {
    std::string_view body;
    std::string_view encoding;
    std::string etag;
  };
  static Representation choose(const File& file, std::string_view accept_encoding);
  // 200 with the representation, or 304 (`not_modified`): cache, Vary and security headers.
  static http::Response render(const File& file, const Representation& representation,
                               bool not_modified, unsigned http_version);

  // The headers every UI response carries (CSP, nosniff, no referrer, no framing).
  static void add_security_headers(http::Response& response);

 private:
  SiteOptions options_;
  std::string base_;
  // index.html as rewritten for base_; files_ point into it.
  std::string index_html_;
  std::vector<File> files_;
  const File* index_ = nullptr;
};

// Whether an Accept-Encoding header accepts `coding` ("br", "gzip"): listed (or "*") with a
// q-value above 0.
bool accepts_encoding(std::string_view accept_encoding, std::string_view coding);

}  // namespace berth::ui
