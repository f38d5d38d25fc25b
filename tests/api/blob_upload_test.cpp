// Pushing blobs: monolithic POST ?digest=, POST then PUT, chunked PATCH with Content-Range,
// streamed PATCH, chunked transfer encoding, upload status and cancellation, and every way a
// client can get an upload wrong (bad digests, unknown or foreign upload ids, out-of-order
// chunks). Whatever goes wrong, nothing unverified may become readable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "api_fixture.hpp"

namespace berth::testing {
namespace {

using ::testing::AnyOf;
using ::testing::MatchesRegex;

constexpr std::string_view kEmptySha256 =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

class BlobUploadTest : public ApiTest {
 protected:
  std::string uploads(std::string_view name) {
    return "/v2/" + std::string(name) + "/blobs/uploads/";
  }
  std::string blob(std::string_view name, std::string_view digest) {
    return "/v2/" + std::string(name) + "/blobs/" + std::string(digest);
  }
  static std::string with_digest(std::string target, std::string_view digest) {
    target += target.find('?') == std::string::npos ? '?' : '&';
    return target + "digest=" + std::string(digest);
  }
  static std::string range(std::uint64_t first, std::uint64_t last) {
    return std::to_string(first) + "-" + std::to_string(last);
  }
  // The upload id at the end of an upload Location.
  static std::string upload_id(const std::string& location) {
    const auto query = location.find('?');
    const std::string path = location.substr(0, query);
    return path.substr(path.rfind('/') + 1);
  }

  // Options for requests that move tens of MiB through a sanitizer build.
  static RequestOptions slow_request() {
    RequestOptions options;
    options.timeout = std::chrono::minutes(5);
    options.piece_size = 1u << 20;
    return options;
  }

  // HEAD of the blob in that repository.
  unsigned head_status(std::string_view name, std::string_view digest) {
    return http().head(blob(name, digest)).status;
  }
};

// ---------------------------------------------------------------- monolithic

TEST_F(BlobUploadTest, MonolithicPostWithDigestCreatesTheBlob) {
  const std::string name = repo();
  const std::string bytes = random_bytes(3000);
  const std::string digest = sha256_digest(bytes);
  const auto r = http().post(with_digest(uploads(name), digest), bytes,
                             {{"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(location_target(r), blob(name, digest));
  EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
  EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
  EXPECT_EQ(registry().pull_blob(name, digest), bytes);
}

TEST_F(BlobUploadTest, MonolithicPostWithChunkedTransferEncoding) {
  const std::string name = repo();
  const std::string bytes = random_bytes(200 * 1024);
  const std::string digest = sha256_digest(bytes);
  RequestOptions options;
  options.chunked = true;
  options.piece_size = 7001;
  const auto r = http().request("POST", with_digest(uploads(name), digest), {}, bytes, options);
  ASSERT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
  EXPECT_EQ(registry().pull_blob(name, digest), bytes);
}

TEST_F(BlobUploadTest, MonolithicPostWithWrongDigestStoresNothing) {
  const std::string name = repo();
  const std::string bytes = random_bytes(1000);
  const std::string claimed = sha256_digest(random_bytes(1000));
  const auto r = http().post(with_digest(uploads(name), claimed), bytes);
  EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(error_code(r), "DIGEST_INVALID") << BERTH_DESCRIBE(r);
  EXPECT_EQ(head_status(name, claimed), 404u);
  EXPECT_EQ(head_status(name, sha256_digest(bytes)), 404u);
}

TEST_F(BlobUploadTest, MonolithicPostWithExpectContinue) {
  const std::string name = repo();
  const std::string bytes = random_bytes(100 * 1024);
  const std::string digest = sha256_digest(bytes);
  RequestOptions options;
  options.expect_continue = true;
  const auto r = http().request("POST", with_digest(uploads(name), digest), {}, bytes, options);
  ASSERT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.continues, 1u) << "the server should have sent 100 Continue before the body";
  EXPECT_EQ(registry().pull_blob(name, digest), bytes);
}

TEST_F(BlobUploadTest, ExpectContinueOnARejectedRequestGetsTheFinalStatus) {
  const std::string bytes = random_bytes(100 * 1024);
  RequestOptions options;
  options.expect_continue = true;
  const auto r = http().request("POST", with_digest(uploads("Bad/NAME"), sha256_digest(bytes)), {},
                                bytes, options);
  EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(error_code(r), "NAME_INVALID");
  EXPECT_EQ(r.continues, 0u);
}

TEST_F(BlobUploadTest, ZeroLengthBlob) {
  const std::string name = repo();
  const auto r = http().post(with_digest(uploads(name), kEmptySha256), "");
  ASSERT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.header("Docker-Content-Digest"), kEmptySha256);
  const auto head = http().head(blob(name, kEmptySha256));
  EXPECT_EQ(head.status, 200u) << BERTH_DESCRIBE(head);
  EXPECT_EQ(head.header("Content-Length"), "0");
  const auto get = http().get(blob(name, kEmptySha256));
  EXPECT_EQ(get.status, 200u) << BERTH_DESCRIBE(get);
  EXPECT_EQ(get.header("Content-Length"), "0");
  EXPECT_TRUE(get.body.empty());
}

TEST_F(BlobUploadTest, ZeroLengthBlobThroughASession) {
  const std::string name = repo();
  const std::string location = registry().start_upload(name);
  const auto r = http().put(with_digest(location, kEmptySha256), "");
  ASSERT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(head_status(name, kEmptySha256), 200u);
}

TEST_F(BlobUploadTest, Sha512MonolithicBlob) {
  const std::string name = repo();
  const std::string bytes = random_bytes(5000);
  const std::string digest = sha512_digest(bytes);
  const auto r = http().post(with_digest(uploads(name), digest), bytes);
  ASSERT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
  EXPECT_EQ(location_target(r), blob(name, digest));
  const auto get = http().get(blob(name, digest));
  ASSERT_EQ(get.status, 200u) << BERTH_DESCRIBE(get);
  EXPECT_EQ(get.body, bytes);
  EXPECT_EQ(get.header("Docker-Content-Digest"), digest);
}

TEST_F(BlobUploadTest, Sha512ChunkedBlob) {
  const std::string name = repo();
  const std::string bytes = random_bytes(300 * 1024);
  const std::string digest = sha512_digest(bytes);
  std::string location = registry().start_upload(name);
  const auto patch = http().patch(location, bytes.substr(0, 100 * 1024),
                                  {{"Content-Range", range(0, 100 * 1024 - 1)}});
  ASSERT_EQ(patch.status, 202u) << BERTH_DESCRIBE(patch);
  const auto put =
      http().put(with_digest(location_target(patch), digest), bytes.substr(100 * 1024));
  ASSERT_EQ(put.status, 201u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(put.header("Docker-Content-Digest"), digest);
  EXPECT_EQ(registry().pull_blob(name, digest), bytes);
}

// ---------------------------------------------------------------- sessions

TEST_F(BlobUploadTest, PostStartsASession) {
  const std::string name = repo();
  const auto r = http().post(uploads(name), "");
  ASSERT_EQ(r.status, 202u) << BERTH_DESCRIBE(r);
  const std::string location = location_target(r);
  EXPECT_THAT(location, MatchesRegex("/v2/" + name + "/blobs/uploads/[0-9a-f]+(\\?.*)?"));
  EXPECT_EQ(r.header("Docker-Upload-UUID"), upload_id(location));
  EXPECT_EQ(r.header("Range"), "0-0");
}

TEST_F(BlobUploadTest, PostWithoutTrailingSlashStartsASession) {
  const std::string name = repo();
  const auto r = http().post("/v2/" + name + "/blobs/uploads", "");
  ASSERT_EQ(r.status, 202u) << BERTH_DESCRIBE(r);
  EXPECT_FALSE(location_target(r).empty());
}

TEST_F(BlobUploadTest, PostThenPutWithTheWholeBlob) {
  const std::string name = repo();
  const std::string bytes = random_bytes(4096);
  const std::string digest = sha256_digest(bytes);
  const std::string location = registry().start_upload(name);
  const auto r = http().put(with_digest(location, digest), bytes,
                            {{"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(r.status, 201u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(location_target(r), blob(name, digest));
  EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
  EXPECT_EQ(registry().pull_blob(name, digest), bytes);
}

TEST_F(BlobUploadTest, ChunkedPatchesWithContentRange) {
  const std::string name = repo();
  const std::string bytes = random_bytes(3 * 65536 + 123);
  const std::string digest = sha256_digest(bytes);
  std::string location = registry().start_upload(name);
  const std::string id = upload_id(location);
  const std::size_t chunk = 65536;
  for (std::size_t offset = 0; offset < bytes.size(); offset += chunk) {
    const std::size_t n = std::min(chunk, bytes.size() - offset);
    const auto r = http().patch(location, bytes.substr(offset, n),
                                {{"Content-Type", "application/octet-stream"},
                                 {"Content-Range", range(offset, offset + n - 1)}});
    ASSERT_EQ(r.status, 202u) << "chunk at " << offset << ": " << BERTH_DESCRIBE(r);
    EXPECT_EQ(r.header("Range"), range(0, offset + n - 1));
    EXPECT_EQ(r.header("Docker-Upload-UUID"), id);
    EXPECT_EQ(r.header("Content-Length"), "0");
    location = location_target(r);
    ASSERT_FALSE(location.empty());
  }
  const auto status = http().get(location);
  ASSERT_EQ(status.status, 204u) << BERTH_DESCRIBE(status);
  EXPECT_EQ(status.header("Range"), range(0, bytes.size() - 1));

  // The closing PUT carries no body.
  const auto put = http().put(with_digest(location, digest), "");
  ASSERT_EQ(put.status, 201u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(put.header("Docker-Content-Digest"), digest);
  EXPECT_EQ(location_target(put), blob(name, digest));
  EXPECT_EQ(registry().pull_blob(name, digest), bytes);
}

TEST_F(BlobUploadTest, ContentRangeWithBytesUnitAndTotalIsAccepted) {
  const std::string name = repo();
  const std::string bytes = random_bytes(1000);
  const std::string location = registry().start_upload(name);
  const auto r =
      http().patch(location, bytes.substr(0, 400), {{"Content-Range", "bytes 0-399/1000"}});
  ASSERT_EQ(r.status, 202u) << BERTH_DESCRIBE(r);
  EXPECT_EQ(r.header("Range"), "0-399");
}

TEST_F(BlobUploadTest, ClosingPutCarriesTheFinalChunk) {
  const std::string name = repo();
  const std::string bytes = random_bytes(10000);
  const std::string digest = sha256_digest(bytes);
  const std::string location = registry().start_upload(name);
  const auto patch =
      http().patch(location, bytes.substr(0, 6000), {{"Content-Range", range(0, 5999)}});
  ASSERT_EQ(patch.status, 202u) << BERTH_DESCRIBE(patch);
  const auto put = http().put(
      with_digest(location_target(patch), digest), bytes.substr(6000),
      {{"Content-Range", range(6000, 9999)}, {"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(put.status, 201u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(put.header("Docker-Content-Digest"), digest);
  EXPECT_EQ(registry().pull_blob(name, digest), bytes);
}

TEST_F(BlobUploadTest, ClosingPutWithFinalChunkWithoutContentRange) {
  const std::string name = repo();
  const std::string bytes = random_bytes(10000);
  const std::string digest = sha256_digest(bytes);
  const std::string location = registry().start_upload(name);
  const auto patch = http().patch(location, bytes.substr(0, 2500));
  ASSERT_EQ(patch.status, 202u) << BERTH_DESCRIBE(patch);
  const auto put = http().put(with_digest(location_target(patch), digest), bytes.substr(2500));
  ASSERT_EQ(put.status, 201u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(registry().pull_blob(name, digest), bytes);
}

TEST_F(BlobUploadTest, ClosingPutWithOutOfOrderFinalChunkIs416) {
  const std::string name = repo();
  const std::string bytes = random_bytes(1000);
  const std::string location = registry().start_upload(name);
  const auto patch =
      http().patch(location, bytes.substr(0, 500), {{"Content-Range", range(0, 499)}});
  ASSERT_EQ(patch.status, 202u) << BERTH_DESCRIBE(patch);
  const auto put = http().put(with_digest(location_target(patch), sha256_digest(bytes)),
                              bytes.substr(600), {{"Content-Range", range(600, 999)}});
  EXPECT_EQ(put.status, 416u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(put.header("Range"), "0-499");
  EXPECT_EQ(head_status(name, sha256_digest(bytes)), 404u);
}

TEST_F(BlobUploadTest, StreamedPatchesWithoutContentRangeAppend) {
  const std::string name = repo();
  const std::string bytes = random_bytes(50000);
  const std::string digest = sha256_digest(bytes);
  std::string location = registry().start_upload(name);
  const auto first = http().patch(location, bytes.substr(0, 20000));
  ASSERT_EQ(first.status, 202u) << BERTH_DESCRIBE(first);
  EXPECT_EQ(first.header("Range"), "0-19999");
  location = location_target(first);
  const auto second = http().patch(location, bytes.substr(20000));
  ASSERT_EQ(second.status, 202u) << BERTH_DESCRIBE(second);
  EXPECT_EQ(second.header("Range"), "0-49999");
  const auto put = http().put(with_digest(location_target(second), digest), "");
  ASSERT_EQ(put.status, 201u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(registry().pull_blob(name, digest), bytes);
}

TEST_F(BlobUploadTest, PatchWithChunkedTransferEncoding) {
  const std::string name = repo();
  const std::string bytes = random_bytes(300 * 1024 + 17);
  const std::string digest = sha256_digest(bytes);
  const std::string location = registry().start_upload(name);
  RequestOptions options;
  options.chunked = true;
  options.piece_size = 10007;
  const auto patch = http().request("PATCH", location, {}, bytes, options);
  ASSERT_EQ(patch.status, 202u) << BERTH_DESCRIBE(patch);
  EXPECT_EQ(patch.header("Range"), range(0, bytes.size() - 1));
  const auto put = http().put(with_digest(location_target(patch), digest), "");
  ASSERT_EQ(put.status, 201u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(registry().pull_blob(name, digest), bytes);
}

TEST_F(BlobUploadTest, ClosingPutWithChunkedTransferEncoding) {
  const std::string name = repo();
  const std::string bytes = random_bytes(120 * 1024);
  const std::string digest = sha256_digest(bytes);
  const std::string location = registry().start_upload(name);
  RequestOptions options;
  options.chunked = true;
  options.piece_size = 4096;
  const auto put = http().request("PUT", with_digest(location, digest), {}, bytes, options);
  ASSERT_EQ(put.status, 201u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(registry().pull_blob(name, digest), bytes);
}

TEST_F(BlobUploadTest, PatchWithExpectContinue) {
  const std::string name = repo();
  const std::string bytes = random_bytes(64 * 1024);
  const std::string location = registry().start_upload(name);
  RequestOptions options;
  options.expect_continue = true;
  const auto patch =
      http().request("PATCH", location, {{"Content-Range", range(0, 65535)}}, bytes, options);
  ASSERT_EQ(patch.status, 202u) << BERTH_DESCRIBE(patch);
  EXPECT_EQ(patch.continues, 1u);
  EXPECT_EQ(patch.header("Range"), "0-65535");
}

TEST_F(BlobUploadTest, OutOfOrderPatchIs416AndTellsTheCurrentSize) {
  const std::string name = repo();
  const std::string bytes = random_bytes(3000);
  const std::string digest = sha256_digest(bytes);
  std::string location = registry().start_upload(name);

  // Nothing uploaded yet: a chunk that does not start at 0.
  const auto early =
      http().patch(location, bytes.substr(1000, 1000), {{"Content-Range", range(1000, 1999)}});
  EXPECT_EQ(early.status, 416u) << BERTH_DESCRIBE(early);
  EXPECT_EQ(early.header("Range"), "0-0");
  EXPECT_FALSE(error_code(early).empty()) << BERTH_DESCRIBE(early);

  const auto first =
      http().patch(location, bytes.substr(0, 1000), {{"Content-Range", range(0, 999)}});
  ASSERT_EQ(first.status, 202u) << BERTH_DESCRIBE(first);
  location = location_target(first);

  // A gap, then an overlap: both refused, and both say where the upload really ends.
  const auto gap =
      http().patch(location, bytes.substr(2000, 1000), {{"Content-Range", range(2000, 2999)}});
  EXPECT_EQ(gap.status, 416u) << BERTH_DESCRIBE(gap);
  EXPECT_EQ(gap.header("Range"), "0-999");
  EXPECT_EQ(error_code(gap), "BLOB_UPLOAD_INVALID");
  EXPECT_EQ(location_target(gap), location);
  EXPECT_EQ(gap.header("Docker-Upload-UUID"), upload_id(location));
  const auto overlap =
      http().patch(location, bytes.substr(500, 1000), {{"Content-Range", range(500, 1499)}});
  EXPECT_EQ(overlap.status, 416u) << BERTH_DESCRIBE(overlap);
  EXPECT_EQ(overlap.header("Range"), "0-999");

  // The refused chunks left no trace: the upload goes on from 1000.
  const auto status = http().get(location);
  ASSERT_EQ(status.status, 204u) << BERTH_DESCRIBE(status);
  EXPECT_EQ(status.header("Range"), "0-999");
  const auto second =
      http().patch(location, bytes.substr(1000), {{"Content-Range", range(1000, 2999)}});
  ASSERT_EQ(second.status, 202u) << BERTH_DESCRIBE(second);
  const auto put = http().put(with_digest(location_target(second), digest), "");
  ASSERT_EQ(put.status, 201u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(registry().pull_blob(name, digest), bytes);
}

TEST_F(BlobUploadTest, MalformedContentRangeIsRejected) {
  const std::string name = repo();
  const std::string location = registry().start_upload(name);
  for (const char* header : {"abc", "0-", "-5", "5-1", "0-9/5", "x-y"}) {
    SCOPED_TRACE(header);
    const auto r = http().patch(location, "0123456789", {{"Content-Range", header}});
    EXPECT_THAT(r.status, AnyOf(400u, 416u)) << BERTH_DESCRIBE(r);
    EXPECT_FALSE(error_code(r).empty()) << BERTH_DESCRIBE(r);
  }
  const auto status = http().get(location);
  ASSERT_EQ(status.status, 204u) << BERTH_DESCRIBE(status);
  EXPECT_EQ(status.header("Range"), "0-0") << "a refused chunk must not be appended";
}

TEST_F(BlobUploadTest, ContentRangeDisagreeingWithContentLengthIsRejected) {
  const std::string name = repo();
  const std::string location = registry().start_upload(name);
  const auto r = http().patch(location, "0123456789", {{"Content-Range", range(0, 4)}});
  EXPECT_THAT(r.status, AnyOf(400u, 416u)) << BERTH_DESCRIBE(r);
  const auto status = http().get(location);
  ASSERT_EQ(status.status, 204u) << BERTH_DESCRIBE(status);
  EXPECT_EQ(status.header("Range"), "0-0");
}

TEST_F(BlobUploadTest, EmptyPatchChangesNothing) {
  const std::string name = repo();
  const std::string bytes = random_bytes(100);
  const std::string location = registry().start_upload(name);
  const auto first = http().patch(location, bytes, {{"Content-Range", range(0, 99)}});
  ASSERT_EQ(first.status, 202u) << BERTH_DESCRIBE(first);
  const auto empty = http().patch(location_target(first), "");
  EXPECT_EQ(empty.status, 202u) << BERTH_DESCRIBE(empty);
  EXPECT_EQ(empty.header("Range"), "0-99");
  const auto put = http().put(with_digest(location_target(first), sha256_digest(bytes)), "");
  EXPECT_EQ(put.status, 201u) << BERTH_DESCRIBE(put);
}

TEST_F(BlobUploadTest, UploadsCollectionOnlyTakesPost) {
  const std::string name = repo();
  for (const char* method : {"GET", "PUT", "PATCH", "DELETE"}) {
    SCOPED_TRACE(method);
    const auto r = http().request(method, uploads(name));
    EXPECT_EQ(r.status, 405u) << BERTH_DESCRIBE(r);
  }
}

TEST_F(BlobUploadTest, UploadStatusReportsProgress) {
  const std::string name = repo();
  const std::string location = registry().start_upload(name);
  const auto fresh = http().get(location);
  ASSERT_EQ(fresh.status, 204u) << BERTH_DESCRIBE(fresh);
  EXPECT_EQ(fresh.header("Range"), "0-0");
  EXPECT_EQ(fresh.header("Docker-Upload-UUID"), upload_id(location));
  EXPECT_FALSE(location_target(fresh).empty());
  EXPECT_TRUE(fresh.body.empty());

  const auto patch = http().patch(location, random_bytes(777));
  ASSERT_EQ(patch.status, 202u) << BERTH_DESCRIBE(patch);
  const auto status = http().get(location_target(patch));
  ASSERT_EQ(status.status, 204u) << BERTH_DESCRIBE(status);
  EXPECT_EQ(status.header("Range"), "0-776");
  EXPECT_EQ(status.header("Docker-Upload-UUID"), upload_id(location));
}

TEST_F(BlobUploadTest, DeleteCancelsTheUpload) {
  const std::string name = repo();
  const std::string bytes = random_bytes(1000);
  const std::string location = registry().start_upload(name);
  const auto patch = http().patch(location, bytes);
  ASSERT_EQ(patch.status, 202u) << BERTH_DESCRIBE(patch);

  const auto del = http().del(location);
  EXPECT_EQ(del.status, 204u) << BERTH_DESCRIBE(del);

  const auto status = http().get(location);
  EXPECT_EQ(status.status, 404u) << BERTH_DESCRIBE(status);
  EXPECT_EQ(error_code(status), "BLOB_UPLOAD_UNKNOWN");
  const auto again = http().patch(location, "more");
  EXPECT_EQ(again.status, 404u) << BERTH_DESCRIBE(again);
  EXPECT_EQ(error_code(again), "BLOB_UPLOAD_UNKNOWN");
  const auto put = http().put(with_digest(location, sha256_digest(bytes)), "");
  EXPECT_EQ(put.status, 404u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(error_code(put), "BLOB_UPLOAD_UNKNOWN");
  const auto del_again = http().del(location);
  EXPECT_EQ(del_again.status, 404u) << BERTH_DESCRIBE(del_again);
  EXPECT_EQ(error_code(del_again), "BLOB_UPLOAD_UNKNOWN");
  EXPECT_EQ(head_status(name, sha256_digest(bytes)), 404u);
}

TEST_F(BlobUploadTest, FinishedUploadIsGone) {
  const std::string name = repo();
  const std::string bytes = random_bytes(1000);
  const std::string digest = sha256_digest(bytes);
  const std::string location = registry().start_upload(name);
  const auto put = http().put(with_digest(location, digest), bytes);
  ASSERT_EQ(put.status, 201u) << BERTH_DESCRIBE(put);
  const auto status = http().get(location);
  EXPECT_EQ(status.status, 404u) << BERTH_DESCRIBE(status);
  EXPECT_EQ(error_code(status), "BLOB_UPLOAD_UNKNOWN");
  const auto again = http().put(with_digest(location, digest), "");
  EXPECT_EQ(again.status, 404u) << BERTH_DESCRIBE(again);
  EXPECT_EQ(error_code(again), "BLOB_UPLOAD_UNKNOWN");
}

// ---------------------------------------------------------------- digests

TEST_F(BlobUploadTest, WrongDigestOnPutStoresNothing) {
  const std::string name = repo();
  const std::string bytes = random_bytes(5000);
  const std::string claimed = sha256_digest(random_bytes(5000));
  const std::string location = registry().start_upload(name);
  const auto patch = http().patch(location, bytes);
  ASSERT_EQ(patch.status, 202u) << BERTH_DESCRIBE(patch);
  const auto put = http().put(with_digest(location_target(patch), claimed), "");
  EXPECT_EQ(put.status, 400u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(error_code(put), "DIGEST_INVALID") << BERTH_DESCRIBE(put);
  EXPECT_EQ(head_status(name, claimed), 404u);
  EXPECT_EQ(head_status(name, sha256_digest(bytes)), 404u);
}

TEST_F(BlobUploadTest, WrongDigestOnPutWithBodyStoresNothing) {
  const std::string name = repo();
  const std::string bytes = random_bytes(5000);
  const std::string claimed = sha256_digest(bytes + "x");
  const std::string location = registry().start_upload(name);
  const auto put = http().put(with_digest(location, claimed), bytes);
  EXPECT_EQ(put.status, 400u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(error_code(put), "DIGEST_INVALID") << BERTH_DESCRIBE(put);
  EXPECT_EQ(head_status(name, claimed), 404u);
  EXPECT_EQ(head_status(name, sha256_digest(bytes)), 404u);
}

TEST_F(BlobUploadTest, MalformedDigestsAreDigestInvalid) {
  const std::string name = repo();
  const std::string bytes = random_bytes(100);
  const std::string good = sha256_digest(bytes);
  std::string upper = good;
  std::transform(upper.begin() + 7, upper.end(), upper.begin() + 7, [](char c) {
    return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  });
  const std::vector<std::string> malformed = {
      "sha256:abc",
      "nocolon",
      good.substr(0, good.size() - 1),
      good + "0",
      upper,
      "md5:d41d8cd98f00b204e9800998ecf8427e",
      "sha256:" + std::string(64, 'g'),
      "sha256:",
      ":" + std::string(64, 'a'),
  };
  for (const auto& digest : malformed) {
    SCOPED_TRACE(digest);
    const auto post = http().post(with_digest(uploads(name), digest), bytes);
    EXPECT_EQ(post.status, 400u) << BERTH_DESCRIBE(post);
    EXPECT_EQ(error_code(post), "DIGEST_INVALID") << BERTH_DESCRIBE(post);

    const std::string location = registry().start_upload(name);
    const auto put = http().put(with_digest(location, digest), bytes);
    EXPECT_EQ(put.status, 400u) << BERTH_DESCRIBE(put);
    EXPECT_EQ(error_code(put), "DIGEST_INVALID") << BERTH_DESCRIBE(put);
  }
  EXPECT_EQ(head_status(name, good), 404u);
}

TEST_F(BlobUploadTest, PutWithoutDigestIs400) {
  const std::string name = repo();
  const std::string bytes = random_bytes(100);
  const std::string location = registry().start_upload(name);
  const auto put = http().put(location, bytes);
  EXPECT_EQ(put.status, 400u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(error_code(put), "DIGEST_INVALID") << BERTH_DESCRIBE(put);
  // The upload is still there: the client may retry the PUT properly.
  const auto retry = http().put(with_digest(location, sha256_digest(bytes)), bytes);
  EXPECT_EQ(retry.status, 201u) << BERTH_DESCRIBE(retry);
}

// ---------------------------------------------------------------- upload ids

TEST_F(BlobUploadTest, UnknownUploadIdIs404) {
  const std::string name = repo();
  // Well-formed (the length and alphabet of an issued id) but never issued.
  const std::string issued = upload_id(registry().start_upload(name));
  std::string unknown(issued.size(), 'a');
  const std::string target = uploads(name) + unknown;
  const auto get = http().get(target);
  EXPECT_EQ(get.status, 404u) << BERTH_DESCRIBE(get);
  EXPECT_EQ(error_code(get), "BLOB_UPLOAD_UNKNOWN");
  const auto patch = http().patch(target, "data");
  EXPECT_EQ(patch.status, 404u) << BERTH_DESCRIBE(patch);
  EXPECT_EQ(error_code(patch), "BLOB_UPLOAD_UNKNOWN");
  const auto put = http().put(with_digest(target, sha256_digest("data")), "data");
  EXPECT_EQ(put.status, 404u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(error_code(put), "BLOB_UPLOAD_UNKNOWN");
  const auto del = http().del(target);
  EXPECT_EQ(del.status, 404u) << BERTH_DESCRIBE(del);
  EXPECT_EQ(error_code(del), "BLOB_UPLOAD_UNKNOWN");
}

TEST_F(BlobUploadTest, MalformedUploadIdIs404) {
  const std::string name = repo();
  const std::vector<std::string> ids = {"not-hex-at-all",      "ZZZZ", "..",       "0",
                                        std::string(200, 'f'), "%00",  "abc%2Fdef"};
  for (const auto& id : ids) {
    SCOPED_TRACE(id);
    const auto get = http().get(uploads(name) + id);
    EXPECT_EQ(get.status, 404u) << BERTH_DESCRIBE(get);
    EXPECT_EQ(error_code(get), "BLOB_UPLOAD_UNKNOWN") << BERTH_DESCRIBE(get);
    const auto patch = http().patch(uploads(name) + id, "data");
    EXPECT_EQ(patch.status, 404u) << BERTH_DESCRIBE(patch);
    EXPECT_EQ(error_code(patch), "BLOB_UPLOAD_UNKNOWN") << BERTH_DESCRIBE(patch);
  }
}

TEST_F(BlobUploadTest, AnotherRepositorysUploadIdIs404) {
  const std::string owner = repo("owner");
  const std::string other = repo("other");
  const std::string bytes = random_bytes(2000);
  const std::string digest = sha256_digest(bytes);
  const std::string location = registry().start_upload(owner);
  const std::string id = upload_id(location);
  const auto first = http().patch(location, bytes.substr(0, 1000));
  ASSERT_EQ(first.status, 202u) << BERTH_DESCRIBE(first);

  const std::string foreign = uploads(other) + id;
  const auto get = http().get(foreign);
  EXPECT_EQ(get.status, 404u) << BERTH_DESCRIBE(get);
  EXPECT_EQ(error_code(get), "BLOB_UPLOAD_UNKNOWN");
  const auto patch = http().patch(foreign, "intruder");
  EXPECT_EQ(patch.status, 404u) << BERTH_DESCRIBE(patch);
  EXPECT_EQ(error_code(patch), "BLOB_UPLOAD_UNKNOWN");
  const auto put = http().put(with_digest(foreign, digest), bytes.substr(1000));
  EXPECT_EQ(put.status, 404u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(error_code(put), "BLOB_UPLOAD_UNKNOWN");
  const auto del = http().del(foreign);
  EXPECT_EQ(del.status, 404u) << BERTH_DESCRIBE(del);
  EXPECT_EQ(error_code(del), "BLOB_UPLOAD_UNKNOWN");
  EXPECT_EQ(head_status(other, digest), 404u);

  // The owner's upload is untouched by all that.
  const auto status = http().get(location_target(first));
  ASSERT_EQ(status.status, 204u) << BERTH_DESCRIBE(status);
  EXPECT_EQ(status.header("Range"), "0-999");
  const auto finish = http().put(with_digest(location_target(first), digest), bytes.substr(1000));
  ASSERT_EQ(finish.status, 201u) << BERTH_DESCRIBE(finish);
  EXPECT_EQ(registry().pull_blob(owner, digest), bytes);
  EXPECT_EQ(head_status(other, digest), 404u);
}

TEST_F(BlobUploadTest, InvalidRepositoryNameIsNameInvalid) {
  for (const std::string name : {"UPPER", "a//b", "-lead", "trail-", "a..b", "a/../b"}) {
    SCOPED_TRACE(name);
    const auto r = http().post("/v2/" + name + "/blobs/uploads/", "");
    EXPECT_EQ(r.status, 400u) << BERTH_DESCRIBE(r);
    EXPECT_EQ(error_code(r), "NAME_INVALID") << BERTH_DESCRIBE(r);
  }
}

// ---------------------------------------------------------------- large

TEST_F(BlobUploadTest, SixtyFourMebibyteBlobStreamsUpAndDown) {
  const std::string name = repo();
  constexpr std::size_t kSize = 64u << 20;
  const std::string bytes = random_bytes(kSize);
  const std::string digest = sha256_digest(bytes);

  // Up: one streamed PATCH, chunked transfer encoding, 1 MiB pieces made as they are sent.
  const std::string location = registry().start_upload(name);
  std::size_t sent = 0;
  const auto patch = http().request_stream(
      "PATCH", location, {{"Content-Type", "application/octet-stream"}},
      [&]() -> std::string {
        const std::size_t n = std::min<std::size_t>(1u << 20, kSize - sent);
        std::string piece = bytes.substr(sent, n);
        sent += n;
        return piece;
      },
      std::nullopt, slow_request());
  ASSERT_EQ(patch.status, 202u) << BERTH_DESCRIBE(patch);
  EXPECT_EQ(patch.header("Range"), range(0, kSize - 1));
  const auto put = http().put(with_digest(location_target(patch), digest), "");
  ASSERT_EQ(put.status, 201u) << BERTH_DESCRIBE(put);
  EXPECT_EQ(put.header("Docker-Content-Digest"), digest);

  const auto head = http().head(blob(name, digest));
  ASSERT_EQ(head.status, 200u) << BERTH_DESCRIBE(head);
  EXPECT_EQ(head.header("Content-Length"), std::to_string(kSize));

  // Down: the whole blob, and its digest recomputed here.
  const auto get = http().request("GET", blob(name, digest), {}, {}, slow_request());
  ASSERT_EQ(get.status, 200u) << get.status;
  EXPECT_EQ(get.body.size(), kSize);
  EXPECT_EQ(sha256_digest(get.body), digest);

  // And a monolithic push of the same size with Content-Length.
  const std::string other = random_bytes(kSize);
  const std::string other_digest = sha256_digest(other);
  const auto post =
      http().request("POST", with_digest(uploads(name), other_digest), {}, other, slow_request());
  ASSERT_EQ(post.status, 201u) << BERTH_DESCRIBE(post);
  const auto ranged =
      http().get(blob(name, other_digest), {{"Range", "bytes=" + range(kSize - 1000, kSize - 1)}});
  ASSERT_EQ(ranged.status, 206u) << ranged.status;
  EXPECT_EQ(ranged.body, other.substr(kSize - 1000));
}

}  // namespace
}  // namespace berth::testing
