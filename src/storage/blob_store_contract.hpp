// The BlobStore contract suite (blob_store.hpp): one typed suite that every driver passes, as
// Distribution runs one testsuite against all its storage drivers. A driver joins by
// instantiating it with a Driver type that has
//   Result<std::unique_ptr<BlobStore>> open();   // a fresh, empty store
//   core::TimePoint now() const;                 // the time the driver stamps blobs with
// blob_store_contract_test.cpp instantiates it for the filesystem and memory drivers,
// s3_blob_store_test.cpp for S3 on a real radosgw.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <latch>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/blob_store.hpp"

namespace berth::storage {
namespace {

using core::Digest;
using core::ErrorCode;
using core::UploadId;

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s)); }

std::string read_all(BlobReader& reader) {
  std::string out(reader.size(), '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    auto n = reader.read_at(done, std::as_writable_bytes(std::span(out).subspan(done)));
    if (!n || *n == 0) {
      break;
    }
    done += *n;
  }
  out.resize(done);
  return out;
}

std::string pseudo_random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (char& c : out) {
    c = static_cast<char>(rng());
  }
  return out;
}

template <class T>
class BlobStoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = driver_.open();
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = *std::move(store);
  }

  BlobStore& store() { return *store_; }

  // Reads a blob whole through open(), or "<error>" so a failure shows in the comparison.
  std::string blob_bytes(const Digest& digest) {
    auto reader = store_->open(digest);
    if (!reader) {
      return "<error: " + reader.error().message + ">";
    }
    return read_all(**reader);
  }

  std::string upload_bytes(const UploadId& id) {
    auto reader = store_->read_upload(id);
    if (!reader) {
      return "<error: " + reader.error().message + ">";
    }
    return read_all(**reader);
  }

  void append(const UploadId& id, std::string_view bytes) {
    auto writer = store_->append_upload(id);
    ASSERT_TRUE(writer.has_value()) << writer.error().message;
    auto appended = (*writer)->append(bytes_of(bytes));
    ASSERT_TRUE(appended.has_value()) << appended.error().message;
  }

  std::map<Digest, std::uint64_t> all_blobs() {
    std::map<Digest, std::uint64_t> seen;
    auto walked = store_->for_each_blob([&](const Digest& d, std::uint64_t size) {
      EXPECT_TRUE(seen.emplace(d, size).second) << "listed twice: " << d.str();
    });
    EXPECT_TRUE(walked.has_value()) << walked.error().message;
    return seen;
  }

  T driver_;
  std::unique_ptr<BlobStore> store_;
};

TYPED_TEST_SUITE_P(BlobStoreContractTest);

TYPED_TEST_P(BlobStoreContractTest, StatAndOpenOfAbsentBlob) {
  Digest d = Digest::of("never stored");
  auto st = this->store().stat(d);
  ASSERT_TRUE(st.has_value()) << st.error().message;
  EXPECT_FALSE(st->has_value());
  auto reader = this->store().open(d);
  ASSERT_FALSE(reader.has_value());
  EXPECT_EQ(reader.error().code, ErrorCode::kBlobUnknown);
}

TYPED_TEST_P(BlobStoreContractTest, PutThenStatAndReadAtOffsets) {
  const std::string content = "hello, content-addressed world";
  Digest d = Digest::of(content);
  ASSERT_TRUE(this->store().put(d, content).has_value());

  auto st = this->store().stat(d);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, content.size());

  auto reader = this->store().open(d);
  ASSERT_TRUE(reader.has_value()) << reader.error().message;
  BlobReader& r = **reader;
  EXPECT_EQ(r.size(), content.size());

  std::string buf(5, '\0');
  auto n = r.read_at(0, std::as_writable_bytes(std::span(buf)));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(buf, "hello");

  // A read in the middle, out of order.
  n = r.read_at(7, std::as_writable_bytes(std::span(buf)));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(buf.substr(0, *n), "conte");

  // A read that runs past the end is short, not an error.
  std::string big(100, 'x');
  n = r.read_at(content.size() - 6, std::as_writable_bytes(std::span(big)));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 6u);
  EXPECT_EQ(big.substr(0, 6), " world");
  EXPECT_EQ(big[6], 'x') << "wrote past what it reported";

  // At and past the end: 0.
  n = r.read_at(content.size(), std::as_writable_bytes(std::span(big)));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 0u);
  n = r.read_at(content.size() + 1000, std::as_writable_bytes(std::span(big)));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 0u);

  // An empty buffer reads nothing.
  n = r.read_at(0, std::span<std::byte>());
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 0u);

  EXPECT_EQ(this->blob_bytes(d), content);
}

TYPED_TEST_P(BlobStoreContractTest, EmptyBlob) {
  Digest d = Digest::of("");
  ASSERT_TRUE(this->store().put(d, "").has_value());
  auto st = this->store().stat(d);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 0u);
  auto reader = this->store().open(d);
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ((*reader)->size(), 0u);
  std::string buf(4, '\0');
  auto n = (*reader)->read_at(0, std::as_writable_bytes(std::span(buf)));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 0u);
}

TYPED_TEST_P(BlobStoreContractTest, PutIsIdempotent) {
  const std::string content = "manifest bytes";
  Digest d = Digest::of(content);
  ASSERT_TRUE(this->store().put(d, content).has_value());
  ASSERT_TRUE(this->store().put(d, content).has_value());
  EXPECT_EQ(this->blob_bytes(d), content);
  EXPECT_EQ(this->all_blobs().size(), 1u);
}

TYPED_TEST_P(BlobStoreContractTest, Sha512Blob) {
  const std::string content = "bytes named by sha512";
  Digest d = Digest::of(content, core::DigestAlgorithm::kSha512);
  ASSERT_TRUE(this->store().put(d, content).has_value());
  EXPECT_EQ(this->blob_bytes(d), content);
  // The same bytes under sha256 are a different blob.
  auto other = this->store().stat(Digest::of(content));
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(other->has_value());
}

TYPED_TEST_P(BlobStoreContractTest, RemoveIsIdempotent) {
  Digest d = Digest::of("to be removed");
  EXPECT_TRUE(this->store().remove(d).has_value()) << "removing an absent blob must succeed";
  ASSERT_TRUE(this->store().put(d, "to be removed").has_value());
  ASSERT_TRUE(this->store().remove(d).has_value());
  auto st = this->store().stat(d);
  ASSERT_TRUE(st.has_value());
  EXPECT_FALSE(st->has_value());
  EXPECT_EQ(this->store().open(d).error().code, ErrorCode::kBlobUnknown);
  EXPECT_TRUE(this->store().remove(d).has_value());
}

TYPED_TEST_P(BlobStoreContractTest, UploadAppendReadCommit) {
  UploadId id = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  EXPECT_EQ(this->upload_bytes(id), "");
  {
    auto writer = this->store().append_upload(id);
    ASSERT_TRUE(writer.has_value()) << writer.error().message;
    UploadWriter& w = **writer;
    EXPECT_EQ(w.size(), 0u);
    ASSERT_TRUE(w.append(bytes_of("abc")).has_value());
    ASSERT_TRUE(w.append(bytes_of("")).has_value());
    EXPECT_EQ(w.size(), 3u);
    ASSERT_TRUE(w.append(bytes_of("def")).has_value());
    EXPECT_EQ(w.size(), 6u);
  }
  // A second writer (the next PATCH) starts at the end.
  {
    auto writer = this->store().append_upload(id);
    ASSERT_TRUE(writer.has_value());
    EXPECT_EQ((*writer)->size(), 6u);
    ASSERT_TRUE((*writer)->append(bytes_of("g")).has_value());
    EXPECT_EQ((*writer)->size(), 7u);
  }
  EXPECT_EQ(this->upload_bytes(id), "abcdefg");
  auto reader = this->store().read_upload(id);
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ((*reader)->size(), 7u);
  reader->reset();

  Digest d = Digest::of("abcdefg");
  auto before = this->store().stat(d);
  ASSERT_TRUE(before.has_value());
  EXPECT_FALSE(before->has_value()) << "visible before commit";

  auto committed = this->store().commit_upload(id, d);
  ASSERT_TRUE(committed.has_value()) << committed.error().message;
  EXPECT_EQ(this->blob_bytes(d), "abcdefg");

  // The upload is gone.
  EXPECT_EQ(this->store().read_upload(id).error().code, ErrorCode::kBlobUploadUnknown);
  EXPECT_EQ(this->store().append_upload(id).error().code, ErrorCode::kBlobUploadUnknown);
  auto uploads = this->store().list_uploads();
  ASSERT_TRUE(uploads.has_value());
  EXPECT_TRUE(uploads->empty());
}

// A request whose write failed gives back what it wrote: the upload is cut back to what the
// client was told, and takes appends from there.
TYPED_TEST_P(BlobStoreContractTest, TruncateCutsAnUploadBackAndAppendsGoOnFromThere) {
  UploadId id = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  this->append(id, "acknowledged");
  {
    auto writer = this->store().append_upload(id);
    ASSERT_TRUE(writer.has_value());
    ASSERT_TRUE((*writer)->append(bytes_of(std::string(5000, 'x'))).has_value());
    ASSERT_TRUE((*writer)->truncate(12).has_value());
    EXPECT_EQ((*writer)->size(), 12u);
    EXPECT_EQ(this->upload_bytes(id), "acknowledged");
    ASSERT_TRUE((*writer)->append(bytes_of(" then more")).has_value());
    EXPECT_EQ((*writer)->size(), 22u);
    ASSERT_TRUE((*writer)->truncate(100).has_value()) << "never longer";
    EXPECT_EQ((*writer)->size(), 22u);
  }
  EXPECT_EQ(this->upload_bytes(id), "acknowledged then more");
  auto writer = this->store().append_upload(id);
  ASSERT_TRUE(writer.has_value());
  ASSERT_TRUE((*writer)->truncate(0).has_value());
  EXPECT_EQ(this->upload_bytes(id), "");
}

TYPED_TEST_P(BlobStoreContractTest, EmptyUploadCommits) {
  UploadId id = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  Digest d = Digest::of("");
  ASSERT_TRUE(this->store().commit_upload(id, d).has_value());
  auto st = this->store().stat(d);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 0u);
}

TYPED_TEST_P(BlobStoreContractTest, CommitOfExistingDigestKeepsBlobAndDropsUpload) {
  const std::string content = "layer";
  Digest d = Digest::of(content);
  ASSERT_TRUE(this->store().put(d, content).has_value());
  // Keep a reader open across the second commit: it must go on reading the same bytes.
  auto reader = this->store().open(d);
  ASSERT_TRUE(reader.has_value());

  UploadId id = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  this->append(id, content);
  auto committed = this->store().commit_upload(id, d);
  ASSERT_TRUE(committed.has_value()) << committed.error().message;

  EXPECT_EQ(this->blob_bytes(d), content);
  EXPECT_EQ(read_all(**reader), content);
  EXPECT_EQ(this->store().read_upload(id).error().code, ErrorCode::kBlobUploadUnknown);
  EXPECT_EQ(this->all_blobs().size(), 1u);
}

TYPED_TEST_P(BlobStoreContractTest, CommitOfUnknownUploadFails) {
  Digest d = Digest::of("nothing");
  auto committed = this->store().commit_upload(UploadId::generate(), d);
  ASSERT_FALSE(committed.has_value());
  EXPECT_EQ(committed.error().code, ErrorCode::kBlobUploadUnknown);
  auto st = this->store().stat(d);
  ASSERT_TRUE(st.has_value());
  EXPECT_FALSE(st->has_value());
}

TYPED_TEST_P(BlobStoreContractTest, DeleteUploadIsIdempotent) {
  UploadId id = UploadId::generate();
  EXPECT_TRUE(this->store().delete_upload(id).has_value()) << "deleting an absent upload";
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  this->append(id, "partial");
  ASSERT_TRUE(this->store().delete_upload(id).has_value());
  EXPECT_EQ(this->store().read_upload(id).error().code, ErrorCode::kBlobUploadUnknown);
  EXPECT_EQ(this->store().commit_upload(id, Digest::of("partial")).error().code,
            ErrorCode::kBlobUploadUnknown);
  EXPECT_TRUE(this->store().delete_upload(id).has_value());
  auto uploads = this->store().list_uploads();
  ASSERT_TRUE(uploads.has_value());
  EXPECT_TRUE(uploads->empty());
  EXPECT_TRUE(this->all_blobs().empty());
}

TYPED_TEST_P(BlobStoreContractTest, CreateUploadTwiceFailsAndKeepsTheFirst) {
  UploadId id = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  this->append(id, "first");
  auto again = this->store().create_upload(id);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kInternal);
  EXPECT_EQ(this->upload_bytes(id), "first");
}

TYPED_TEST_P(BlobStoreContractTest, UnknownUploadIsBlobUploadUnknown) {
  UploadId id = UploadId::generate();
  auto writer = this->store().append_upload(id);
  ASSERT_FALSE(writer.has_value());
  EXPECT_EQ(writer.error().code, ErrorCode::kBlobUploadUnknown);
  auto reader = this->store().read_upload(id);
  ASSERT_FALSE(reader.has_value());
  EXPECT_EQ(reader.error().code, ErrorCode::kBlobUploadUnknown);
}

TYPED_TEST_P(BlobStoreContractTest, ListUploads) {
  auto empty = this->store().list_uploads();
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());

  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    UploadId id = UploadId::generate();
    ASSERT_TRUE(this->store().create_upload(id).has_value());
    ids.push_back(id.str());
  }
  auto uploads = this->store().list_uploads();
  ASSERT_TRUE(uploads.has_value());
  std::vector<std::string> listed;
  for (const UploadEntry& entry : *uploads) {
    listed.push_back(entry.id.str());
  }
  std::sort(ids.begin(), ids.end());
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, ids);
}

TYPED_TEST_P(BlobStoreContractTest, AppendDoesNotMoveModifiedTimeBackwards) {
  UploadId id = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  auto first = this->store().list_uploads();
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->size(), 1u);
  this->append(id, "more");
  auto second = this->store().list_uploads();
  ASSERT_TRUE(second.has_value());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_GE(second->front().modified, first->front().modified);
  EXPECT_GT(core::to_unix_ms(second->front().modified), 0) << "not a real time";
}

TYPED_TEST_P(BlobStoreContractTest, ForEachBlobListsEveryBlobOnce) {
  EXPECT_TRUE(this->all_blobs().empty());
  std::map<Digest, std::uint64_t> expected;
  for (std::string content : {"one", "two two", "three three three"}) {
    Digest d = Digest::of(content);
    ASSERT_TRUE(this->store().put(d, content).has_value());
    expected[d] = content.size();
  }
  Digest d512 = Digest::of("sha512 too", core::DigestAlgorithm::kSha512);
  ASSERT_TRUE(this->store().put(d512, "sha512 too").has_value());
  expected[d512] = 10;
  // Committed uploads are blobs too; uploads in progress are not.
  UploadId committed = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(committed).has_value());
  this->append(committed, "from an upload");
  Digest from_upload = Digest::of("from an upload");
  ASSERT_TRUE(this->store().commit_upload(committed, from_upload).has_value());
  expected[from_upload] = 14;
  UploadId pending = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(pending).has_value());
  this->append(pending, "pending");

  EXPECT_EQ(this->all_blobs(), expected);

  ASSERT_TRUE(this->store().remove(d512).has_value());
  expected.erase(d512);
  EXPECT_EQ(this->all_blobs(), expected);
}

TYPED_TEST_P(BlobStoreContractTest, ForEachBlobMayRemoveAsItWalks) {
  // GC removes from inside the callback; that must not deadlock or skip the walk's own state.
  for (std::string content : {"a", "b", "c", "d"}) {
    ASSERT_TRUE(this->store().put(Digest::of(content), content).has_value());
  }
  int visited = 0;
  auto walked = this->store().for_each_blob([&](const Digest& d, std::uint64_t) {
    ++visited;
    EXPECT_TRUE(this->store().remove(d).has_value());
  });
  ASSERT_TRUE(walked.has_value());
  EXPECT_EQ(visited, 4);
  EXPECT_TRUE(this->all_blobs().empty());
}

TYPED_TEST_P(BlobStoreContractTest, ConcurrentCommitsOfTheSameDigest) {
  constexpr int kThreads = 8;
  const std::string content = pseudo_random_bytes(256 * 1024 + 17, 1);
  const Digest d = Digest::of(content);
  std::vector<UploadId> ids;
  for (int i = 0; i < kThreads; ++i) {
    ids.push_back(UploadId::generate());
    ASSERT_TRUE(this->store().create_upload(ids.back()).has_value());
    this->append(ids.back(), content);
  }
  std::latch start(kThreads);
  std::vector<Result<void>> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = this->store().commit_upload(ids[i], d);
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_TRUE(results[i].has_value()) << i << ": " << results[i].error().message;
  }
  EXPECT_EQ(this->blob_bytes(d), content);
  auto uploads = this->store().list_uploads();
  ASSERT_TRUE(uploads.has_value());
  EXPECT_TRUE(uploads->empty());
  EXPECT_EQ(this->all_blobs().size(), 1u);
}

TYPED_TEST_P(BlobStoreContractTest, ConcurrentPutsOfTheSameDigest) {
  constexpr int kThreads = 8;
  const std::string content = pseudo_random_bytes(64 * 1024, 2);
  const Digest d = Digest::of(content);
  std::latch start(kThreads);
  std::vector<Result<void>> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = this->store().put(d, content);
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_TRUE(results[i].has_value()) << i << ": " << results[i].error().message;
  }
  EXPECT_EQ(this->blob_bytes(d), content);
}

TYPED_TEST_P(BlobStoreContractTest, ConcurrentReadsWhileWritingOtherBlobs) {
  constexpr int kReaders = 4;
  constexpr int kWriters = 2;
  constexpr int kRounds = 20;
  const std::string content = pseudo_random_bytes(100 * 1000, 3);
  const Digest d = Digest::of(content);
  ASSERT_TRUE(this->store().put(d, content).has_value());

  std::latch start(kReaders + kWriters);
  std::atomic<int> bad_reads{0};
  std::atomic<int> failed_writes{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < kRounds; ++i) {
        if (this->blob_bytes(d) != content) {
          ++bad_reads;
        }
      }
    });
  }
  std::vector<std::vector<std::string>> written(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      start.arrive_and_wait();
      for (int i = 0; i < kRounds; ++i) {
        std::string other = pseudo_random_bytes(10 * 1000, 100 + w * kRounds + i);
        Digest od = Digest::of(other);
        auto write = [&]() -> bool {
          if (i % 2 == 0) {
            return this->store().put(od, other).has_value();
          }
          UploadId id = UploadId::generate();
          if (!this->store().create_upload(id).has_value()) {
            return false;
          }
          auto writer = this->store().append_upload(id);
          if (!writer || !(*writer)->append(bytes_of(other))) {
            return false;
          }
          writer->reset();
          return this->store().commit_upload(id, od).has_value();
        };
        if (!write()) {
          ++failed_writes;
        }
        written[w].push_back(std::move(other));
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(bad_reads.load(), 0);
  EXPECT_EQ(failed_writes.load(), 0);
  for (const auto& list : written) {
    for (const std::string& other : list) {
      EXPECT_EQ(this->blob_bytes(Digest::of(other)), other);
    }
  }
  EXPECT_EQ(this->all_blobs().size(), 1u + kWriters * kRounds);
}

TYPED_TEST_P(BlobStoreContractTest, LargeBlobRoundTrip) {
  constexpr std::size_t kSize = 8 * 1024 * 1024;
  const std::string content = pseudo_random_bytes(kSize, 4);
  const Digest d = Digest::of(content);
  UploadId id = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  {
    auto writer = this->store().append_upload(id);
    ASSERT_TRUE(writer.has_value());
    // Uneven chunks, then the rest in one big append.
    std::size_t offset = 0;
    for (std::size_t chunk :
         {std::size_t{1}, std::size_t{4095}, std::size_t{65537}, std::size_t{1024 * 1024 + 3}}) {
      ASSERT_TRUE((*writer)->append(bytes_of(content).subspan(offset, chunk)).has_value());
      offset += chunk;
    }
    ASSERT_TRUE((*writer)->append(bytes_of(content).subspan(offset)).has_value());
    EXPECT_EQ((*writer)->size(), kSize);
  }
  ASSERT_TRUE(this->store().commit_upload(id, d).has_value());
  auto st = this->store().stat(d);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, kSize);

  // Read back in odd-sized pieces.
  auto reader = this->store().open(d);
  ASSERT_TRUE(reader.has_value());
  std::string back;
  std::string buf(65536 + 7, '\0');
  while (back.size() < kSize) {
    auto n = (*reader)->read_at(back.size(), std::as_writable_bytes(std::span(buf)));
    ASSERT_TRUE(n.has_value());
    ASSERT_GT(*n, 0u);
    back.append(buf, 0, *n);
  }
  EXPECT_TRUE(back == content) << "8 MiB round trip differs";

  // put() of a big blob too.
  const std::string put_content = pseudo_random_bytes(1024 * 1024 + 1, 5);
  const Digest put_digest = Digest::of(put_content);
  ASSERT_TRUE(this->store().put(put_digest, put_content).has_value());
  EXPECT_TRUE(this->blob_bytes(put_digest) == put_content);
}

// ---- publish_upload and for_each_blob_entry (garbage collection's needs)

TYPED_TEST_P(BlobStoreContractTest, PublishUploadPublishesAndKeepsTheUpload) {
  const Digest d = Digest::of("published bytes");
  UploadId id = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  this->append(id, "published bytes");
  ASSERT_TRUE(this->store().publish_upload(id, d).has_value());
  EXPECT_EQ(this->blob_bytes(d), "published bytes");
  EXPECT_EQ(this->upload_bytes(id), "published bytes") << "the upload stays until deleted";
  auto uploads = this->store().list_uploads();
  ASSERT_TRUE(uploads.has_value());
  EXPECT_EQ(uploads->size(), 1u);

  ASSERT_TRUE(this->store().delete_upload(id).has_value());
  EXPECT_EQ(this->blob_bytes(d), "published bytes") << "deleting the upload keeps the blob";
}

TYPED_TEST_P(BlobStoreContractTest, PublishUploadAgainAfterTheBlobWasRemoved) {
  const Digest d = Digest::of("collected and pushed again");
  UploadId id = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  this->append(id, "collected and pushed again");
  ASSERT_TRUE(this->store().publish_upload(id, d).has_value());
  ASSERT_TRUE(this->store().remove(d).has_value());  // a collection took the bytes
  EXPECT_FALSE(this->store().stat(d)->has_value());
  ASSERT_TRUE(this->store().publish_upload(id, d).has_value());
  EXPECT_EQ(this->blob_bytes(d), "collected and pushed again");
}

TYPED_TEST_P(BlobStoreContractTest, PublishUploadOfAnExistingDigestKeepsTheBlob) {
  const Digest d = Digest::of("same bytes");
  ASSERT_TRUE(this->store().put(d, "same bytes").has_value());
  auto reader = this->store().open(d);
  ASSERT_TRUE(reader.has_value());
  UploadId id = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  this->append(id, "same bytes");
  ASSERT_TRUE(this->store().publish_upload(id, d).has_value());
  ASSERT_TRUE(this->store().publish_upload(id, d).has_value()) << "idempotent";
  EXPECT_EQ(this->blob_bytes(d), "same bytes");
  EXPECT_EQ(read_all(**reader), "same bytes") << "an open reader is undisturbed";
}

TYPED_TEST_P(BlobStoreContractTest, PublishOfAnUnknownUploadIsBlobUploadUnknown) {
  auto published = this->store().publish_upload(UploadId::generate(), Digest::of("x"));
  ASSERT_FALSE(published.has_value());
  EXPECT_EQ(published.error().code, ErrorCode::kBlobUploadUnknown);
  EXPECT_FALSE(this->store().stat(Digest::of("x"))->has_value());
}

TYPED_TEST_P(BlobStoreContractTest, ForEachBlobEntryGivesSizeAndModificationTime) {
  const auto before = this->driver_.now();
  const Digest put_digest = Digest::of("by put");
  ASSERT_TRUE(this->store().put(put_digest, "by put").has_value());
  const Digest published = Digest::of("by publish");
  UploadId id = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  this->append(id, "by publish");
  ASSERT_TRUE(this->store().publish_upload(id, published).has_value());
  const auto after = this->driver_.now();

  std::map<Digest, BlobEntry> seen;
  auto walked = this->store().for_each_blob_entry([&](const BlobEntry& entry) {
    EXPECT_TRUE(seen.emplace(entry.digest, entry).second) << "listed twice";
  });
  ASSERT_TRUE(walked.has_value()) << walked.error().message;
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen.at(put_digest).size, 6u);
  EXPECT_EQ(seen.at(published).size, 10u);
  for (const auto& [digest, entry] : seen) {
    // File systems stamp times from a coarse clock, a tick behind the precise one.
    EXPECT_GE(entry.modified, before - std::chrono::seconds(1)) << digest.str();
    EXPECT_LE(entry.modified, after + std::chrono::seconds(1)) << digest.str();
  }
  std::map<Digest, std::uint64_t> sizes;
  for (const auto& [digest, entry] : seen) {
    sizes.emplace(digest, entry.size);
  }
  EXPECT_EQ(sizes, this->all_blobs()) << "the same blobs as for_each_blob";
}

// ---- appends in pieces, resumed and read while written (object stores keep uploads in pieces)

TYPED_TEST_P(BlobStoreContractTest, ReadUploadSeesWhatAnOpenWriterAppended) {
  UploadId id = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  auto writer = this->store().append_upload(id);
  ASSERT_TRUE(writer.has_value()) << writer.error().message;
  ASSERT_TRUE((*writer)->append(bytes_of("abc")).has_value());
  auto first = this->store().read_upload(id);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(read_all(**first), "abc") << "a pull-through cache streams what was appended";
  ASSERT_TRUE((*writer)->append(bytes_of("def")).has_value());
  EXPECT_EQ(this->upload_bytes(id), "abcdef");
  EXPECT_EQ((*first)->size(), 3u) << "a reader is a snapshot";
}

TYPED_TEST_P(BlobStoreContractTest, FlushedBytesAreSeenByTheNextWriter) {
  UploadId id = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  auto writer = this->store().append_upload(id);
  ASSERT_TRUE(writer.has_value());
  ASSERT_TRUE((*writer)->append(bytes_of("flushed")).has_value());
  ASSERT_TRUE((*writer)->flush().has_value());
  ASSERT_TRUE((*writer)->flush().has_value()) << "flushing twice is harmless";
  // What another replica would see now, before this writer is gone.
  auto next = this->store().append_upload(id);
  ASSERT_TRUE(next.has_value()) << next.error().message;
  EXPECT_EQ((*next)->size(), 7u);
}

TYPED_TEST_P(BlobStoreContractTest, ChunkedUploadResumedAcrossPieces) {
  // Chunks that end inside and on the boundaries of S3 pieces (8 MiB): a short last piece is
  // continued by the next writer.
  const std::string content = pseudo_random_bytes(20 * 1024 * 1024 + 3, 6);
  UploadId id = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  std::size_t offset = 0;
  for (std::size_t chunk : {std::size_t{3} << 20, std::size_t{5} << 20, std::size_t{1},
                            (std::size_t{7} << 20) - 1, content.size()}) {
    const std::size_t take = std::min(chunk, content.size() - offset);
    auto writer = this->store().append_upload(id);
    ASSERT_TRUE(writer.has_value()) << writer.error().message;
    ASSERT_EQ((*writer)->size(), offset);
    ASSERT_TRUE((*writer)->append(bytes_of(content).subspan(offset, take)).has_value());
    ASSERT_TRUE((*writer)->flush().has_value());
    offset += take;
  }
  ASSERT_EQ(offset, content.size());
  EXPECT_TRUE(this->upload_bytes(id) == content) << "the upload reads back whole";
  const Digest d = Digest::of(content);
  auto committed = this->store().commit_upload(id, d);
  ASSERT_TRUE(committed.has_value()) << committed.error().message;
  EXPECT_TRUE(this->blob_bytes(d) == content) << "the blob reads back whole";
  EXPECT_EQ(this->all_blobs().at(d), content.size());
}

TYPED_TEST_P(BlobStoreContractTest, CancelledUploadOfManyPiecesLeavesNothing) {
  UploadId id = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  this->append(id, pseudo_random_bytes(17 * 1024 * 1024, 7));
  ASSERT_TRUE(this->store().delete_upload(id).has_value());
  EXPECT_EQ(this->store().read_upload(id).error().code, ErrorCode::kBlobUploadUnknown);
  auto uploads = this->store().list_uploads();
  ASSERT_TRUE(uploads.has_value());
  EXPECT_TRUE(uploads->empty());
  EXPECT_TRUE(this->all_blobs().empty());
}

TYPED_TEST_P(BlobStoreContractTest, RemoveManyRemovesEachAndSkipsTheAbsent) {
  std::vector<Digest> digests;
  for (std::string content : {"first", "second", "kept"}) {
    digests.push_back(Digest::of(content));
    ASSERT_TRUE(this->store().put(digests.back(), content).has_value());
  }
  const std::vector<Digest> doomed = {digests[0], Digest::of("never stored"), digests[1]};
  auto removed = this->store().remove_many(doomed);
  ASSERT_TRUE(removed.has_value()) << removed.error().message;
  EXPECT_EQ(this->all_blobs(), (std::map<Digest, std::uint64_t>{{digests[2], 4}}));
  EXPECT_TRUE(this->store().remove_many({}).has_value());
}

// More digests than one S3 DeleteObjects request takes (1,000 keys), the stored ones at the
// edges of each request's slice, most of them absent.
TYPED_TEST_P(BlobStoreContractTest, RemoveManySpansSeveralRequests) {
  std::vector<Digest> doomed;
  std::vector<Digest> stored;
  for (int i = 0; i < 2001; ++i) {
    const std::string content = "blob " + std::to_string(i);
    doomed.push_back(Digest::of(content));
    if (i == 0 || i == 999 || i == 1000 || i == 2000) {
      ASSERT_TRUE(this->store().put(doomed.back(), content).has_value());
      stored.push_back(doomed.back());
    }
  }
  const Digest kept = Digest::of("kept");
  ASSERT_TRUE(this->store().put(kept, "kept").has_value());
  auto removed = this->store().remove_many(doomed);
  ASSERT_TRUE(removed.has_value()) << removed.error().message;
  EXPECT_EQ(this->all_blobs(), (std::map<Digest, std::uint64_t>{{kept, 4}}));
}

REGISTER_TYPED_TEST_SUITE_P(
    BlobStoreContractTest, StatAndOpenOfAbsentBlob, PutThenStatAndReadAtOffsets, EmptyBlob,
    PutIsIdempotent, Sha512Blob, RemoveIsIdempotent, UploadAppendReadCommit,
    TruncateCutsAnUploadBackAndAppendsGoOnFromThere, EmptyUploadCommits,
    CommitOfExistingDigestKeepsBlobAndDropsUpload, CommitOfUnknownUploadFails,
    DeleteUploadIsIdempotent, CreateUploadTwiceFailsAndKeepsTheFirst,
    UnknownUploadIsBlobUploadUnknown, ListUploads, AppendDoesNotMoveModifiedTimeBackwards,
    ForEachBlobListsEveryBlobOnce, ForEachBlobMayRemoveAsItWalks, ConcurrentCommitsOfTheSameDigest,
    ConcurrentPutsOfTheSameDigest, ConcurrentReadsWhileWritingOtherBlobs, LargeBlobRoundTrip,
    PublishUploadPublishesAndKeepsTheUpload, PublishUploadAgainAfterTheBlobWasRemoved,
    PublishUploadOfAnExistingDigestKeepsTheBlob, PublishOfAnUnknownUploadIsBlobUploadUnknown,
    ForEachBlobEntryGivesSizeAndModificationTime, ReadUploadSeesWhatAnOpenWriterAppended,
    FlushedBytesAreSeenByTheNextWriter, ChunkedUploadResumedAcrossPieces,
    CancelledUploadOfManyPiecesLeavesNothing, RemoveManyRemovesEachAndSkipsTheAbsent,
    RemoveManySpansSeveralRequests);

}  // namespace
}  // namespace berth::storage
