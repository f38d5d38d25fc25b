// Tests of making a data directory private, on directories laid out as older versions of Berth
// left them (0755 directories, 0644 files).
#include "server/private_data.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "testing/temp_dir.hpp"

namespace berth::server {
namespace {

namespace fs = std::filesystem;

class PrivateDataTest : public ::testing::Test {
 protected:
  // A file or directory with the mode an older Berth gave it.
  void file(const fs::path& relative, mode_t mode = 0644) {
    const fs::path path = data_ / relative;
    dir(relative.parent_path());
    std::ofstream(path) << "bytes";
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }
  void dir(const fs::path& relative, mode_t mode = 0755) {
    fs::path path = data_;
    ::mkdir(path.c_str(), mode);
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    for (const auto& part : relative) {
      path /= part;
      ::mkdir(path.c_str(), mode);
      ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    }
  }
  mode_t mode(const fs::path& relative) const {
    struct stat st {};
    EXPECT_EQ(::lstat((data_ / relative).c_str(), &st), 0) << relative;
    return st.st_mode & 07777;
  }
  void old_layout() {
    file("berth.db");
    file("berth.db-wal");
    file("berth.db-shm");
    file("blobs/sha256/3f/3f4a", 0444);
    file("uploads/0123456789abcdef0123456789abcdef");
    dir("tmp");
    file("auth/token-signing.pem", 0600);
    ASSERT_EQ(::chmod((data_ / "auth").c_str(), 0700), 0);
  }
  DataPaths paths() const { return DataPaths{data_, data_, data_ / "berth.db"}; }

  berth::testing::TempDir dir_;
  fs::path top_ = dir_.path();
  fs::path data_ = top_ / "data";
};

TEST_F(PrivateDataTest, AnOldDataDirectoryIsMadePrivateAndTheLogSaysSo) {
  old_layout();
  const auto report = make_data_private(paths());
  for (const char* file : {"berth.db", "berth.db-wal", "berth.db-shm",
                           "uploads/0123456789abcdef0123456789abcdef", "auth/token-signing.pem"}) {
    EXPECT_EQ(mode(file), 0600u) << file;
  }
  EXPECT_EQ(mode("blobs/sha256/3f/3f4a"), 0400u) << "only group and other bits go";
  for (const char* dir :
       {"", "blobs", "blobs/sha256", "blobs/sha256/3f", "uploads", "tmp", "auth"}) {
    EXPECT_EQ(mode(dir), 0700u) << "'" << dir << "'";
  }
  EXPECT_EQ(report.tightened, 11u);
  ASSERT_FALSE(report.messages.empty());
  EXPECT_NE(report.messages[0].find("made 11 files and directories"), std::string::npos)
      << report.messages[0];

  // Done once: the next start finds nothing to do.
  const auto again = make_data_private(paths());
  EXPECT_EQ(again.tightened, 0u);
  EXPECT_TRUE(again.messages.empty()) << again.messages[0];
}

TEST_F(PrivateDataTest, ADirectoryHoldingOtherFilesIsReportedNotChanged) {
  old_layout();
  file("someone-elses.txt");
  const auto report = make_data_private(paths());
  EXPECT_EQ(mode(""), 0755u);
  EXPECT_EQ(mode("someone-elses.txt"), 0644u);
  EXPECT_EQ(mode("berth.db"), 0600u);
  EXPECT_EQ(mode("blobs"), 0700u);
  bool reported = false;
  for (const auto& message : report.messages) {
    reported = reported || (message.find("someone-elses.txt") != std::string::npos &&
                            message.find("chmod 700 " + data_.string()) != std::string::npos);
  }
  EXPECT_TRUE(reported) << ::testing::PrintToString(report.messages);
}

TEST_F(PrivateDataTest, SymbolicLinksAreNotFollowed) {
  old_layout();
  const fs::path outside = top_ / "outside.txt";
  std::ofstream(outside) << "not Berth's";
  ASSERT_EQ(::chmod(outside.c_str(), 0644), 0);
  fs::create_symlink(outside, data_ / "blobs" / "link");
  (void)make_data_private(paths());
  struct stat st {};
  ASSERT_EQ(::stat(outside.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(PrivateDataTest, ADataDirectoryWrittenWithATrailingSlashIsRecognised) {
  old_layout();
  const auto report = make_data_private(
      DataPaths{data_.string() + "/", data_.string() + "/./", data_ / "berth.db"});
  EXPECT_EQ(mode(""), 0700u) << ::testing::PrintToString(report.messages);
  EXPECT_EQ(mode("berth.db"), 0600u);
}

TEST_F(PrivateDataTest, AFreshDirectoryNeedsNothing) {
  dir("", 0700);
  const auto report = make_data_private(paths());
  EXPECT_EQ(report.tightened, 0u);
  EXPECT_TRUE(report.messages.empty());
}

}  // namespace
}  // namespace berth::server
