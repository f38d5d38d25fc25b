// The S3 driver on a real S3 server: Ceph's radosgw, started once for this whole binary by
// scripts/radosgw.sh (it takes ~15 s) on 127.0.0.1 and stopped at the end. Every test gets a
// bucket of its own. BERTH_TEST_S3_ENDPOINT=http://host:port (with the fixture's keys) uses a
// server that is already running instead. This binary is one ctest test (not one per case), so
// that the server starts once.
//
// Without radosgw installed the tests are skipped, except under CI=true, where that fails.
#include "storage/s3_blob_store.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "http/blocking_client.hpp"
#include "storage/blob_store_contract.hpp"
#include "storage/layout.hpp"
#include "storage/s3_client.hpp"
#include "testing/radosgw.hpp"

namespace berth::storage {
namespace {

constexpr const char* kAccessKey = testing::Radosgw::kAccessKey;
constexpr const char* kSecretKey = testing::Radosgw::kSecretKey;

// The one radosgw of this binary.
class RadosgwEnvironment : public ::testing::Environment {
 public:
  static std::unique_ptr<testing::Radosgw> server;

  void SetUp() override {
    server = std::make_unique<testing::Radosgw>();
    ASSERT_TRUE(server->error().empty()) << server->error();
    if (!server->skip_reason().empty()) {
      GTEST_SKIP() << server->skip_reason();
    }
  }
  void TearDown() override { server.reset(); }
};

std::unique_ptr<testing::Radosgw> RadosgwEnvironment::server;

const auto* const kRadosgw = ::testing::AddGlobalTestEnvironment(new RadosgwEnvironment);

struct Radosgw {
  static std::string endpoint() { return RadosgwEnvironment::server->endpoint(); }
  static std::string skip_reason() { return RadosgwEnvironment::server->skip_reason(); }
};

std::string fresh_bucket() {
  static std::atomic<int> counter{0};
  return "berth-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

S3StoreOptions store_options(std::string bucket) {
  S3StoreOptions options;
  options.client.endpoint = Radosgw::endpoint();
  options.client.region = "us-east-1";
  options.client.bucket = std::move(bucket);
  options.client.credentials = {kAccessKey, kSecretKey, ""};
  options.client.path_style = true;
  return options;
}

struct S3Driver {
  Result<std::unique_ptr<BlobStore>> open() {
    if (!Radosgw::skip_reason().empty()) {
      return core::fail(core::ErrorCode::kUnavailable, Radosgw::skip_reason());
    }
    return open_s3_blob_store(store_options(fresh_bucket()));
  }
  core::TimePoint now() const { return std::chrono::system_clock::now(); }
};

class S3Names {
 public:
  template <class T>
  static std::string GetName(int) {
    return "S3";
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Radosgw, BlobStoreContractTest, ::testing::Types<S3Driver>, S3Names);

// ---- What only the S3 driver has

class S3StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Radosgw::skip_reason().empty()) {
      GTEST_SKIP() << Radosgw::skip_reason();
    }
    options_ = store_options(fresh_bucket());
    options_.prefix = "team/registry";
    options_.redirect = true;
    auto store = open_s3_blob_store(options_);
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = *std::move(store);
    auto client = s3::Client::create(options_.client);
    ASSERT_TRUE(client.has_value()) << client.error().message;
    client_ = *std::move(client);
  }

  S3StoreOptions options_;
  std::unique_ptr<BlobStore> store_;
  std::unique_ptr<s3::Client> client_;
};

TEST_F(S3StoreTest, KeysLiveUnderThePrefix) {
  const auto d = core::Digest::of("under the prefix");
  ASSERT_TRUE(store_->put(d, "under the prefix").has_value());
  auto info = client_->head("team/registry/" + layout::blob_key(d));
  ASSERT_TRUE(info.has_value()) << info.error().message;
  ASSERT_TRUE(info->has_value());
  EXPECT_EQ((*info)->size, 16u);
  // A stray object beside the prefix is no blob of ours.
  ASSERT_TRUE(client_->put(layout::blob_key(core::Digest::of("elsewhere")), {}).has_value());
  int blobs = 0;
  ASSERT_TRUE(store_->for_each_blob([&](const core::Digest&, std::uint64_t) { ++blobs; }));
  EXPECT_EQ(blobs, 1);
}

TEST_F(S3StoreTest, ListingsFollowContinuationTokens) {
  auto options = store_options(fresh_bucket());
  options.client.list_page_size = 2;
  auto store = open_s3_blob_store(options);
  ASSERT_TRUE(store.has_value()) << store.error().message;
  std::set<core::Digest> stored;
  for (int i = 0; i < 5; ++i) {
    const std::string content = "page " + std::to_string(i);
    stored.insert(core::Digest::of(content));
    ASSERT_TRUE((*store)->put(core::Digest::of(content), content).has_value());
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*store)->create_upload(core::UploadId::generate()).has_value());
  }
  std::set<core::Digest> seen;
  ASSERT_TRUE((*store)->for_each_blob([&](const core::Digest& d, std::uint64_t) {
    EXPECT_TRUE(seen.insert(d).second) << "listed twice";
  }));
  EXPECT_EQ(seen, stored) << "five blobs over three pages";
  auto listed = (*store)->list_uploads();
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->size(), 3u);
}

TEST_F(S3StoreTest, PresignedUrlServesTheBlobWithoutCredentials) {
  const std::string content = "fetched straight from S3";
  const auto d = core::Digest::of(content);
  ASSERT_TRUE(store_->put(d, content).has_value());
  auto url = store_->presigned_url(d);
  ASSERT_TRUE(url.has_value());
  const std::string prefix = Radosgw::endpoint() + "/";
  ASSERT_TRUE(url->starts_with(prefix)) << *url;
  const std::string base = Radosgw::endpoint();
  auto endpoint = std::string_view(base).substr(7);  // "127.0.0.1:port"
  const auto colon = endpoint.rfind(':');
  auto http = http::BlockingClient::create(
      {false, std::string(endpoint.substr(0, colon)), std::string(endpoint.substr(colon + 1))}, {});
  ASSERT_TRUE(http.has_value());
  http::ClientRequest request;
  request.target = url->substr(prefix.size() - 1);
  auto response = (*http)->send(request);
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->status(), 200u);
  EXPECT_EQ(response->read_all(1024).value_or(""), content);

  // Tampering with the signed URL is refused.
  request.target.back() = request.target.back() == '0' ? '1' : '0';
  auto tampered = (*http)->send(request);
  ASSERT_TRUE(tampered.has_value());
  EXPECT_EQ(tampered->status(), 403u);
}

TEST_F(S3StoreTest, UnknownMultipartUploadFailsAndAbortsQuietly) {
  // radosgw 16 answers CompleteMultipartUpload of an unknown upload id with 500 InternalError
  // ("This multipart completion is already in progress"), which is retried, where AWS says
  // NoSuchUpload; either way it is a failure, and aborting it is no error.
  s3::ClientOptions quick = options_.client;
  quick.backoff = std::chrono::milliseconds(1);
  auto client = s3::Client::create(quick);
  ASSERT_TRUE(client.has_value());
  auto completed =
      (*client)->complete_multipart("team/registry/blobs/x", "2~nosuchupload", {{1, "\"etag\""}});
  ASSERT_FALSE(completed.has_value());
  EXPECT_TRUE(completed.error().code == core::ErrorCode::kBlobUploadUnknown ||
              completed.error().code == core::ErrorCode::kUnavailable)
      << completed.error().message;
  EXPECT_TRUE((*client)->abort_multipart("team/registry/blobs/x", "2~nosuchupload").has_value());
}

TEST_F(S3StoreTest, CompletedMultipartWithEmptyEtagIsPublished) {
  // radosgw's CompleteMultipartUpload answer has an empty <ETag>: the publication must not
  // depend on it. Two pieces make publish_upload use a multipart upload.
  const std::string content(9 * 1024 * 1024, 'z');
  const auto d = core::Digest::of(content);
  const auto id = core::UploadId::generate();
  ASSERT_TRUE(store_->create_upload(id).has_value());
  {
    auto writer = store_->append_upload(id);
    ASSERT_TRUE(writer.has_value());
    ASSERT_TRUE((*writer)->append(std::as_bytes(std::span(content))).has_value());
    ASSERT_TRUE((*writer)->flush().has_value());
  }
  auto published = store_->publish_upload(id, d);
  ASSERT_TRUE(published.has_value()) << published.error().message;
  auto size = store_->stat(d);
  ASSERT_TRUE(size.has_value());
  EXPECT_EQ(*size, content.size());
  std::vector<s3::MultipartInfo> left;
  ASSERT_TRUE(client_->list_multipart(
      "team/registry/", [&](const s3::MultipartInfo& info) { left.push_back(info); }));
  EXPECT_TRUE(left.empty()) << "the multipart upload was completed, not left behind";
}

TEST_F(S3StoreTest, WrongSecretIsAClearError) {
  auto options = store_options(fresh_bucket());
  options.client.credentials.secret_key = "not-the-secret";
  auto store = open_s3_blob_store(options);
  ASSERT_FALSE(store.has_value());
  EXPECT_NE(store.error().message.find("403"), std::string::npos) << store.error().message;
  EXPECT_EQ(store.error().message.find("not-the-secret"), std::string::npos)
      << "the secret stays out of messages";
}

TEST_F(S3StoreTest, MissingBucketIsAnErrorWhenNotAllowedToCreate) {
  auto options = store_options(fresh_bucket());
  options.create_bucket = false;
  auto store = open_s3_blob_store(options);
  ASSERT_FALSE(store.has_value());
  EXPECT_NE(store.error().message.find("does not exist"), std::string::npos)
      << store.error().message;
}

}  // namespace
}  // namespace berth::storage
