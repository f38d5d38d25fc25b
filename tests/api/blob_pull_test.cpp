// Pulling and deleting blobs: HEAD and GET with their headers, byte ranges, and the rule that a
// blob is readable only through a repository that holds it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api_fixture.hpp"

namespace berth::testing {
namespace {

using ::testing::AnyOf;

class BlobPullTest : public ApiTest {
 protected:
  std::string blob(std::string_view name, std::string_view digest) {
    return "/v2/" + std::string(name) + "/blobs/" + std::string(digest);
  }

  // A fresh repository holding one blob of `size` random bytes.
  struct Pushed {
    std::string name;
    std::string bytes;
    std::string digest;
  };
  Pushed push(std::size_t size = 10000) {
    Pushed p{repo(), random_bytes(size), ""};
    p.digest = registry().push_blob(p.name, p.bytes);
    return p;
  }
};

TEST_F(BlobPullTest, HeadHasTheHeadersAndNoBody) {
  const auto p = push();
  const auto r = http().head(blob(p.name, p.digest));
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.header("Content-Length"), std::to_string(p.bytes.size()));
  EXPECT_EQ(r.header("Docker-Content-Digest"), p.digest);
  EXPECT_EQ(r.header("ETag"), "\"" + p.digest + "\"");
  EXPECT_EQ(r.header("Accept-Ranges"), "bytes");
  EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
  EXPECT_TRUE(r.body.empty());
}

TEST_F(BlobPullTest, GetReturnsTheBytes) {
  const auto p = push(300 * 1024 + 5);
  const auto r = http().get(blob(p.name, p.digest));
  ASSERT_EQ(r.status, 200u) << r.status;
  EXPECT_EQ(r.body, p.bytes);
  EXPECT_EQ(r.header("Content-Length"), std::to_string(p.bytes.size()));
  EXPECT_EQ(r.header("Docker-Content-Digest"), p.digest);
  EXPECT_EQ(r.header("ETag"), "\"" + p.digest + "\"");
  EXPECT_EQ(r.header("Accept-Ranges"), "bytes");
  EXPECT_FALSE(r.header("Content-Type").empty());
}

TEST_F(BlobPullTest, RangeFirstToLast) {
  const auto p = push(10000);
  const auto r = http().get(blob(p.name, p.digest), {{"Range", "bytes=100-199"}});
  ASSERT_EQ(r.status, 206u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.body, p.bytes.substr(100, 100));
  EXPECT_EQ(r.header("Content-Range"), "bytes 100-199/10000");
  EXPECT_EQ(r.header("Content-Length"), "100");
}

TEST_F(BlobPullTest, RangeLastBeyondTheEndIsClamped) {
  const auto p = push(10000);
  const auto r = http().get(blob(p.name, p.digest), {{"Range", "bytes=9990-20000"}});
  ASSERT_EQ(r.status, 206u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.body, p.bytes.substr(9990));
  EXPECT_EQ(r.header("Content-Range"), "bytes 9990-9999/10000");
}

TEST_F(BlobPullTest, RangeOpenEnded) {
  const auto p = push(10000);
  const auto r = http().get(blob(p.name, p.digest), {{"Range", "bytes=9000-"}});
  ASSERT_EQ(r.status, 206u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.body, p.bytes.substr(9000));
  EXPECT_EQ(r.header("Content-Range"), "bytes 9000-9999/10000");
  EXPECT_EQ(r.header("Content-Length"), "1000");
}

TEST_F(BlobPullTest, RangeSuffix) {
  const auto p = push(10000);
  const auto r = http().get(blob(p.name, p.digest), {{"Range", "bytes=-250"}});
  ASSERT_EQ(r.status, 206u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.body, p.bytes.substr(10000 - 250));
  EXPECT_EQ(r.header("Content-Range"), "bytes 9750-9999/10000");
}

TEST_F(BlobPullTest, RangeSuffixLongerThanTheBlobIsTheWholeBlob) {
  const auto p = push(1000);
  const auto r = http().get(blob(p.name, p.digest), {{"Range", "bytes=-5000"}});
  ASSERT_EQ(r.status, 206u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.body, p.bytes);
  EXPECT_EQ(r.header("Content-Range"), "bytes 0-999/1000");
}

TEST_F(BlobPullTest, UnsatisfiableRangeIs416WithTheSize) {
  const auto p = push(10000);
  for (const char* header : {"bytes=10000-", "bytes=20000-30000", "bytes=-0"}) {
    SCOPED_TRACE(header);
    const auto r = http().get(blob(p.name, p.digest), {{"Range", header}});
    EXPECT_EQ(r.status, 416u) << BERTH_DESCRIBE(r);
    EXPECT_EQ(r.header("Content-Range"), "bytes */10000");
  }
}

TEST_F(BlobPullTest, AnyRangeOfAZeroLengthBlobIsUnsatisfiable) {
  const std::string name = repo();
  const std::string digest = registry().push_blob(name, "");
  for (const char* header : {"bytes=0-", "bytes=0-0", "bytes=-1"}) {
    SCOPED_TRACE(header);
    const auto r = http().get(blob(name, digest), {{"Range", header}});
    EXPECT_EQ(r.status, 416u) << BERTH_DESCRIBE(r);
    EXPECT_EQ(r.header("Content-Range"), "bytes */0");
  }
}

TEST_F(BlobPullTest, MultipleRangesGetTheWholeBlob) {
  const auto p = push(10000);
  const auto r = http().get(blob(p.name, p.digest), {{"Range", "bytes=0-9,20-29"}});
  ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.body, p.bytes);
  EXPECT_FALSE(r.has_header("Content-Range"));
}

TEST_F(BlobPullTest, MalformedOrForeignUnitRangesAreIgnored) {
  const auto p = push(1000);
  for (const char* header : {"bytes=abc", "items=0-5", "bytes=5-1", "bytes"}) {
    SCOPED_TRACE(header);
    const auto r = http().get(blob(p.name, p.digest), {{"Range", header}});
    ASSERT_EQ(r.status, 200u) << BERTH_DESCRIBE(r);
    EXPECT_EQ(r.body, p.bytes);
  }
}

TEST_F(BlobPullTest, UnknownBlobIs404BlobUnknown) {
  const std::string name = repo();
  const std::string digest = sha256_digest(random_bytes(100));
  const auto get = http().get(blob(name, digest));
  EXPECT_EQ(get.status, 404u) << BERTH_DESCRIBE(get);
  EXPECT_EQ(error_code(get), "BLOB_UNKNOWN");
  const auto head = http().head(blob(name, digest));
  EXPECT_EQ(head.status, 404u) << BERTH_DESCRIBE(head);
  EXPECT_TRUE(head.body.empty());
}

TEST_F(BlobPullTest, BlobOfAnotherRepositoryIsNotReadable) {
  const auto p = push();
  const std::string other = repo("other");
  // Give the other repository some content of its own, so it exists.
  registry().push_blob(other, random_bytes(10));
  const auto get = http().get(blob(other, p.digest));
  EXPECT_EQ(get.status, 404u) << BERTH_DESCRIBE(get);
  EXPECT_EQ(error_code(get), "BLOB_UNKNOWN");
  EXPECT_EQ(get.body.find(p.bytes.substr(0, 64)), std::string::npos);
  const auto head = http().head(blob(other, p.digest));
  EXPECT_EQ(head.status, 404u) << BERTH_DESCRIBE(head);
  const auto ranged = http().get(blob(other, p.digest), {{"Range", "bytes=0-10"}});
  EXPECT_EQ(ranged.status, 404u) << BERTH_DESCRIBE(ranged);
  const auto del = http().del(blob(other, p.digest));
  EXPECT_EQ(del.status, 404u) << BERTH_DESCRIBE(del);
  EXPECT_EQ(error_code(del), "BLOB_UNKNOWN");
  // And the owner still has it.
  EXPECT_EQ(registry().pull_blob(p.name, p.digest), p.bytes);
}

TEST_F(BlobPullTest, DeleteBlobIs202ThenGone) {
  const auto p = push();
  const auto del = http().del(blob(p.name, p.digest));
  EXPECT_EQ(del.status, 202u) << BERTH_DESCRIBE(del);
  const auto get = http().get(blob(p.name, p.digest));
  EXPECT_EQ(get.status, 404u) << BERTH_DESCRIBE(get);
  EXPECT_EQ(error_code(get), "BLOB_UNKNOWN");
  const auto head = http().head(blob(p.name, p.digest));
  EXPECT_EQ(head.status, 404u);
  const auto again = http().del(blob(p.name, p.digest));
  EXPECT_EQ(again.status, 404u) << BERTH_DESCRIBE(again);
  EXPECT_EQ(error_code(again), "BLOB_UNKNOWN");
}

TEST_F(BlobPullTest, DeleteInOneRepositoryLeavesTheOther) {
  const auto p = push();
  const std::string other = repo("other");
  ASSERT_EQ(registry().push_blob(other, p.bytes), p.digest);
  const auto del = http().del(blob(p.name, p.digest));
  ASSERT_EQ(del.status, 202u) << BERTH_DESCRIBE(del);
  EXPECT_EQ(http().head(blob(p.name, p.digest)).status, 404u);
  EXPECT_EQ(registry().pull_blob(other, p.digest), p.bytes);
}

TEST_F(BlobPullTest, DeletedBlobCanBePushedAgain) {
  const auto p = push();
  ASSERT_EQ(http().del(blob(p.name, p.digest)).status, 202u);
  EXPECT_EQ(registry().push_blob(p.name, p.bytes), p.digest);
  EXPECT_EQ(registry().pull_blob(p.name, p.digest), p.bytes);
}

TEST_F(BlobPullTest, InvalidDigestInThePathIs400) {
  const std::string name = repo();
  for (const char* digest : {"sha256:short", "nodigest", "sha256:ZZZZ"}) {
    SCOPED_TRACE(digest);
    const auto r = http().get(blob(name, digest));
    EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
    EXPECT_EQ(error_code(r), "DIGEST_INVALID");
  }
}

TEST_F(BlobPullTest, PutOnABlobUrlIsNotAllowed) {
  const auto p = push();
  const auto r = http().put(blob(p.name, p.digest), p.bytes);
  EXPECT_EQ(r.status, 405u) << BERTH_DESCRIBE(r);
  EXPECT_FALSE(error_code(r).empty());
}

TEST_F(BlobPullTest, InvalidRepositoryNameIsNameInvalid) {
  const std::string digest = sha256_digest("x");
  const std::vector<std::string> names = {
      "UPPER", "a..b", "%2e%2e", "a/%2e%2e/b", "a/./b", std::string(256, 'a'), "_a", "a_"};
  for (const auto& name : names) {
    SCOPED_TRACE(name.substr(0, 40));
    const auto r = http().get(blob(name, digest));
    EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
    EXPECT_EQ(error_code(r), "NAME_INVALID") << BERTH_DESCRIBE(r);
  }
}

TEST_F(BlobPullTest, ConditionalGetOfABlob) {
  const auto p = push();
  const auto r = http().get(blob(p.name, p.digest), {{"If-None-Match", "\"" + p.digest + "\""}});
  // A blob never changes, so 304 is right; a full 200 is allowed too (the spec does not ask for
  // conditional blob requests).
  EXPECT_THAT(r.status, AnyOf(200u, 304u)) << BERTH_DESCRIBE(r);
  if (r.status == 200) {
    EXPECT_EQ(r.body, p.bytes);
  }
}

}  // namespace
}  // namespace berth::testing
