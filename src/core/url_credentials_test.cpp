#include "core/url_credentials.hpp"

#include <gtest/gtest.h>

namespace berth::core {
namespace {

TEST(UrlCredentials, FindsAndBlanksTheUserinfo) {
  EXPECT_TRUE(has_url_credentials("http://user:secret@host"));
  EXPECT_TRUE(has_url_credentials("https://user@host:5000/v2/"));
  EXPECT_TRUE(has_url_credentials("https://user:p@ss@host/"));
  EXPECT_EQ(without_url_credentials("http://user:secret@host"), "http://***@host");
  EXPECT_EQ(without_url_credentials("https://user:p@ss@host:5000/a?b"),
            "https://***@host:5000/a?b");
}

TEST(UrlCredentials, LeavesOtherUrlsAlone) {
  for (const char* url : {"https://registry-1.docker.io", "http://host:5000/v2/?x=a@b",
                          "http://host/path@x", "http://host#frag@x", "not a url", "", "//"}) {
    EXPECT_FALSE(has_url_credentials(url)) << url;
    EXPECT_EQ(without_url_credentials(url), url);
  }
}

}  // namespace
}  // namespace berth::core
