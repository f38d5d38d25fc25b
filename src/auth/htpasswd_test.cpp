// Tests of htpasswd parsing and of HtpasswdFile's reloading, in a temporary directory.
#include "auth/htpasswd.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <random>

namespace berth::auth {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// Well-formed bcrypt hashes (their passwords do not matter here).
const std::string kHashA = "$2y$05$aaaaaaaaaaaaaaaaaaaaaOZ0D4ttAzbm4QR7b7OMKNq0E8JL9KNyK";
const std::string kHashB = "$2b$05$bbbbbbbbbbbbbbbbbbbbbOQyVfWRvRZB9cx0KwK5/WlO8uIfAXMzG";
const std::string kHashC = "$2a$05$ccccccccccccccccccccc.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

TEST(ParseHtpasswd, ReadsBcryptLines) {
  auto parsed = parse_htpasswd("alice:" + kHashA + "\nbob:" + kHashB + "\n");
  EXPECT_TRUE(parsed.refused.empty());
  ASSERT_EQ(parsed.entries.size(), 2u);
  EXPECT_EQ(parsed.entries[0].user, "alice");
  EXPECT_EQ(parsed.entries[0].hash, kHashA);
  EXPECT_EQ(parsed.entries[1].user, "bob");
  EXPECT_EQ(parsed.entries[1].hash, kHashB);
}

TEST(ParseHtpasswd, ToleratesCrlfCommentsBlanksAndNoFinalNewline) {
  auto parsed = parse_htpasswd("# users\r\n\r\n  \nalice:" + kHashA +
                               "\r\n  # indented\r\nbob:" + kHashB + "  ");
  EXPECT_TRUE(parsed.refused.empty()) << parsed.refused[0];
  ASSERT_EQ(parsed.entries.size(), 2u);
  EXPECT_EQ(parsed.entries[0].hash, kHashA);
  EXPECT_EQ(parsed.entries[1].user, "bob");
  EXPECT_EQ(parsed.entries[1].hash, kHashB);
}

TEST(ParseHtpasswd, DuplicateUserLastLineWinsAndIsNoted) {
  auto parsed = parse_htpasswd("alice:" + kHashA + "\nbob:" + kHashB + "\nalice:" + kHashC + "\n");
  ASSERT_EQ(parsed.entries.size(), 2u);
  EXPECT_EQ(parsed.entries[0].user, "bob");
  EXPECT_EQ(parsed.entries[1].user, "alice");
  EXPECT_EQ(parsed.entries[1].hash, kHashC);
  ASSERT_EQ(parsed.refused.size(), 1u);
  EXPECT_THAT(parsed.refused[0],
              AllOf(HasSubstr("line 3"), HasSubstr("alice"), HasSubstr("first on line 1")));
}

// Replacing a password by a line the parser refuses must not leave the old one usable.
TEST(ParseHtpasswd, DuplicateUserWhoseLastLineIsRefusedHasNoHash) {
  auto parsed = parse_htpasswd("alice:" + kHashA + "\nalice:$apr1$abc$def\n");
  EXPECT_TRUE(parsed.entries.empty());
  EXPECT_EQ(parsed.refused.size(), 2u);
}

TEST(ParseHtpasswd, RefusesLinesWithoutUserOrColon) {
  auto parsed = parse_htpasswd("alice " + kHashA + "\n:" + kHashB + "\nbob:" + kHashB + "\n");
  ASSERT_EQ(parsed.entries.size(), 1u);
  EXPECT_EQ(parsed.entries[0].user, "bob");
  ASSERT_EQ(parsed.refused.size(), 2u);
  EXPECT_THAT(parsed.refused[0], AllOf(HasSubstr("line 1"), HasSubstr("':'")));
  EXPECT_THAT(parsed.refused[1], AllOf(HasSubstr("line 2"), HasSubstr("empty user")));
}

TEST(ParseHtpasswd, NamesTheKindOfEveryRefusedHash) {
  struct Case {
    std::string line;
    std::string kind;
  };
  const std::vector<Case> cases = {
      {"md5:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/", "MD5 ($apr1$)"},
      {"sha:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "SHA-1 ({SHA})"},
      {"des:rl0uE2H5m5ENE", "DES crypt"},
      {"plain:hunter2", "plaintext"},
      {"sha512:$6$salt$IxDD3jeSOb5eB1CX5LBsqZFVkJdido3OUILO5Ifz5iwMuTS4XMS130MTSuDDl3a", "SHA-512"},
      {"md5crypt:$1$salt$qJH7.N4xYta3aEG/dfqo/0", "MD5-crypt"},
      {"empty:", "empty"},
      {"shortbcrypt:$2y$05$abc", "bcrypt"},
  };
  for (const Case& c : cases) {
    auto parsed = parse_htpasswd(c.line);
    EXPECT_TRUE(parsed.entries.empty()) << c.line;
    ASSERT_EQ(parsed.refused.size(), 1u) << c.line;
    const std::string user = c.line.substr(0, c.line.find(':'));
    const std::string hash = c.line.substr(c.line.find(':') + 1);
    EXPECT_THAT(parsed.refused[0], AllOf(HasSubstr("line 1"), HasSubstr("'" + user + "'"),
                                         HasSubstr(c.kind), HasSubstr("only bcrypt")));
    if (hash.size() > 6) {
      EXPECT_THAT(parsed.refused[0], Not(HasSubstr(hash))) << "the hash must not be logged";
    }
  }
}

TEST(ParseHtpasswd, EscapesUnprintableUserNamesInMessages) {
  auto parsed = parse_htpasswd(std::string("ev\x1b[2Jil:plain"));
  ASSERT_EQ(parsed.refused.size(), 1u);
  EXPECT_THAT(parsed.refused[0], HasSubstr("ev\\x1b[2Jil"));
}

TEST(ParseHtpasswd, EmptyText) {
  auto parsed = parse_htpasswd("");
  EXPECT_TRUE(parsed.entries.empty());
  EXPECT_TRUE(parsed.refused.empty());
}

class HtpasswdFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("berth-htpasswd-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
    path_ = dir_ / "htpasswd";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static void write(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }

  HtpasswdFile::Logger logger() {
    return [this](const std::string& message) { warnings_.push_back(message); };
  }

  std::filesystem::path dir_;
  std::filesystem::path path_;
  std::vector<std::string> warnings_;
};

TEST_F(HtpasswdFileTest, LooksUpUsers) {
  write(path_, "alice:" + kHashA + "\n");
  HtpasswdFile file(path_, logger(), std::chrono::milliseconds(0));
  EXPECT_EQ(file.hash_for("alice"), kHashA);
  EXPECT_EQ(file.hash_for("bob"), std::nullopt);
  EXPECT_EQ(file.hash_for(""), std::nullopt);
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(HtpasswdFileTest, PicksUpAnAddedUser) {
  write(path_, "alice:" + kHashA + "\n");
  HtpasswdFile file(path_, logger(), std::chrono::milliseconds(0));
  ASSERT_EQ(file.hash_for("bob"), std::nullopt);
  write(path_, "alice:" + kHashA + "\nbob:" + kHashB + "\n");
  EXPECT_EQ(file.hash_for("bob"), kHashB);
  EXPECT_EQ(file.hash_for("alice"), kHashA);
}

TEST_F(HtpasswdFileTest, WaitsForTheCheckInterval) {
  write(path_, "alice:" + kHashA + "\n");
  HtpasswdFile file(path_, logger(), std::chrono::hours(1));
  write(path_, "alice:" + kHashA + "\nbob:" + kHashB + "\n");
  // Not re-read before the hour is over (the file was read in the constructor).
  EXPECT_EQ(file.hash_for("bob"), std::nullopt);
  EXPECT_EQ(file.hash_for("alice"), kHashA);
}

// A replacement written beside the file and renamed over it, with the same size and the
// same modification time: only the inode tells them apart.
TEST_F(HtpasswdFileTest, PicksUpAReplaceByRename) {
  write(path_, "alice:" + kHashA + "\n");
  HtpasswdFile file(path_, logger(), std::chrono::milliseconds(0));
  ASSERT_EQ(file.hash_for("alice"), kHashA);

  const auto replacement = dir_ / "htpasswd.new";
  write(replacement, "alice:" + kHashB + "\n");
  std::filesystem::last_write_time(replacement, std::filesystem::last_write_time(path_));
  ASSERT_EQ(std::filesystem::file_size(replacement), std::filesystem::file_size(path_));
  std::filesystem::rename(replacement, path_);

  EXPECT_EQ(file.hash_for("alice"), kHashB);
}

TEST_F(HtpasswdFileTest, RefusedLineIsWarnedOncePerChange) {
  write(path_, "alice:" + kHashA + "\nmallory:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/\n");
  HtpasswdFile file(path_, logger(), std::chrono::milliseconds(0));
  EXPECT_EQ(file.hash_for("mallory"), std::nullopt);
  EXPECT_EQ(file.hash_for("alice"), kHashA);
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_THAT(warnings_[0], AllOf(HasSubstr("line 2"), HasSubstr("mallory"), HasSubstr("MD5"),
                                  HasSubstr(path_.string())));

  write(path_, "alice:" + kHashA + "\nmallory:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/\n# x\n");
  EXPECT_EQ(file.hash_for("alice"), kHashA);
  EXPECT_EQ(warnings_.size(), 2u);  // the file changed, so its problems are told again
}

TEST_F(HtpasswdFileTest, DeletedFileMeansNoUsersAndOneWarning) {
  write(path_, "alice:" + kHashA + "\n");
  HtpasswdFile file(path_, logger(), std::chrono::milliseconds(0));
  ASSERT_EQ(file.hash_for("alice"), kHashA);
  std::filesystem::remove(path_);
  EXPECT_EQ(file.hash_for("alice"), std::nullopt);
  EXPECT_EQ(file.hash_for("alice"), std::nullopt);
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_THAT(warnings_[0], AllOf(HasSubstr(path_.string()), HasSubstr("No such file")));

  // Back again: loaded, and a second disappearance is reported again.
  write(path_, "alice:" + kHashA + "\n");
  EXPECT_EQ(file.hash_for("alice"), kHashA);
  std::filesystem::remove(path_);
  EXPECT_EQ(file.hash_for("alice"), std::nullopt);
  EXPECT_EQ(warnings_.size(), 2u);
}

TEST_F(HtpasswdFileTest, MissingAtStartIsPickedUpWhenCreated) {
  HtpasswdFile file(path_, logger(), std::chrono::milliseconds(0));
  EXPECT_EQ(file.hash_for("alice"), std::nullopt);
  EXPECT_EQ(warnings_.size(), 1u);
  write(path_, "alice:" + kHashA + "\n");
  EXPECT_EQ(file.hash_for("alice"), kHashA);
}

TEST_F(HtpasswdFileTest, DirectoryInsteadOfFileMeansNoUsers) {
  std::filesystem::create_directories(path_);
  HtpasswdFile file(path_, logger(), std::chrono::milliseconds(0));
  EXPECT_EQ(file.hash_for("alice"), std::nullopt);
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_THAT(warnings_[0], HasSubstr("not a regular file"));
}

TEST_F(HtpasswdFileTest, WorksWithoutALogger) {
  HtpasswdFile file(path_, nullptr, std::chrono::milliseconds(0));
  EXPECT_EQ(file.hash_for("alice"), std::nullopt);
  write(path_, "alice:plain\nbob:" + kHashB + "\n");
  EXPECT_EQ(file.hash_for("bob"), kHashB);
}

}  // namespace
}  // namespace berth::auth
