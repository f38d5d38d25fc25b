#include "util/fsync.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "testing/temp_dir.hpp"

namespace berth::util {
namespace {

TEST(Fsync, SyncsAFileAndItsDirectory) {
  testing::TempDir dir;
  const auto file = dir.path() / "f";
  std::ofstream(file) << "x";
  EXPECT_FALSE(fsync_path(file, false));
  EXPECT_FALSE(fsync_parent(file));
}

TEST(Fsync, SaysWhyAMissingPathCannotBeSynced) {
  testing::TempDir dir;
  EXPECT_EQ(fsync_path(dir.path() / "absent", false), std::errc::no_such_file_or_directory);
  EXPECT_EQ(fsync_path(dir.path() / "absent", true), std::errc::no_such_file_or_directory);
}

TEST(Fsync, AFileIsNotADirectory) {
  testing::TempDir dir;
  const auto file = dir.path() / "f";
  std::ofstream(file) << "x";
  EXPECT_EQ(fsync_path(file, true), std::errc::not_a_directory);
}

}  // namespace
}  // namespace berth::util
