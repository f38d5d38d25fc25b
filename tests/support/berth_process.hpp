// Starts the built berth binary as a child process for black-box tests: a fresh temporary data
// directory (or a given one), 127.0.0.1 on a port the kernel picks, stderr captured to a log
// file. The destructor stops it with SIGTERM (and SIGKILL if it does not exit).
//
// BerthCommand and run_berth run the other subcommands (`berth gc`, `check`, `backup`,
// `user add`, ...): to completion, or in the background for a test that kills one mid-run.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::testing {

// The path of the berth binary under test: $BERTH_BINARY, set by CTest.
std::filesystem::path berth_binary();

// A temporary directory removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct BerthOptions {
  // Data directory; empty: a fresh temporary one owned by the process object.
  std::filesystem::path data;
  // Extra arguments for `berth serve`.
  std::vector<std::string> args;
  // Extra environment variables.
  std::map<std::string, std::string> env;
};

class BerthProcess {
 public:
  // Starts berth and waits until it listens (throws std::runtime_error with the log if it
  // does not within 30 s).
  explicit BerthProcess(BerthOptions options = {});
  ~BerthProcess();
  BerthProcess(const BerthProcess&) = delete;
  BerthProcess& operator=(const BerthProcess&) = delete;

  unsigned short port() const { return port_; }
  const std::filesystem::path& data() const { return data_; }
  pid_t pid() const { return pid_; }
  // Everything the server wrote to stderr so far.
  std::string log() const;

  // SIGTERM and wait; returns the exit status (as from waitpid's WEXITSTATUS, or 128+signal).
  int stop(std::chrono::seconds timeout = std::chrono::seconds(30));
  // SIGKILL and reap, as a crash would.
  void kill();
  bool running() const { return pid_ > 0; }

 private:
  std::optional<TempDir> owned_data_;
  std::filesystem::path data_;
  std::filesystem::path log_path_;
  std::filesystem::path port_file_;
  pid_t pid_ = -1;
  unsigned short port_ = 0;
};

// What a berth command printed and how it ended.
struct CommandResult {
  // The exit status, or 128 + the signal that ended it.
  int status = -1;
  std::string out;
  std::string err;
};

// A berth command running in the background: `input` on stdin, stdout and stderr kept in files.
// The destructor kills it (SIGKILL) if it still runs.
class BerthCommand {
 public:
  explicit BerthCommand(const std::vector<std::string>& args, std::string_view input = {});
  ~BerthCommand();
  BerthCommand(const BerthCommand&) = delete;
  BerthCommand& operator=(const BerthCommand&) = delete;

  pid_t pid() const { return pid_; }
  // Whether it still runs (reaps it when it has ended).
  bool running();
  // Waits for it to end.
  CommandResult wait();
  // SIGKILL, as a crash would, and reap; what it had printed.
  CommandResult kill();

 private:
  CommandResult result();

  TempDir scratch_;
  pid_t pid_ = -1;
  int status_ = -1;
};

// Runs the built berth with these arguments and `input` on stdin, and waits for it.
CommandResult run_berth(const std::vector<std::string>& args, std::string_view input = {});

}  // namespace berth::testing
