// ProgressReporter on a fake clock, into a string: a rewritten line on a terminal (no more
// often than the interval), one plain summary line elsewhere.
#include "core/progress.hpp"

#include <gtest/gtest.h>

#include <string>

namespace berth::core {
namespace {

using namespace std::chrono_literals;

struct Fixture {
  std::string out;
  std::chrono::steady_clock::time_point now{};
  ProgressReporter reporter(bool terminal) {
    return ProgressReporter(
        "backup", "blobs", terminal, [this](std::string_view text) { out += text; },
        [this] { return now; }, 200ms);
  }
};

TEST(ProgressReporter, ATerminalGetsOneLineRewrittenAtMostEveryInterval) {
  Fixture f;
  auto reporter = f.reporter(true);
  f.now += 1s;
  reporter.update({.items = 1, .items_total = 4, .bytes = 1024, .bytes_total = 4096});
  EXPECT_EQ(f.out, "\rbackup: 1/4 blobs, 1.0 KiB/4.0 KiB, 1.0 KiB/s\x1b[K");
  f.out.clear();
  f.now += 100ms;  // within the interval: not drawn
  reporter.update({.items = 2, .items_total = 4, .bytes = 2048, .bytes_total = 4096});
  EXPECT_EQ(f.out, "");
  f.now += 900ms;
  reporter.update({.items = 3, .items_total = 4, .bytes = 4096, .bytes_total = 4096});
  EXPECT_EQ(f.out, "\rbackup: 3/4 blobs, 4.0 KiB/4.0 KiB, 2.0 KiB/s\x1b[K");
  f.out.clear();
  reporter.update({.items = 4, .items_total = 4, .bytes = 4096, .bytes_total = 4096});
  reporter.finish("2 damaged");
  EXPECT_EQ(f.out, "\rbackup: 4/4 blobs, 4.0 KiB/4.0 KiB, 2.0 KiB/s in 2.0 s, 2 damaged\x1b[K\n");
}

TEST(ProgressReporter, AScriptGetsOnlyTheSummaryLineWithoutEscapes) {
  Fixture f;
  auto reporter = f.reporter(false);
  for (int i = 1; i <= 100; ++i) {
    f.now += 10ms;
    reporter.update({.items = static_cast<std::uint64_t>(i), .items_total = 100});
  }
  EXPECT_EQ(f.out, "");
  reporter.finish();
  EXPECT_EQ(f.out, "backup: 100/100 blobs in 1.0 s\n");
}

TEST(ProgressReporter, UnknownTotalsAreLeftOut) {
  Fixture f;
  auto reporter = f.reporter(false);
  f.now += 2s;
  reporter.update({.items = 7, .bytes = 3 * 1024 * 1024});
  reporter.finish();
  EXPECT_EQ(f.out, "backup: 7 blobs, 3.0 MiB, 1.5 MiB/s in 2.0 s\n");
}

}  // namespace
}  // namespace berth::core
