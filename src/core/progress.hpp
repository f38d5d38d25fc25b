// Progress of a long command (`berth gc`, `backup`, `restore`, `check`): the lifecycle code
// reports figures through a ProgressCallback and knows nothing of terminals; a
// ProgressReporter turns them into what a person or a script reads.
//
// On a terminal the reporter rewrites one line in place ("\r... \x1b[K"), at most once per
// interval so that a fast loop does not flood the terminal: items and bytes done of the total
// when the total is known, and the rate. Anywhere else (a pipe, a log file) it writes nothing
// until finish(), then one summary line without escape codes.
//
// Not thread-safe: callers that report from several threads serialize the calls (the callback
// runs under the caller's lock).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace berth::core {

struct Progress {
  std::uint64_t items = 0;
  // 0: unknown.
  std::uint64_t items_total = 0;
  std::uint64_t bytes = 0;
  // 0: unknown.
  std::uint64_t bytes_total = 0;
};

// Cheap, called often; empty: nobody listens.
using ProgressCallback = std::function<void(const Progress&)>;

class ProgressReporter {
 public:
  using Write = std::function<void(std::string_view)>;
  using Now = std::function<std::chrono::steady_clock::time_point()>;

  // `label` starts every line ("backup"); `items` names what is counted ("blobs").
  ProgressReporter(std::string label, std::string items, bool terminal, Write write, Now now,
                   std::chrono::milliseconds interval = std::chrono::milliseconds(200));

  void update(const Progress& progress);
  // The last line: on a terminal the progress line a last time and a newline; elsewhere the
  // summary line. `outcome` is appended ("3 damaged").
  void finish(std::string_view outcome = {});

  // "12/40 blobs, 1.5 MiB/6.0 MiB, 750.0 KiB/s" (the rate once time has passed).
  [[nodiscard]] std::string figures() const;

 private:
  std::string label_;
  std::string items_;
  bool terminal_;
  Write write_;
  Now now_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
  bool drawn_ = false;
  Progress progress_;
};

}  // namespace berth::core
