// Which file answers which path, in which encoding, with which headers: on a table of made-up
// files, so these tests do not depend on what the UI build writes.
#include "ui/site.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace berth::ui {
namespace {

namespace bhttp = boost::beast::http;

Blob blob(std::string_view text) {
  const auto* begin = reinterpret_cast<const unsigned char*>(text.data());
  return Blob{begin, begin + text.size()};
}

constexpr std::string_view kIndex =
    "<html><head><script type=\"module\" crossorigin src=\"./assets/app-1.js\"></script>"
    "<link rel=\"stylesheet\" href=\"./assets/app-1.css\"></head><body></body></html>";

const std::array<Asset, 3> kFiles = {
    Asset{"assets/app-1.js", "text/javascript; charset=utf-8", blob("js raw"), blob("js gz"),
          blob("js br")},
    Asset{"favicon.svg", "image/svg+xml", blob("<svg/>"), blob("svg gz"), {}},
    Asset{"index.html", "text/html; charset=utf-8", blob(kIndex), blob("stale gz"),
          blob("stale br")},
};

TEST(UiSite, PathsUnderTheRootMapToFilesAndEveryOtherPageToIndex) {
  Site site({.enabled = true, .path = "/"}, kFiles);
  EXPECT_EQ(site.base(), "");
  EXPECT_EQ(site.lookup("/assets/app-1.js").file->name, "assets/app-1.js");
  EXPECT_EQ(site.lookup("/favicon.svg").file->name, "favicon.svg");
  for (std::string_view page :
       {"/", "/projects", "/projects/team/repositories/a.b/-/tags", "/search", "/index.html"}) {
    auto found = site.lookup(page);
    ASSERT_EQ(found.match, Site::Match::kFile) << page;
    EXPECT_EQ(found.file->name, "index.html") << page;
  }
  EXPECT_EQ(site.lookup("/assets/app-0.js").match, Site::Match::kMissingAsset);
  for (std::string_view theirs :
       {"/v2/", "/api/v1/x", "/api/v2/x", "/api", "/token", "/healthz", "/readyz/x"}) {
    EXPECT_EQ(site.lookup(theirs).match, Site::Match::kNotMine) << theirs;
  }
}

TEST(UiSite, AMountedUiOwnsOnlyItsPathAndRedirectsToItsSlash) {
  Site site({.enabled = true, .path = "/console/ui/"}, kFiles);
  EXPECT_EQ(site.base(), "/console/ui");
  EXPECT_EQ(site.lookup("/console/ui/assets/app-1.js").file->name, "assets/app-1.js");
  EXPECT_EQ(site.lookup("/console/ui/").file->name, "index.html");
  EXPECT_EQ(site.lookup("/console/ui/projects/x").file->name, "index.html");
  EXPECT_EQ(site.lookup("/console/ui").match, Site::Match::kRedirect);
  EXPECT_EQ(site.lookup("/").match, Site::Match::kRedirect);
  EXPECT_EQ(site.lookup("/console/uix").match, Site::Match::kNotMine);
  EXPECT_EQ(site.lookup("/assets/app-1.js").match, Site::Match::kNotMine);
  EXPECT_EQ(site.lookup("/projects").match, Site::Match::kNotMine);
}

TEST(UiSite, IndexGetsAbsoluteAssetUrlsAndItsBaseAndIsSentUncompressed) {
  Site site({.enabled = true, .path = "/ui"}, kFiles);
  const auto* index = site.lookup("/ui/").file;
  ASSERT_NE(index, nullptr);
  EXPECT_NE(index->raw.find("src=\"/ui/assets/app-1.js\""), std::string_view::npos) << index->raw;
  EXPECT_NE(index->raw.find("href=\"/ui/assets/app-1.css\""), std::string_view::npos);
  EXPECT_NE(index->raw.find("<meta name=\"berth-base\" content=\"/ui\" />"),
            std::string_view::npos);
  EXPECT_EQ(index->raw.find("./assets"), std::string_view::npos);
  auto chosen = Site::choose(*index, "gzip, br");
  EXPECT_EQ(chosen.encoding, "");
  EXPECT_EQ(chosen.body, index->raw);

  Site root({.enabled = true, .path = "/"}, kFiles);
  EXPECT_NE(root.lookup("/").file->raw.find("src=\"/assets/app-1.js\""), std::string_view::npos);
}

TEST(UiSite, BrotliThenGzipThenRawByAcceptEncoding) {
  Site site({}, kFiles);
  const auto& js = *site.lookup("/assets/app-1.js").file;
  EXPECT_EQ(Site::choose(js, "gzip, deflate, br").encoding, "br");
  EXPECT_EQ(Site::choose(js, "gzip, deflate, br").body, "js br");
  EXPECT_EQ(Site::choose(js, "gzip").body, "js gz");
  EXPECT_EQ(Site::choose(js, "br;q=0, gzip;q=0.5").encoding, "gzip");
  EXPECT_EQ(Site::choose(js, "br;q=0.0, gzip;q=0").encoding, "");
  EXPECT_EQ(Site::choose(js, "").body, "js raw");
  EXPECT_EQ(Site::choose(js, "identity").body, "js raw");
  EXPECT_EQ(Site::choose(js, "*").encoding, "br");
  EXPECT_EQ(Site::choose(js, "GZIP").encoding, "gzip");
  // Each encoding is its own representation, with its own entity tag.
  const auto br = Site::choose(js, "br").etag;
  const auto gz = Site::choose(js, "gzip").etag;
  const auto raw = Site::choose(js, "").etag;
  EXPECT_NE(br, gz);
  EXPECT_NE(gz, raw);
  EXPECT_EQ(raw.front(), '"');
  // A file without a brotli copy goes out in gzip to a client that takes both.
  EXPECT_EQ(Site::choose(*site.lookup("/favicon.svg").file, "br, gzip").encoding, "gzip");
}

TEST(UiSite, HashedAssetsAreImmutableAndTheRestRevalidated) {
  Site site({}, kFiles);
  const auto& js = *site.lookup("/assets/app-1.js").file;
  auto response = Site::render(js, Site::choose(js, "br"), false, 11);
  EXPECT_EQ(response.result(), bhttp::status::ok);
  EXPECT_EQ(response[bhttp::field::cache_control], "public, max-age=31536000, immutable");
  EXPECT_EQ(response[bhttp::field::content_encoding], "br");
  EXPECT_EQ(response[bhttp::field::content_type], "text/javascript; charset=utf-8");
  EXPECT_EQ(response[bhttp::field::vary], "Accept-Encoding");
  EXPECT_EQ(response.body(), "js br");

  const auto& index = *site.lookup("/").file;
  auto page = Site::render(index, Site::choose(index, "br"), false, 11);
  EXPECT_EQ(page[bhttp::field::cache_control], "no-cache");
  EXPECT_FALSE(page[bhttp::field::etag].empty());
  EXPECT_EQ(page["Content-Security-Policy"], kContentSecurityPolicy);
  EXPECT_EQ(page["X-Content-Type-Options"], "nosniff");
  EXPECT_EQ(page["Referrer-Policy"], "no-referrer");
  EXPECT_EQ(page[bhttp::field::x_frame_options], "DENY");

  auto not_modified = Site::render(index, Site::choose(index, ""), true, 11);
  EXPECT_EQ(not_modified.result(), bhttp::status::not_modified);
  EXPECT_TRUE(not_modified.body().empty());
  EXPECT_EQ(not_modified[bhttp::field::etag], page[bhttp::field::etag]);
}

TEST(UiSite, WithoutFilesNothingIsBuiltIn) {
  Site site({}, {});
  EXPECT_FALSE(site.built_in());
  EXPECT_EQ(site.lookup("/").match, Site::Match::kMissingAsset);
}

}  // namespace
}  // namespace berth::ui
