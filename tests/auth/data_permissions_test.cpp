// The data directory is private to the user berth runs as: berth.db (password and token
// hashes) and its WAL, the blobs of private projects and the signing key are 0600 in 0700
// directories, whatever the umask berth was started with; and a data directory left readable by
// an older version is made private at start, with a line in the log saying so.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "auth_support.hpp"

namespace berth::authtest {
namespace {

using testing::describe;

// The umask the test runs berth with, restored afterwards: the usual 022, under which files
// are made world-readable unless their creator asks otherwise.
class OpenUmask {
 public:
  OpenUmask() : saved_(::umask(022)) {}
  ~OpenUmask() { ::umask(saved_); }
  OpenUmask(const OpenUmask&) = delete;
  OpenUmask& operator=(const OpenUmask&) = delete;

 private:
  mode_t saved_;
};

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    ADD_FAILURE() << "missing: " << path;
    return 0;
  }
  return st.st_mode & 07777;
}

BerthOptions options_for(const fs::path& data) {
  BerthOptions options;
  options.data = data;
  return options;
}

std::string push_blob(BerthProcess& berth, const std::string& content) {
  HttpClient http("127.0.0.1", berth.port());
  const std::string digest = testing::sha256_digest(content);
  const auto response = http.post("/v2/team/app/blobs/uploads/?digest=" + digest, content,
                                  {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(response.status, 201u) << describe(response);
  return digest;
}

fs::path blob_file(const fs::path& data, const std::string& digest) {
  const std::string hex = digest.substr(digest.find(':') + 1);
  return data / "blobs" / "sha256" / hex.substr(0, 2) / hex;
}

// Everything Berth keeps in `data`, as it should be: files 0600, directories 0700.
void expect_private(const fs::path& data, const std::string& digest) {
  EXPECT_EQ(mode_of(data), 0700u) << data;
  for (const fs::path& file : {data / "berth.db", data / "berth.db-wal",
                               data / "auth" / "token-signing.pem", blob_file(data, digest)}) {
    EXPECT_EQ(mode_of(file), 0600u) << file;
  }
  for (const fs::path& dir :
       {data / "auth", data / "blobs", data / "blobs" / "sha256",
        blob_file(data, digest).parent_path(), data / "uploads", data / "tmp"}) {
    EXPECT_EQ(mode_of(dir), 0700u) << dir;
  }
}

// Regression: the data directory was made world-readable: berth.db, its WAL and the blobs of
// private projects 0644 in 0755 directories.
TEST(DataPermissionsTest, ANewDataDirectoryIsPrivate) {
  OpenUmask umask;
  TempDir dir;
  const fs::path data = dir.path() / "data";
  BerthProcess berth(options_for(data));
  const std::string digest = push_blob(berth, "private bytes");
  expect_private(data, digest);  // while it runs: the WAL is there
  EXPECT_EQ(berth.log().find("private to this user"), std::string::npos)
      << "a new directory needed tightening:\n"
      << berth.log();
  EXPECT_EQ(berth.stop(), 0);
}

TEST(DataPermissionsTest, ADataDirectoryLeftOpenIsMadePrivateAtStartAndTheLogSaysSo) {
  OpenUmask umask;
  TempDir dir;
  const fs::path data = dir.path() / "data";
  std::string digest;
  {
    BerthProcess berth(options_for(data));
    digest = push_blob(berth, "bytes from an older version");
    ASSERT_EQ(berth.stop(), 0);
  }
  // As an older Berth left it: directories 0755, files 0644.
  std::vector<fs::path> opened;
  for (const auto& entry : fs::recursive_directory_iterator(data)) {
    fs::permissions(entry.path(), entry.is_directory() ? fs::perms(0755) : fs::perms(0644));
    opened.push_back(entry.path());
  }
  fs::permissions(data, fs::perms(0755));
  BerthProcess berth(options_for(data));
  expect_private(data, digest);
  const std::string log = wait_for_log(berth, "private to this user");
  EXPECT_NE(log.find("private to this user"), std::string::npos) << log;
  EXPECT_NE(log.find(data.string()), std::string::npos) << log;
  for (const auto& path : opened) {
    EXPECT_EQ(mode_of(path) & 077, 0u) << path;
  }
  EXPECT_EQ(berth.stop(), 0);
}

}  // namespace
}  // namespace berth::authtest
