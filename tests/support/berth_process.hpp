// Starts the built berth binary as a child process for black-box tests: a fresh temporary data
// directory (or a given one), 127.0.0.1 on a port the kernel picks, stderr captured to a log
// file. The destructor stops it with SIGTERM (and SIGKILL if it does not exit).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
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

}  // namespace berth::testing
