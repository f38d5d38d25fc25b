// FaultyBlobStore fails exactly the calls it was told to, publishes nothing when it does, and
// is otherwise invisible (the contract suite also runs against it unarmed).
#include "testing/faulty_blob_store.hpp"

#include <gtest/gtest.h>

#include <string>

#include "testing/fake_clock.hpp"
#include "testing/memory_blob_store.hpp"

namespace berth::testing {
namespace {

using core::Digest;
using core::ErrorCode;
using core::UploadId;
using Op = FaultyBlobStore::Op;

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s)); }

class FaultyBlobStoreTest : public ::testing::Test {
 protected:
  bool present(const Digest& d) {
    auto st = store_.inner().stat(d);
    return st.has_value() && st->has_value();
  }

  FakeClock clock_;
  FaultyBlobStore store_{make_memory_blob_store(clock_)};
};

TEST_F(FaultyBlobStoreTest, FailsTheNthPutOnly) {
  store_.fail_nth(Op::kPut, 2);
  Digest a = Digest::of("a");
  Digest b = Digest::of("b");
  Digest c = Digest::of("c");
  EXPECT_TRUE(store_.put(a, "a").has_value());
  auto failed = store_.put(b, "b");
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(failed.error().message.find("disk full"), std::string::npos);
  EXPECT_TRUE(store_.put(c, "c").has_value());
  EXPECT_TRUE(present(a));
  EXPECT_FALSE(present(b)) << "a failed put published its blob";
  EXPECT_TRUE(present(c));
  EXPECT_EQ(store_.failures(Op::kPut), 1);
  EXPECT_EQ(store_.failures(Op::kCommit), 0);
}

TEST_F(FaultyBlobStoreTest, FailedCommitPublishesNothingAndKeepsTheUpload) {
  UploadId id = UploadId::generate();
  ASSERT_TRUE(store_.create_upload(id).has_value());
  ASSERT_TRUE(store_.append_upload(id).value()->append(bytes_of("layer")).has_value());
  Digest d = Digest::of("layer");

  store_.fail_nth(Op::kCommit, 1);
  auto failed = store_.commit_upload(id, d);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(present(d));
  EXPECT_EQ(store_.read_upload(id).value()->size(), 5u);

  EXPECT_TRUE(store_.commit_upload(id, d).has_value()) << "the retry succeeds";
  EXPECT_TRUE(present(d));
}

TEST_F(FaultyBlobStoreTest, FailFromKeepsFailingUntilCleared) {
  store_.fail_from(Op::kPut, 1);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(store_.put(Digest::of("x"), "x").has_value()) << i;
  }
  store_.clear();
  EXPECT_TRUE(store_.put(Digest::of("x"), "x").has_value());
  EXPECT_EQ(store_.failures(Op::kPut), 3);
}

TEST_F(FaultyBlobStoreTest, FailedAppendWritesNothingByDefault) {
  UploadId id = UploadId::generate();
  ASSERT_TRUE(store_.create_upload(id).has_value());
  auto writer = store_.append_upload(id);
  ASSERT_TRUE(writer.has_value());
  store_.fail_nth(Op::kAppend, 2);
  ASSERT_TRUE((*writer)->append(bytes_of("1234")).has_value());
  auto failed = (*writer)->append(bytes_of("5678"));
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ((*writer)->size(), 4u);
  ASSERT_TRUE((*writer)->append(bytes_of("90")).has_value());
  EXPECT_EQ((*writer)->size(), 6u);
}

TEST_F(FaultyBlobStoreTest, FailedAppendCanWriteHalf) {
  UploadId id = UploadId::generate();
  ASSERT_TRUE(store_.create_upload(id).has_value());
  store_.set_append_writes_half(true);
  store_.fail_nth(Op::kAppend, 1);
  auto writer = store_.append_upload(id);
  ASSERT_TRUE(writer.has_value());
  EXPECT_FALSE((*writer)->append(bytes_of("12345678")).has_value());
  EXPECT_EQ((*writer)->size(), 4u) << "a disk filling up mid-write keeps what fit";
  EXPECT_EQ(store_.failures(Op::kAppend), 1);
}

TEST_F(FaultyBlobStoreTest, UnarmedPassesEverythingThrough) {
  Digest d = Digest::of("through");
  ASSERT_TRUE(store_.put(d, "through").has_value());
  EXPECT_EQ(store_.stat(d).value(), 7u);
  int blobs = 0;
  ASSERT_TRUE(store_.for_each_blob([&](const Digest&, std::uint64_t) { ++blobs; }).has_value());
  EXPECT_EQ(blobs, 1);
  ASSERT_TRUE(store_.remove(d).has_value());
  EXPECT_FALSE(present(d));
  EXPECT_EQ(store_.failures(Op::kPut), 0);
}

TEST_F(FaultyBlobStoreTest, FreeBytesAnswersWhatItIsTold) {
  auto unknown = store_.free_bytes();
  ASSERT_TRUE(unknown.has_value());
  EXPECT_FALSE(unknown->has_value()) << "the memory store cannot tell";
  store_.set_free_bytes(1234);
  EXPECT_EQ(store_.free_bytes().value(), 1234u);
  store_.set_free_bytes(std::nullopt);
  EXPECT_FALSE(store_.free_bytes().value().has_value());
}

}  // namespace
}  // namespace berth::testing
