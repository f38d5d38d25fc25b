// The process log's writer: callers hand over formatted lines and return at once; one thread
// writes what has gathered to a file descriptor (stderr) with write(2), so that an event-loop
// thread never waits on a terminal, a pipe or a disk to log a request.
//
// Written here rather than spdlog's async logger: that one preallocates a message slot for every
// line it may hold (2048 slots of ~400 bytes, 0.8 MB, the largest private mapping of an idle
// server) and still holds only 2048 lines through a stall of whoever reads stderr. This buffer
// takes memory only while lines wait, up to a bound (8 MiB: some seconds of access log at full
// load), and gives it back once they are written. Past the bound lines are dropped, counted, and
// the count is written when the reader catches up.
#pragma once

#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/sink.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace berth::server {

class LogWriter {
 public:
  struct Options {
    int fd = 2;
    std::size_t max_pending_bytes = std::size_t{8} << 20;
    // The line that reports `count` dropped lines, in the log's format.
    std::function<std::string(std::uint64_t count)> dropped_line;
  };

  explicit LogWriter(Options options);
  // Writes what is pending, then stops the thread.
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Queues whole lines (each with its newline). Never waits for the descriptor; drops the lines
  // if max_pending_bytes are already waiting.
  void append(std::string_view lines);
  // Returns once every line appended before it has been written (or its write failed).
  void flush();

  // Lines dropped since the start because too many were waiting.
  [[nodiscard]] std::uint64_t dropped() const;
  // Memory held for waiting lines and the batch being written, in bytes of capacity.
  [[nodiscard]] std::size_t buffered_capacity() const;

 private:
  void run();
  void write_out(const std::string& batch) const;

  const Options options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_writer_;
  std::condition_variable written_;
  std::string pending_;
  std::string writing_;
  std::uint64_t appended_ = 0;  // appends accepted so far
  std::uint64_t done_ = 0;      // of them, written (or failed)
  std::uint64_t dropped_ = 0;
  std::uint64_t dropped_unreported_ = 0;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

// A spdlog sink that formats on the caller's thread and hands the line to a LogWriter. Each
// thread formats with its own copy of the sink's formatter (spdlog's keeps per-call state), so
// the only lock a line takes is the writer's, for a copy: spdlog's base_sink would hold one
// mutex through the formatting, and an event-loop thread preempted there stalls every other
// one that logs (p99 of manifest HEADs with the access log on: 4.7 ms against 3.6 ms before).
// Several sinks, each with its own format, may share one writer: their lines come out in the
// order they were logged.
class LogWriterSink final : public spdlog::sinks::sink {
 public:
  explicit LogWriterSink(std::shared_ptr<LogWriter> writer);

  void log(const spdlog::details::log_msg& msg) override;
  // Lines go out as soon as the writer thread gets to them; shutdown waits for them.
  void flush() override {}
  void set_pattern(const std::string& pattern) override;
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override;

 private:
  // The formatter this thread uses for this sink, cloned when the sink's has changed.
  spdlog::formatter& thread_formatter();

  std::shared_ptr<LogWriter> writer_;
  std::mutex mutex_;  // guards formatter_ and generation_'s changes
  std::unique_ptr<spdlog::formatter> formatter_;
  // Numbers every formatter any sink was given, so that a thread's copy is known stale.
  std::atomic<std::uint64_t> generation_;
};

}  // namespace berth::server
