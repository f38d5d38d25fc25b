#include "auth/account_names.hpp"

#include <gtest/gtest.h>

#include <string>

namespace berth::auth {
namespace {

TEST(AccountNamesTest, AccountNames) {
  for (std::string_view ok : {"alice", "ci-bot", "a.b_c@example.com", "X1"}) {
    EXPECT_TRUE(valid_account_name(ok)) << ok;
  }
  for (std::string_view bad : {"", "robot$x", "a/b", "a:b", "a b", "ü"}) {
    EXPECT_FALSE(valid_account_name(bad)) << bad;
  }
  EXPECT_TRUE(valid_account_name(std::string(64, 'a')));
  EXPECT_FALSE(valid_account_name(std::string(65, 'a')));
}

TEST(AccountNamesTest, ProjectNamesAreOneRepositoryComponent) {
  for (std::string_view ok : {"ci", "cache", "team-a", "a.b", "a__b"}) {
    EXPECT_TRUE(valid_project_name(ok)) << ok;
  }
  for (std::string_view bad : {"", "CI", "a/b", "-a", "a-", "..", "a b"}) {
    EXPECT_FALSE(valid_project_name(bad)) << bad;
  }
}

}  // namespace
}  // namespace berth::auth
