#include "server/log_writer.hpp"

#include <spdlog/pattern_formatter.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>
#include <vector>

namespace berth::server {
namespace {

// What a drained buffer keeps for the next batch; a burst's larger buffer is given back.
constexpr std::size_t kKeptCapacity = 16 * 1024;

void release_if_large(std::string& buffer) {
  buffer.clear();
  if (buffer.capacity() > kKeptCapacity) {
    std::string().swap(buffer);
  }
}

}  // namespace

LogWriter::LogWriter(Options options) : options_(std::move(options)) {
  thread_ = std::thread([this] { run(); });
}

LogWriter::~LogWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_writer_.notify_one();
  thread_.join();
}

void LogWriter::append(std::string_view lines) {
  bool was_idle = false;
  {
    std::lock_guard lock(mutex_);
    if (pending_.size() + lines.size() > options_.max_pending_bytes) {
      ++dropped_;
      ++dropped_unreported_;
      return;
    }
    was_idle = pending_.empty();
    pending_.append(lines);
    ++appended_;
  }
  if (was_idle) {
    wake_writer_.notify_one();
  }
}

void LogWriter::flush() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = appended_;
  written_.wait(lock, [&] { return done_ >= target; });
}

std::uint64_t LogWriter::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

std::size_t LogWriter::buffered_capacity() const {
  std::lock_guard lock(mutex_);
  return pending_.capacity() + writing_.capacity();
}

void LogWriter::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_writer_.wait(lock, [&] { return !pending_.empty() || stopping_; });
    if (pending_.empty()) {
      return;  // stopping, and everything is written
    }
    // writing_ is empty here: the last batch was cleared before the lock was taken back.
    std::swap(pending_, writing_);
    const std::uint64_t taken = appended_;
    const std::uint64_t dropped = std::exchange(dropped_unreported_, 0);
    lock.unlock();
    if (dropped > 0 && options_.dropped_line) {
      writing_ += options_.dropped_line(dropped);
    }
    write_out(writing_);
    lock.lock();
    release_if_large(writing_);
    done_ = taken;
    written_.notify_all();
  }
}

// A failed write (stderr closed, a full disk behind a redirect) loses the batch: there is
// nowhere left to report it.
void LogWriter::write_out(const std::string& batch) const {
  std::string_view rest = batch;
  while (!rest.empty()) {
    const ssize_t n = ::write(options_.fd, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

namespace {

std::atomic<std::uint64_t> g_formatter_generation{0};

// A thread's copy of one sink's formatter. Entries of sinks since destroyed stay until the
// thread ends (a few, from earlier setups); a new sink at a freed address has a new generation.
struct ThreadFormatter {
  const LogWriterSink* sink;
  std::uint64_t generation;
  std::unique_ptr<spdlog::formatter> formatter;
};

}  // namespace

LogWriterSink::LogWriterSink(std::shared_ptr<LogWriter> writer)
    : writer_(std::move(writer)),
      formatter_(std::make_unique<spdlog::pattern_formatter>()),
      generation_(++g_formatter_generation) {}

void LogWriterSink::set_pattern(const std::string& pattern) {
  set_formatter(std::make_unique<spdlog::pattern_formatter>(pattern));
}

void LogWriterSink::set_formatter(std::unique_ptr<spdlog::formatter> formatter) {
  std::lock_guard lock(mutex_);
  formatter_ = std::move(formatter);
  generation_.store(++g_formatter_generation, std::memory_order_release);
}

spdlog::formatter& LogWriterSink::thread_formatter() {
  thread_local std::vector<ThreadFormatter> formatters;
  const std::uint64_t generation = generation_.load(std::memory_order_acquire);
  auto it = std::ranges::find(formatters, this, &ThreadFormatter::sink);
  if (it != formatters.end() && it->generation == generation) {
    return *it->formatter;
  }
  std::unique_ptr<spdlog::formatter> copy;
  std::uint64_t copied = 0;
  {
    std::lock_guard lock(mutex_);
    copy = formatter_->clone();
    copied = generation_.load(std::memory_order_relaxed);
  }
  if (it == formatters.end()) {
    formatters.push_back({this, copied, std::move(copy)});
    return *formatters.back().formatter;
  }
  it->generation = copied;
  it->formatter = std::move(copy);
  return *it->formatter;
}

void LogWriterSink::log(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t formatted;
  thread_formatter().format(msg, formatted);
  writer_->append(std::string_view(formatted.data(), formatted.size()));
}

}  // namespace berth::server
