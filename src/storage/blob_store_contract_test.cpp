// The BlobStore contract suite (blob_store_contract.hpp) for the local drivers: filesystem,
// memory, and the fault injector over memory. After it come the tests of what only one driver
// has: the filesystem driver's files, fds and errno paths; the memory driver's clock.
#include "storage/blob_store_contract.hpp"

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

INSTANTIATE_TYPED_TEST_SUITE_P(Local, BlobStoreContractTest, kDrivers, DriverNames);

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

// Regression: a crash between publishing an upload and deleting it left the upload behind as a
// hard link of the blob; a client resuming it appended into the published blob.
TEST_F(FsBlobStoreTest, AnUploadPublishedBeforeACrashTakesNoMoreBytes) {
  const std::string content = "published, then the process died";
  const Digest d = Digest::of(content);
  UploadId id = UploadId::generate();
  ASSERT_TRUE(store_->create_upload(id).has_value());
  write_file(path_of(layout::upload_key(id)), content);
  ASSERT_TRUE(store_->publish_upload(id, d).has_value());

  auto reopened = open_fs_blob_store(root_);
  ASSERT_TRUE(reopened.has_value()) << reopened.error().message;
  auto writer = (*reopened)->append_upload(id);
  ASSERT_FALSE(writer.has_value());
  EXPECT_EQ(writer.error().code, ErrorCode::kBlobUploadInvalid);
  auto reader = (*reopened)->open(d);
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ((*reader)->size(), content.size()) << "the blob is as published";
  EXPECT_TRUE((*reopened)->delete_upload(id).has_value());
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
