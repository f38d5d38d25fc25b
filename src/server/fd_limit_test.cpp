// Raising the open-file limit toward what http.max_connections needs.
#include "server/fd_limit.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace berth::server {
namespace {

rlimit current() {
  rlimit limit{};
  EXPECT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  return limit;
}

// Puts the soft limit back as it was.
class SoftLimit {
 public:
  SoftLimit() : saved_(current()) {}
  ~SoftLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  void set(rlim_t soft) {
    rlimit lowered = saved_;
    lowered.rlim_cur = soft;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
  }
  const rlimit& saved() const { return saved_; }

 private:
  rlimit saved_;
};

TEST(FdLimit, ALowSoftLimitIsRaisedTowardWhatTheConnectionsNeed) {
  SoftLimit soft;
  soft.set(64);
  const auto wanted = static_cast<rlim_t>(100 + kSpareDescriptors);
  const auto warning = raise_fd_limit(100);
  const rlim_t hard = soft.saved().rlim_max;
  if (hard == RLIM_INFINITY || hard >= wanted) {
    EXPECT_EQ(current().rlim_cur, wanted);
    EXPECT_FALSE(warning) << *warning;
  } else {
    EXPECT_EQ(current().rlim_cur, hard);
    ASSERT_TRUE(warning);
    EXPECT_NE(warning->find("http.max_connections"), std::string::npos) << *warning;
  }
}

TEST(FdLimit, AHardLimitBelowTheNeedIsWarnedOf) {
  SoftLimit soft;
  const rlim_t hard = soft.saved().rlim_max;
  if (hard == RLIM_INFINITY || hard < 16) {
    GTEST_SKIP() << "no finite hard limit to test against";
  }
  // More connections than the hard limit allows descriptors.
  const auto warning = raise_fd_limit(static_cast<std::size_t>(hard));
  ASSERT_TRUE(warning);
  EXPECT_NE(warning->find("ulimit -n"), std::string::npos) << *warning;
  EXPECT_EQ(current().rlim_cur, hard);
}

}  // namespace
}  // namespace berth::server
