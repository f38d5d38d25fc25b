// A blob above 5 GiB (S3's largest single PUT and largest part) pushed through berth serve onto
// a real radosgw in chunked PATCHes and read back in ranges, hashed with OpenSSL on both sides:
// the blob is assembled from many pieces of the growing part plan, none held whole in memory.
// On demand, not in CI (it needs ~2 × the blob in radosgw's memory and takes minutes):
//   scripts/big_blob.sh [BUILD_DIR] [BYTES]
// which starts a radosgw large enough and runs this binary (BERTH_BIG_BLOB_BYTES sets the size,
// 5.5 GiB by default).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iomanip>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "berth_process.hpp"
#include "registry_client.hpp"
#include "testing/radosgw.hpp"

namespace berth::testing {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

// SHA-256 with OpenSSL: the oracle is not Berth's own hasher.
class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
    EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr);
  }
  void update(std::string_view bytes) {
    EVP_DigestUpdate(context_.get(), bytes.data(), bytes.size());
  }
  std::string digest() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(context_.get(), out, &length);
    std::ostringstream hex;
    for (unsigned int i = 0; i < length; ++i) {
      hex << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(out[i]);
    }
    return "sha256:" + hex.str();
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context_;
};

// The blob's bytes from `offset`: a pattern that differs in every 8-byte word.
std::string bytes_at(std::uint64_t offset, std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    const std::uint64_t at = offset + i;
    out[i] = static_cast<char>(((at / 8) * 2654435761u >> (8 * (at % 4))) ^ at);
  }
  return out;
}

std::uint64_t blob_size() {
  const char* text = std::getenv("BERTH_BIG_BLOB_BYTES");
  return text != nullptr ? std::stoull(text) : 5 * 1024 * kMiB + 512 * kMiB + 7;
}

TEST(S3BigBlob, ABlobAboveFiveGiBGoesUpInChunksAndComesBackByteForByte) {
  Radosgw radosgw;
  ASSERT_TRUE(radosgw.error().empty()) << radosgw.error();
  if (!radosgw.skip_reason().empty()) {
    GTEST_SKIP() << radosgw.skip_reason();
  }
  BerthOptions options;
  options.env = {{"BERTH_STORAGE_DRIVER", "s3"},
                 {"BERTH_STORAGE_S3_ENDPOINT", radosgw.endpoint()},
                 {"BERTH_STORAGE_S3_BUCKET", "berth-big-" + std::to_string(::getpid())},
                 {"BERTH_STORAGE_S3_PATH_STYLE", "true"},
                 {"AWS_ACCESS_KEY_ID", Radosgw::kAccessKey},
                 {"AWS_SECRET_ACCESS_KEY", Radosgw::kSecretKey}};
  BerthProcess server(options);
  HttpClient http("127.0.0.1", server.port());
  http.set_timeout(std::chrono::minutes(10));
  const std::uint64_t size = blob_size();
  constexpr std::uint64_t kChunk = 256 * kMiB;
  constexpr std::size_t kPiece = 4 * kMiB;

  auto started = http.post("/v2/big/blob/blobs/uploads/", "");
  ASSERT_EQ(started.status, 202u) << describe(started);
  std::string location = started.header("Location");
  Sha256 sent;
  for (std::uint64_t offset = 0; offset < size; offset += kChunk) {
    const std::uint64_t length = std::min(kChunk, size - offset);
    std::uint64_t produced = 0;
    auto patched = http.request_stream(
        "PATCH", location,
        {{"Content-Type", "application/octet-stream"},
         {"Content-Range", std::to_string(offset) + "-" + std::to_string(offset + length - 1)}},
        [&]() -> std::string {
          if (produced == length) {
            return {};
          }
          const auto piece =
              static_cast<std::size_t>(std::min<std::uint64_t>(kPiece, length - produced));
          std::string bytes = bytes_at(offset + produced, piece);
          produced += piece;
          sent.update(bytes);
          return bytes;
        },
        length);
    ASSERT_EQ(patched.status, 202u) << "at " << offset << ": " << describe(patched);
    location = patched.header("Location");
  }
  const std::string digest = sent.digest();
  auto put = http.put(
      location + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + digest, "");
  ASSERT_EQ(put.status, 201u) << describe(put);

  auto head = http.head("/v2/big/blob/blobs/" + digest);
  ASSERT_EQ(head.status, 200u) << describe(head);
  EXPECT_EQ(head.header("Content-Length"), std::to_string(size));
  Sha256 received;
  std::uint64_t mismatches = 0;
  for (std::uint64_t offset = 0; offset < size; offset += kChunk) {
    const std::uint64_t last = std::min(size, offset + kChunk) - 1;
    auto range =
        http.get("/v2/big/blob/blobs/" + digest,
                 {{"Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(last)}});
    ASSERT_EQ(range.status, 206u) << describe(range);
    ASSERT_EQ(range.body.size(), last - offset + 1);
    received.update(range.body);
    mismatches += range.body != bytes_at(offset, range.body.size());
  }
  EXPECT_EQ(received.digest(), digest);
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(server.stop(), 0) << server.log();
}

}  // namespace
}  // namespace berth::testing
