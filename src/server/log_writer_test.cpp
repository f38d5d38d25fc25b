// The log's writer thread: lines come out whole and in order, a stalled reader costs dropped
// lines (counted and reported) instead of waiting callers or unbounded memory, and the memory
// of a burst is given back once it is written.
#include "server/log_writer.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace berth::server {
namespace {

// Both ends of a pipe; a thread of the test reads what the writer wrote.
class Pipe {
 public:
  Pipe() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
  }
  ~Pipe() {
    (void)finish();
    ::close(fds_[0]);
  }
  int write_end() const { return fds_[1]; }
  // Reads everything until the write end is closed, on a thread of its own.
  void start_reading() {
    reader_ = std::thread([this] {
      char buffer[65536];
      ssize_t n = 0;
      while ((n = ::read(fds_[0], buffer, sizeof buffer)) > 0) {
        read_.append(buffer, static_cast<std::size_t>(n));
      }
    });
  }
  // Closes the write end (whoever wrote to it is done) and returns everything read.
  std::string finish() {
    if (fds_[1] >= 0) {
      ::close(fds_[1]);
      fds_[1] = -1;
    }
    if (reader_.joinable()) {
      reader_.join();
    }
    return read_;
  }

 private:
  int fds_[2] = {-1, -1};
  std::thread reader_;
  std::string read_;
};

std::string dropped_notice(std::uint64_t count) {
  return "dropped " + std::to_string(count) + "\n";
}

TEST(LogWriter, LinesFromManyThreadsComeOutWholeAndEachThreadsInOrder) {
  Pipe pipe;
  constexpr int kThreads = 4;
  constexpr int kLines = 2000;
  pipe.start_reading();
  {
    auto writer = std::make_shared<LogWriter>(
        LogWriter::Options{.fd = pipe.write_end(), .dropped_line = dropped_notice});
    {
      std::vector<std::jthread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&writer, t] {
          for (int i = 0; i < kLines; ++i) {
            writer->append("thread " + std::to_string(t) + " line " + std::to_string(i) + "\n");
          }
        });
      }
    }
    writer->flush();
    EXPECT_EQ(writer->dropped(), 0u);
    writer.reset();  // writes what is left and stops
  }
  const std::string written = pipe.finish();
  std::vector<int> next(kThreads, 0);
  std::size_t start = 0;
  int lines = 0;
  while (start < written.size()) {
    const std::size_t end = written.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "a line without its newline";
    const std::string line = written.substr(start, end - start);
    int thread = -1;
    int index = -1;
    ASSERT_EQ(std::sscanf(line.c_str(), "thread %d line %d", &thread, &index), 2) << line;
    ASSERT_GE(thread, 0);
    ASSERT_LT(thread, kThreads);
    EXPECT_EQ(index, next[thread]) << "thread " << thread << "'s lines out of order";
    next[thread] = index + 1;
    ++lines;
    start = end + 1;
  }
  EXPECT_EQ(lines, kThreads * kLines);
}

TEST(LogWriter, AStalledReaderCostsDroppedLinesThatAreReportedOnceItReads) {
  Pipe pipe;
  // Nobody reads yet: the pipe fills (64 KiB), the writer thread blocks in write(2), and past
  // 4 KiB of waiting lines append() drops instead of waiting.
  auto writer = std::make_shared<LogWriter>(LogWriter::Options{
      .fd = pipe.write_end(), .max_pending_bytes = 4096, .dropped_line = dropped_notice});
  const std::string line(99, 'x');
  for (int i = 0; i < 5000; ++i) {
    writer->append(line + "\n");  // 500 kB in all: returns although nothing is read
  }
  EXPECT_GT(writer->dropped(), 0u);
  const auto dropped = writer->dropped();
  pipe.start_reading();
  writer->flush();
  writer.reset();
  const std::string written = pipe.finish();
  EXPECT_NE(written.find("dropped "), std::string::npos) << "no notice of the dropped lines";
  // Every line is either written whole or counted as dropped.
  std::uint64_t whole = 0;
  std::uint64_t reported = 0;
  std::size_t start = 0;
  while (start < written.size()) {
    const std::size_t end = written.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    const std::string_view text(written.data() + start, end - start);
    if (text == line) {
      ++whole;
    } else {
      ASSERT_TRUE(text.starts_with("dropped ")) << text;
      reported += std::stoull(std::string(text.substr(8)));
    }
    start = end + 1;
  }
  EXPECT_EQ(whole + dropped, 5000u);
  EXPECT_EQ(reported, dropped);
}

TEST(LogWriter, TheMemoryOfABurstIsGivenBackOnceItIsWritten) {
  Pipe pipe;
  pipe.start_reading();
  {
    LogWriter writer(LogWriter::Options{.fd = pipe.write_end(), .dropped_line = dropped_notice});
    const std::string line(1023, 'y');
    for (int i = 0; i < 2048; ++i) {
      writer.append(line + "\n");  // 2 MiB, faster than the pipe drains
    }
    writer.flush();
    EXPECT_LE(writer.buffered_capacity(), 32u * 1024);
    EXPECT_EQ(writer.dropped(), 0u);
  }
  const std::string written = pipe.finish();
  EXPECT_EQ(written.size(), 2048u * 1024);
}

TEST(LogWriterSink, LoggersSharingAWriterKeepTheirOwnFormats) {
  Pipe pipe;
  pipe.start_reading();
  {
    auto writer = std::make_shared<LogWriter>(
        LogWriter::Options{.fd = pipe.write_end(), .dropped_line = dropped_notice});
    spdlog::logger main("main", std::make_shared<LogWriterSink>(writer));
    spdlog::logger access("access", std::make_shared<LogWriterSink>(writer));
    main.set_pattern("main %l %v");
    access.set_pattern("access %v");
    main.info("started");
    access.info("GET /v2/");
    main.warn("slow");
    writer->flush();
  }
  const std::string written = pipe.finish();
  EXPECT_EQ(written, "main info started\naccess GET /v2/\nmain warning slow\n");
}

TEST(LogWriterSink, ANewPatternReachesAThreadThatLoggedBefore) {
  Pipe pipe;
  pipe.start_reading();
  {
    auto writer = std::make_shared<LogWriter>(
        LogWriter::Options{.fd = pipe.write_end(), .dropped_line = dropped_notice});
    spdlog::logger logger("main", std::make_shared<LogWriterSink>(writer));
    logger.set_pattern("first %v");
    logger.info("a");
    std::thread([&] { logger.info("b"); }).join();
    logger.set_pattern("second %v");
    logger.info("c");
    writer->flush();
  }
  const std::string written = pipe.finish();
  EXPECT_EQ(written, "first a\nfirst b\nsecond c\n");
}

}  // namespace
}  // namespace berth::server
