// The BlobStore contract suite (blob_store.hpp), one typed suite run against every driver, as
// Distribution runs one testsuite against all its storage drivers. A new driver joins by adding
// a Driver type to kDrivers below. After the typed suite come the tests of what only one driver
// has: the filesystem driver's files, fds and errno paths; the memory driver's clock.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <latch>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/blob_store.hpp"
#include "storage/fs_blob_store.hpp"
#include "storage/layout.hpp"
#include "testing/fake_clock.hpp"
#include "testing/faulty_blob_store.hpp"
#include "testing/memory_blob_store.hpp"

namespace berth::storage {
namespace {

namespace fs = std::filesystem;
using core::Digest;
using core::ErrorCode;
using core::UploadId;

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "berth-storage-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ignored);
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// now() is the time the driver stamps blobs with: the real clock for files, the fake one for
// memory.
struct FsDriver {
  TempDir dir;
  fs::path root = dir.path() / "data";
  Result<std::unique_ptr<BlobStore>> open() { return open_fs_blob_store(root); }
  core::TimePoint now() const { return std::chrono::system_clock::now(); }
};

struct MemoryDriver {
  testing::FakeClock clock;
  Result<std::unique_ptr<BlobStore>> open() { return testing::make_memory_blob_store(clock); }
  core::TimePoint now() const { return clock.now(); }
};

// The fault injector with nothing armed must be invisible: same contract, passed through.
struct FaultyMemoryDriver {
  testing::FakeClock clock;
  Result<std::unique_ptr<BlobStore>> open() {
    return std::make_unique<testing::FaultyBlobStore>(testing::make_memory_blob_store(clock));
  }
  core::TimePoint now() const { return clock.now(); }
};

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

using kDrivers = ::testing::Types<FsDriver, MemoryDriver, FaultyMemoryDriver>;

class DriverNames {
 public:
  template <class T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, FsDriver>) {
      return "Fs";
    } else if constexpr (std::is_same_v<T, MemoryDriver>) {
      return "Memory";
    } else {
      return "FaultyMemory";
    }
  }
};

TYPED_TEST_SUITE(BlobStoreContractTest, kDrivers, DriverNames);

TYPED_TEST(BlobStoreContractTest, StatAndOpenOfAbsentBlob) {
  Digest d = Digest::of("never stored");
  auto st = this->store().stat(d);
  ASSERT_TRUE(st.has_value()) << st.error().message;
  EXPECT_FALSE(st->has_value());
  auto reader = this->store().open(d);
  ASSERT_FALSE(reader.has_value());
  EXPECT_EQ(reader.error().code, ErrorCode::kBlobUnknown);
}

TYPED_TEST(BlobStoreContractTest, PutThenStatAndReadAtOffsets) {
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

TYPED_TEST(BlobStoreContractTest, EmptyBlob) {
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

TYPED_TEST(BlobStoreContractTest, PutIsIdempotent) {
  const std::string content = "manifest bytes";
  Digest d = Digest::of(content);
  ASSERT_TRUE(this->store().put(d, content).has_value());
  ASSERT_TRUE(this->store().put(d, content).has_value());
  EXPECT_EQ(this->blob_bytes(d), content);
  EXPECT_EQ(this->all_blobs().size(), 1u);
}

TYPED_TEST(BlobStoreContractTest, Sha512Blob) {
  const std::string content = "bytes named by sha512";
  Digest d = Digest::of(content, core::DigestAlgorithm::kSha512);
  ASSERT_TRUE(this->store().put(d, content).has_value());
  EXPECT_EQ(this->blob_bytes(d), content);
  // The same bytes under sha256 are a different blob.
  auto other = this->store().stat(Digest::of(content));
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(other->has_value());
}

TYPED_TEST(BlobStoreContractTest, RemoveIsIdempotent) {
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

TYPED_TEST(BlobStoreContractTest, UploadAppendReadCommit) {
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
TYPED_TEST(BlobStoreContractTest, TruncateCutsAnUploadBackAndAppendsGoOnFromThere) {
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

TYPED_TEST(BlobStoreContractTest, EmptyUploadCommits) {
  UploadId id = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  Digest d = Digest::of("");
  ASSERT_TRUE(this->store().commit_upload(id, d).has_value());
  auto st = this->store().stat(d);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 0u);
}

TYPED_TEST(BlobStoreContractTest, CommitOfExistingDigestKeepsBlobAndDropsUpload) {
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

TYPED_TEST(BlobStoreContractTest, CommitOfUnknownUploadFails) {
  Digest d = Digest::of("nothing");
  auto committed = this->store().commit_upload(UploadId::generate(), d);
  ASSERT_FALSE(committed.has_value());
  EXPECT_EQ(committed.error().code, ErrorCode::kBlobUploadUnknown);
  auto st = this->store().stat(d);
  ASSERT_TRUE(st.has_value());
  EXPECT_FALSE(st->has_value());
}

TYPED_TEST(BlobStoreContractTest, DeleteUploadIsIdempotent) {
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

TYPED_TEST(BlobStoreContractTest, CreateUploadTwiceFailsAndKeepsTheFirst) {
  UploadId id = UploadId::generate();
  ASSERT_TRUE(this->store().create_upload(id).has_value());
  this->append(id, "first");
  auto again = this->store().create_upload(id);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kInternal);
  EXPECT_EQ(this->upload_bytes(id), "first");
}

TYPED_TEST(BlobStoreContractTest, UnknownUploadIsBlobUploadUnknown) {
  UploadId id = UploadId::generate();
  auto writer = this->store().append_upload(id);
  ASSERT_FALSE(writer.has_value());
  EXPECT_EQ(writer.error().code, ErrorCode::kBlobUploadUnknown);
  auto reader = this->store().read_upload(id);
  ASSERT_FALSE(reader.has_value());
  EXPECT_EQ(reader.error().code, ErrorCode::kBlobUploadUnknown);
}

TYPED_TEST(BlobStoreContractTest, ListUploads) {
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

TYPED_TEST(BlobStoreContractTest, AppendDoesNotMoveModifiedTimeBackwards) {
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

TYPED_TEST(BlobStoreContractTest, ForEachBlobListsEveryBlobOnce) {
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

TYPED_TEST(BlobStoreContractTest, ForEachBlobMayRemoveAsItWalks) {
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

TYPED_TEST(BlobStoreContractTest, ConcurrentCommitsOfTheSameDigest) {
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

TYPED_TEST(BlobStoreContractTest, ConcurrentPutsOfTheSameDigest) {
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

TYPED_TEST(BlobStoreContractTest, ConcurrentReadsWhileWritingOtherBlobs) {
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

TYPED_TEST(BlobStoreContractTest, LargeBlobRoundTrip) {
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

TYPED_TEST(BlobStoreContractTest, PublishUploadPublishesAndKeepsTheUpload) {
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

TYPED_TEST(BlobStoreContractTest, PublishUploadAgainAfterTheBlobWasRemoved) {
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

TYPED_TEST(BlobStoreContractTest, PublishUploadOfAnExistingDigestKeepsTheBlob) {
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

TYPED_TEST(BlobStoreContractTest, PublishOfAnUnknownUploadIsBlobUploadUnknown) {
  auto published = this->store().publish_upload(UploadId::generate(), Digest::of("x"));
  ASSERT_FALSE(published.has_value());
  EXPECT_EQ(published.error().code, ErrorCode::kBlobUploadUnknown);
  EXPECT_FALSE(this->store().stat(Digest::of("x"))->has_value());
}

TYPED_TEST(BlobStoreContractTest, ForEachBlobEntryGivesSizeAndModificationTime) {
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

// ---- Filesystem driver only -------------------------------------------------------------

class FsBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  void reopen() {
    store_.reset();
    auto store = open_fs_blob_store(root_);
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = *std::move(store);
  }

  fs::path path_of(std::string_view key) const { return root_ / key; }

  static void write_file(const fs::path& path, std::string_view content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
    ASSERT_TRUE(out.good()) << path;
  }

  bool absent(const Digest& d) {
    auto st = store_->stat(d);
    return st.has_value() && !st->has_value() && !store_->open(d).has_value();
  }

  TempDir dir_;
  fs::path root_ = dir_.path() / "data";
  std::unique_ptr<BlobStore> store_;
};

TEST_F(FsBlobStoreTest, OpenCreatesTheLayout) {
  EXPECT_TRUE(fs::is_directory(path_of(layout::kBlobsDir)));
  EXPECT_TRUE(fs::is_directory(path_of(layout::kUploadsDir)));
  EXPECT_TRUE(fs::is_directory(path_of(layout::kTmpDir)));
  EXPECT_TRUE(fs::is_empty(path_of(layout::kTmpDir))) << "the write probe left a file";
}

TEST_F(FsBlobStoreTest, BlobsLiveWhereTheLayoutSays) {
  Digest d = Digest::of("where am I");
  ASSERT_TRUE(store_->put(d, "where am I").has_value());
  EXPECT_TRUE(fs::is_regular_file(path_of(layout::blob_key(d))));
  EXPECT_EQ(fs::file_size(path_of(layout::blob_key(d))), 10u);
  EXPECT_TRUE(fs::is_empty(path_of(layout::kTmpDir))) << "put() left its temporary file";

  UploadId id = UploadId::generate();
  ASSERT_TRUE(store_->create_upload(id).has_value());
  EXPECT_TRUE(fs::is_regular_file(path_of(layout::upload_key(id))));
}

// Regression: blobs of private projects were 0644 in 0755 directories, readable by every user
// of the machine. Whatever the process's umask, they are the owner's only.
TEST_F(FsBlobStoreTest, BlobsUploadsAndDirectoriesAreOwnerOnly) {
  const mode_t saved = ::umask(0);
  const fs::path fresh = dir_.path() / "fresh";
  auto store = open_fs_blob_store(fresh);
  ::umask(saved);
  ASSERT_TRUE(store.has_value()) << store.error().message;
  const mode_t before = ::umask(0);
  Digest d = Digest::of("private bytes");
  auto put = (*store)->put(d, "private bytes");
  UploadId id = UploadId::generate();
  auto upload = (*store)->create_upload(id);
  ::umask(before);
  ASSERT_TRUE(put.has_value() && upload.has_value());
  auto mode = [&](const std::string& key) {
    struct stat st {};
    EXPECT_EQ(::stat((fresh / key).c_str(), &st), 0) << key;
    return st.st_mode & 0777;
  };
  EXPECT_EQ(mode(layout::blob_key(d)), 0600u);
  EXPECT_EQ(mode(layout::upload_key(id)), 0600u);
  for (const std::string& dir : {std::string(layout::kBlobsDir), std::string(layout::kUploadsDir),
                                 std::string(layout::kTmpDir), layout::blob_fanout_dir(d),
                                 layout::blob_algorithm_dir(d.algorithm())}) {
    EXPECT_EQ(mode(dir), 0700u) << dir;
  }
}

TEST_F(FsBlobStoreTest, NativeFdReadsTheBlob) {
  const std::string content = "bytes for sendfile";
  Digest d = Digest::of(content);
  ASSERT_TRUE(store_->put(d, content).has_value());
  auto reader = store_->open(d);
  ASSERT_TRUE(reader.has_value());
  int fd = (*reader)->native_fd();
  ASSERT_GE(fd, 0);
  EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0) << "fd would leak into child processes";
  std::string buf(9, '\0');
  ASSERT_EQ(::pread(fd, buf.data(), 5, 6), 5);
  EXPECT_EQ(buf.substr(0, 5), "for s");
  // pread leaves the offset alone, so read_at still sees the start.
  std::string head(5, '\0');
  ASSERT_EQ((*reader)->read_at(0, std::as_writable_bytes(std::span(head))).value(), 5u);
  EXPECT_EQ(head, "bytes");
}

TEST_F(FsBlobStoreTest, ReaderKeepsReadingAfterRemove) {
  const std::string content = "unlinked but open";
  Digest d = Digest::of(content);
  ASSERT_TRUE(store_->put(d, content).has_value());
  auto reader = store_->open(d);
  ASSERT_TRUE(reader.has_value());
  ASSERT_TRUE(store_->remove(d).has_value());
  EXPECT_TRUE(absent(d));
  EXPECT_EQ(read_all(**reader), content);
}

TEST_F(FsBlobStoreTest, LeftoverTemporaryFilesAreInvisible) {
  // What a crash between write and rename leaves: a complete temporary file, and an upload
  // with every byte in it, neither renamed.
  const std::string content = "written, never published";
  Digest d = Digest::of(content);
  write_file(path_of(layout::new_tmp_key()), content);
  write_file(path_of(layout::kTmpDir) / "put-garbage", "\x01\x02");
  UploadId id = UploadId::generate();
  ASSERT_TRUE(store_->create_upload(id).has_value());
  ASSERT_NO_FATAL_FAILURE(write_file(path_of(layout::upload_key(id)), content));

  EXPECT_TRUE(absent(d));
  int blobs = 0;
  ASSERT_TRUE(store_->for_each_blob([&](const Digest&, std::uint64_t) { ++blobs; }).has_value());
  EXPECT_EQ(blobs, 0);

  // And after a restart: still invisible, and the young temporary files are left alone (an
  // in-flight put() of another process may own them).
  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_TRUE(absent(d));
  EXPECT_EQ(std::distance(fs::directory_iterator(path_of(layout::kTmpDir)), {}), 2);
}

TEST_F(FsBlobStoreTest, OpenRemovesStaleTemporaryFiles) {
  const fs::path stale = path_of(layout::new_tmp_key());
  const fs::path fresh = path_of(layout::new_tmp_key());
  write_file(stale, "old");
  write_file(fresh, "new");
  // Two hours ago.
  timespec times[2];
  times[0].tv_sec = times[1].tv_sec = ::time(nullptr) - 2 * 3600;
  times[0].tv_nsec = times[1].tv_nsec = 0;
  ASSERT_EQ(::utimensat(AT_FDCWD, stale.c_str(), times, 0), 0);

  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));
}

TEST_F(FsBlobStoreTest, ReopenSeesBlobsAndUploads) {
  Digest d = Digest::of("durable");
  ASSERT_TRUE(store_->put(d, "durable").has_value());
  UploadId id = UploadId::generate();
  ASSERT_TRUE(store_->create_upload(id).has_value());
  auto writer = store_->append_upload(id);
  ASSERT_TRUE(writer.has_value());
  ASSERT_TRUE((*writer)->append(bytes_of("half")).has_value());
  writer->reset();

  ASSERT_NO_FATAL_FAILURE(reopen());
  auto st = store_->stat(d);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(*st, 7u);
  auto reader = store_->read_upload(id);
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ(read_all(**reader), "half");
}

TEST_F(FsBlobStoreTest, StrayFilesAreSkipped) {
  Digest d = Digest::of("real");
  ASSERT_TRUE(store_->put(d, "real").has_value());
  Digest elsewhere = Digest::of("misplaced");
  // Things an operator or another tool might leave in the tree.
  write_file(path_of(layout::kBlobsDir) / "README", "x");
  fs::create_directories(path_of(layout::blob_algorithm_dir(core::DigestAlgorithm::kSha256)) /
                         "zz");
  write_file(path_of(layout::blob_algorithm_dir(core::DigestAlgorithm::kSha256)) / "zz" / "nope",
             "x");
  // A valid digest in the wrong fan-out directory.
  write_file(path_of(layout::blob_fanout_dir(d)) / elsewhere.hex(), "misplaced");
  // A directory where a blob would be.
  fs::create_directories(path_of(layout::blob_fanout_dir(d)) / std::string(64, 'a'));
  fs::create_directories(path_of(layout::blob_algorithm_dir(core::DigestAlgorithm::kSha256)) /
                         "md5");
  write_file(path_of(layout::kUploadsDir) / "not-an-upload-id", "x");

  std::vector<Digest> seen;
  auto walked = store_->for_each_blob([&](const Digest& digest, std::uint64_t size) {
    seen.push_back(digest);
    EXPECT_EQ(size, 4u);
  });
  ASSERT_TRUE(walked.has_value()) << walked.error().message;
  EXPECT_EQ(seen, std::vector<Digest>{d});

  auto uploads = store_->list_uploads();
  ASSERT_TRUE(uploads.has_value());
  EXPECT_TRUE(uploads->empty());
}

TEST_F(FsBlobStoreTest, MissingTmpDirIsAnErrorNamingThePath) {
  fs::remove_all(path_of(layout::kTmpDir));
  write_file(path_of(layout::kTmpDir), "a file where tmp/ should be");
  Digest d = Digest::of("nowhere to write");
  auto put = store_->put(d, "nowhere to write");
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().code, ErrorCode::kInternal);
  EXPECT_NE(put.error().message.find(path_of(layout::kTmpDir).string()), std::string::npos)
      << put.error().message;
  EXPECT_TRUE(absent(d));
}

TEST_F(FsBlobStoreTest, BlobsDirReplacedByAFileIsAnError) {
  fs::remove_all(path_of(layout::kBlobsDir));
  write_file(path_of(layout::kBlobsDir), "not a directory");
  Digest d = Digest::of("x");
  auto st = store_->stat(d);
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, ErrorCode::kInternal);
  auto put = store_->put(d, "x");
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().code, ErrorCode::kInternal);
  EXPECT_FALSE(store_->for_each_blob([](const Digest&, std::uint64_t) {}).has_value());
  EXPECT_TRUE(fs::is_empty(path_of(layout::kTmpDir))) << "failed put() left its temporary file";
}

TEST_F(FsBlobStoreTest, UploadsDirGoneMakesUploadsUnknown) {
  UploadId id = UploadId::generate();
  ASSERT_TRUE(store_->create_upload(id).has_value());
  fs::remove_all(path_of(layout::kUploadsDir));
  EXPECT_EQ(store_->append_upload(id).error().code, ErrorCode::kBlobUploadUnknown);
  EXPECT_EQ(store_->commit_upload(id, Digest::of("")).error().code, ErrorCode::kBlobUploadUnknown);
  auto created = store_->create_upload(UploadId::generate());
  ASSERT_FALSE(created.has_value());
  EXPECT_EQ(created.error().code, ErrorCode::kInternal);
  EXPECT_FALSE(store_->list_uploads().has_value());
}

TEST_F(FsBlobStoreTest, DiskFullIsUnavailable) {
  ASSERT_TRUE(fs::exists("/dev/full")) << "Linux always has /dev/full";
  // An upload whose file is /dev/full: every write fails with ENOSPC, as on a full disk.
  UploadId id = UploadId::generate();
  fs::create_symlink("/dev/full", path_of(layout::upload_key(id)));
  auto writer = store_->append_upload(id);
  ASSERT_TRUE(writer.has_value()) << writer.error().message;
  auto appended = (*writer)->append(bytes_of("no room"));
  ASSERT_FALSE(appended.has_value());
  EXPECT_EQ(appended.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(appended.error().is(core::ErrorReason::kDiskFull));
  EXPECT_NE(appended.error().message.find("disk full"), std::string::npos)
      << appended.error().message;
  EXPECT_NE(appended.error().message.find("write"), std::string::npos) << "names the operation";
}

TEST_F(FsBlobStoreTest, FreeBytesIsWhatTheFilesystemHasLeft) {
  auto free = store_->free_bytes();
  ASSERT_TRUE(free.has_value()) << free.error().message;
  ASSERT_TRUE(free->has_value());
  const auto space = fs::space(root_);
  // Others write to the same filesystem meanwhile: near, not equal.
  const auto difference =
      **free > space.available ? **free - space.available : space.available - **free;
  EXPECT_LT(difference, std::uint64_t{64} << 20) << **free << " vs " << space.available;
  EXPECT_GT(**free, 0u);
}

TEST_F(FsBlobStoreTest, PublishUploadLinksTheUploadAndStampsTheTime) {
  const std::string content = "published by hard link";
  const Digest d = Digest::of(content);
  UploadId id = UploadId::generate();
  ASSERT_TRUE(store_->create_upload(id).has_value());
  write_file(path_of(layout::upload_key(id)), content);
  // An upload whose last byte arrived two days ago: the sweep must not see an old blob.
  const timespec old_times[2] = {{time(nullptr) - 2 * 86400, 0}, {time(nullptr) - 2 * 86400, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path_of(layout::upload_key(id)).c_str(), old_times, 0), 0);

  // Two seconds of slack: st_mtim is compared whole seconds, and the kernel stamps it from a
  // coarse clock that may lag system_clock across a second boundary.
  const auto before = std::chrono::system_clock::now() - std::chrono::seconds(2);
  ASSERT_TRUE(store_->publish_upload(id, d).has_value());
  struct stat blob {};
  ASSERT_EQ(::stat(path_of(layout::blob_key(d)).c_str(), &blob), 0);
  EXPECT_EQ(blob.st_nlink, 2u) << "the blob and the upload share one inode";
  EXPECT_GE(std::chrono::system_clock::from_time_t(blob.st_mtim.tv_sec), before);

  // Publishing onto an existing, old blob keeps it and stamps it.
  ASSERT_TRUE(store_->remove(d).has_value());
  ASSERT_TRUE(store_->put(d, content).has_value());
  ASSERT_EQ(::utimensat(AT_FDCWD, path_of(layout::blob_key(d)).c_str(), old_times, 0), 0);
  struct stat put_blob {};
  ASSERT_EQ(::stat(path_of(layout::blob_key(d)).c_str(), &put_blob), 0);
  ASSERT_TRUE(store_->publish_upload(id, d).has_value());
  struct stat again {};
  ASSERT_EQ(::stat(path_of(layout::blob_key(d)).c_str(), &again), 0);
  EXPECT_EQ(again.st_ino, put_blob.st_ino) << "the existing file stays";
  EXPECT_GE(std::chrono::system_clock::from_time_t(again.st_mtim.tv_sec), before);
}

TEST(MemoryBlobStoreTest, PublishStampsTheBlobWithTheClock) {
  testing::FakeClock clock;
  auto store = testing::make_memory_blob_store(clock);
  const Digest d = Digest::of("bytes");
  ASSERT_TRUE(store->put(d, "bytes").has_value());
  clock.advance(std::chrono::hours(48));
  UploadId id = UploadId::generate();
  ASSERT_TRUE(store->create_upload(id).has_value());
  ASSERT_TRUE(store->publish_upload(id, d).has_value());
  std::vector<BlobEntry> entries;
  ASSERT_TRUE(store->for_each_blob_entry([&](const BlobEntry& e) { entries.push_back(e); }));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].modified, clock.now());
  EXPECT_EQ(entries[0].size, 5u) << "the existing bytes stay";
}

TEST(FsBlobStoreOpenTest, UnusableRootFails) {
  TempDir dir;
  const fs::path root = dir.path() / "file";
  { std::ofstream(root) << "not a directory"; }
  auto store = open_fs_blob_store(root);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kInternal);
  EXPECT_NE(store.error().message.find(root.string()), std::string::npos) << store.error().message;
}

TEST(FsBlobStoreOpenTest, CreatesMissingParents) {
  TempDir dir;
  auto store = open_fs_blob_store(dir.path() / "a" / "b" / "data");
  ASSERT_TRUE(store.has_value()) << store.error().message;
  EXPECT_TRUE(fs::is_directory(dir.path() / "a" / "b" / "data" / layout::kBlobsDir));
}

// ---- Memory driver only -----------------------------------------------------------------

TEST(MemoryBlobStoreTest, UploadTimesComeFromTheClock) {
  testing::FakeClock clock;
  auto store = testing::make_memory_blob_store(clock);
  UploadId id = UploadId::generate();
  const core::TimePoint created = clock.now();
  ASSERT_TRUE(store->create_upload(id).has_value());
  clock.advance(std::chrono::minutes(5));
  auto writer = store->append_upload(id);
  ASSERT_TRUE(writer.has_value());
  auto uploads = store->list_uploads();
  ASSERT_TRUE(uploads.has_value());
  ASSERT_EQ(uploads->size(), 1u);
  EXPECT_EQ(uploads->front().modified, created) << "opening is not modifying";
  ASSERT_TRUE((*writer)->append(bytes_of("x")).has_value());
  uploads = store->list_uploads();
  ASSERT_TRUE(uploads.has_value());
  EXPECT_EQ(uploads->front().modified, created + std::chrono::minutes(5));
}

TEST(MemoryBlobStoreTest, NoNativeFd) {
  testing::FakeClock clock;
  auto store = testing::make_memory_blob_store(clock);
  Digest d = Digest::of("m");
  ASSERT_TRUE(store->put(d, "m").has_value());
  EXPECT_EQ(store->open(d).value()->native_fd(), -1);
}

}  // namespace
}  // namespace berth::storage
