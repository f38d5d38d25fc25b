// The progress of `berth backup`, `restore` and `check` when their stderr is a pipe (a script):
// no line rewritten in place and no escape code, one summary line with the figures at the end.
#include <gtest/gtest.h>

#include <string>

#include "berth_process.hpp"
#include "registry_client.hpp"

namespace berth::testing {
namespace {

// The line of `text` that starts with `prefix`, or "".
std::string line_starting(const std::string& text, const std::string& prefix) {
  for (std::size_t at = 0; at < text.size();) {
    auto end = text.find('\n', at);
    if (end == std::string::npos) {
      end = text.size();
    }
    if (text.compare(at, prefix.size(), prefix) == 0) {
      return text.substr(at, end - at);
    }
    at = end + 1;
  }
  return "";
}

TEST(ProgressInScripts, BackupRestoreAndCheckEndWithOneSummaryLine) {
  TempDir scratch;
  std::string data;
  {
    BerthProcess server;
    RegistryClient registry("127.0.0.1", server.port());
    // A config, two layers and the manifest (stored as a blob too): four blobs.
    registry.push_image("app/web", "v1", {.layers = 2});
    data = server.data().string();
    const auto dir = (scratch.path() / "backup").string();

    auto backup = run_berth({"backup", dir, "--data", data});
    ASSERT_EQ(backup.status, 0) << backup.err;
    const auto summary = line_starting(backup.err, "backup: ");
    EXPECT_TRUE(summary.starts_with("backup: 4/4 blobs, ")) << backup.err;
    EXPECT_NE(summary.find(" in "), std::string::npos) << summary;
    EXPECT_EQ(backup.err.find('\r'), std::string::npos) << backup.err;
    EXPECT_EQ(backup.err.find('\x1b'), std::string::npos) << backup.err;

    auto check = run_berth({"check", "--data", data});
    EXPECT_EQ(check.status, 0) << check.out << check.err;
    EXPECT_TRUE(line_starting(check.err, "check: ").starts_with("check: 4/4 blob files hashed"))
        << check.err;
    EXPECT_EQ(check.err.find('\x1b'), std::string::npos) << check.err;

    const auto restored = (scratch.path() / "restored").string();
    auto restore = run_berth({"restore", dir, "--data", restored});
    ASSERT_EQ(restore.status, 0) << restore.err;
    EXPECT_TRUE(line_starting(restore.err, "restore: ").starts_with("restore: 4/4 blobs"))
        << restore.err;
  }
}

}  // namespace
}  // namespace berth::testing
