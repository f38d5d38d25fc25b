// A server under measurement, run as a child process: started with its own log file, stopped
// with SIGTERM (SIGKILL after a grace period), and observed through /proc:
//   CPU seconds   utime + stime from /proc/<pid>/stat (every thread, dead ones included)
//   peak RSS      VmHWM from /proc/<pid>/status, reset by writing "5" to /proc/<pid>/clear_refs
//   RSS           VmRSS
// Children get PR_SET_PDEATHSIG, so an interrupted bench leaves no server behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace berth::bench {

struct ProcessStats {
  double cpu_seconds = 0;
  std::uint64_t peak_rss_kib = 0;
  std::uint64_t rss_kib = 0;
  std::uint64_t threads = 0;
};

class ServerProcess {
 public:
  // Starts argv[0] (searched in PATH) with `environment` added to ours; stdout and stderr go
  // to `log`.
  ServerProcess(std::string name, std::vector<std::string> argv,
                std::map<std::string, std::string> environment, std::filesystem::path log);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& log() const { return log_; }
  bool running() const;

  ProcessStats stats() const;
  // Resets VmHWM to the current RSS.
  void reset_peak() const;
  void stop();

 private:
  std::string name_;
  pid_t pid_ = -1;
  std::filesystem::path log_;
};

// Reads /proc/<pid>/stat and /proc/<pid>/status.
ProcessStats read_process_stats(pid_t pid);

// A port that was free a moment ago on 127.0.0.1.
unsigned short pick_free_port();

// Runs a command to completion, returning its exit status and what it printed (stdout and
// stderr together); its stdin is `input` if given.
struct CommandOutput {
  int status = -1;
  std::string output;
};
CommandOutput run_command(const std::vector<std::string>& argv,
                          const std::filesystem::path& input = {});

}  // namespace berth::bench
