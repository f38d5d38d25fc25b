// The storage layout's keys, pinned down: changing one is a data migration, so it must show
// up as a failing test and not as blobs that silently vanish after an upgrade.
#include "storage/layout.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace berth::storage::layout {
namespace {

using core::Digest;
using core::DigestAlgorithm;
using core::UploadId;

const std::string kHex256 = "3f4a" + std::string(60, 'e');
const std::string kHex512 = "9c01" + std::string(124, '7');

Digest parse(const std::string& text) { return Digest::parse(text).value(); }

TEST(LayoutTest, Sha256BlobKey) {
  Digest d = parse("sha256:" + kHex256);
  EXPECT_EQ(blob_algorithm_dir(DigestAlgorithm::kSha256), "blobs/sha256");
  EXPECT_EQ(blob_fanout_dir(d), "blobs/sha256/3f");
  EXPECT_EQ(blob_key(d), "blobs/sha256/3f/" + kHex256);
}

TEST(LayoutTest, Sha512BlobKey) {
  Digest d = parse("sha512:" + kHex512);
  EXPECT_EQ(blob_algorithm_dir(DigestAlgorithm::kSha512), "blobs/sha512");
  EXPECT_EQ(blob_fanout_dir(d), "blobs/sha512/9c");
  EXPECT_EQ(blob_key(d), "blobs/sha512/9c/" + kHex512);
}

TEST(LayoutTest, ParseBlobKeyInvertsBlobKey) {
  for (const Digest& d : {parse("sha256:" + kHex256), parse("sha512:" + kHex512), Digest::of("x"),
                          Digest::of("x", DigestAlgorithm::kSha512)}) {
    auto back = parse_blob_key(blob_key(d));
    ASSERT_TRUE(back.has_value()) << blob_key(d);
    EXPECT_EQ(*back, d);
  }
}

TEST(LayoutTest, ParseBlobKeyRejectsWhatBlobKeyCannotMake) {
  const std::string good = "blobs/sha256/3f/" + kHex256;
  ASSERT_TRUE(parse_blob_key(good).has_value());
  for (const std::string& key : {
           std::string(""), std::string("blobs"),
           "blobs/sha256/" + kHex256,                // no fan-out
           "blobs/sha256/ab/" + kHex256,             // wrong fan-out
           "blobs/sha256/3F/" + kHex256,             // uppercase fan-out
           "blobs/sha256/3f/" + kHex256 + "x",       // too long
           "blobs/sha256/3f/" + kHex256.substr(1),   // too short
           "blobs/md5/3f/" + kHex256,                // unknown algorithm
           "blobs/sha512/3f/" + kHex256,             // wrong length for the algorithm
           "uploads/sha256/3f/" + kHex256,           // not under blobs
           "blobs/sha256/3f/" + kHex256 + "/extra",  // extra component
           "/blobs/sha256/3f/" + kHex256,            // absolute
           "blobs//sha256/3f/" + kHex256,            // empty component
           "blobs/sha256/3f/../3f/" + kHex256,       // traversal
       }) {
    EXPECT_FALSE(parse_blob_key(key).has_value()) << key;
  }
}

TEST(LayoutTest, UploadKeys) {
  UploadId id = UploadId::parse(std::string(32, 'a')).value();
  EXPECT_EQ(upload_key(id), "uploads/" + std::string(32, 'a'));
  auto back = parse_upload_name(id.str());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, id);
  EXPECT_FALSE(parse_upload_name("").has_value());
  EXPECT_FALSE(parse_upload_name("..").has_value());
  EXPECT_FALSE(parse_upload_name(std::string(32, 'A')).has_value());
  EXPECT_FALSE(parse_upload_name(std::string(31, 'a')).has_value());
}

TEST(LayoutTest, TmpKeysAreFreshAndUnderTmp) {
  std::set<std::string> keys;
  for (int i = 0; i < 100; ++i) {
    std::string key = new_tmp_key();
    EXPECT_EQ(key.rfind("tmp/put-", 0), 0u) << key;
    EXPECT_EQ(key.size(), std::string("tmp/put-").size() + UploadId::kLength) << key;
    EXPECT_EQ(key.find('/', 4), std::string::npos) << "tmp files sit directly in tmp/: " << key;
    keys.insert(key);
  }
  EXPECT_EQ(keys.size(), 100u);
}

TEST(LayoutTest, TopLevelDirectoriesAreDistinct) {
  std::set<std::string_view> dirs{kBlobsDir, kUploadsDir, kTmpDir};
  EXPECT_EQ(dirs.size(), 3u);
  EXPECT_EQ(kBlobsDir, "blobs");
  EXPECT_EQ(kUploadsDir, "uploads");
  EXPECT_EQ(kTmpDir, "tmp");
}

TEST(LayoutTest, ObjectStoreUploadKeys) {
  const UploadId id = UploadId::parse(std::string(32, 'a')).value();
  const std::string base = "uploads/" + std::string(32, 'a') + "/";
  EXPECT_EQ(upload_object_prefix(id), base);
  EXPECT_EQ(upload_marker_key(id), base + "started");
  EXPECT_EQ(upload_piece_key(id, 0), base + "piece-00000");
  EXPECT_EQ(upload_piece_key(id, 9999), base + "piece-09999");

  auto marker = parse_upload_object_key(upload_marker_key(id));
  ASSERT_TRUE(marker.has_value());
  EXPECT_EQ(marker->id, id);
  EXPECT_FALSE(marker->piece.has_value());
  auto piece = parse_upload_object_key(upload_piece_key(id, 42));
  ASSERT_TRUE(piece.has_value());
  EXPECT_EQ(piece->piece, 42u);
  for (const std::string& stray :
       {base + "piece-1", base + "piece-0000x", base + "other", std::string("uploads/zz/started"),
        std::string("blobs/") + std::string(32, 'a') + "/started",
        base.substr(0, base.size() - 1)}) {
    EXPECT_FALSE(parse_upload_object_key(stray).has_value()) << stray;
  }
}

}  // namespace
}  // namespace berth::storage::layout
