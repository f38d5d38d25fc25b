// fork/exec of the servers, /proc readings, and the small process helpers the driver needs.
#include "driver/server_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace berth::bench {
namespace {

std::system_error posix_error(const std::string& what) {
  return std::system_error(errno, std::generic_category(), what);
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

std::uint64_t status_kib(const std::string& status, const std::string& key) {
  const auto at = status.find("\n" + key + ":");
  if (at == std::string::npos) {
    return 0;
  }
  return std::stoull(status.substr(at + key.size() + 2));
}

}  // namespace

ProcessStats read_process_stats(pid_t pid) {
  ProcessStats stats;
  const auto dir = "/proc/" + std::to_string(pid);
  std::ifstream stat_file(dir + "/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces.
  const auto close = stat.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> values;
    std::string value;
    while (fields >> value) {
      values.push_back(value);
    }
    // values[0] is field 3 (state); utime and stime are fields 14 and 15.
    if (values.size() > 13) {
      const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
      stats.cpu_seconds =
          static_cast<double>(std::stoull(values[11]) + std::stoull(values[12])) / ticks;
    }
  }
  std::ifstream status_file(dir + "/status");
  std::string status = "\n" + std::string((std::istreambuf_iterator<char>(status_file)),
                                          std::istreambuf_iterator<char>());
  stats.peak_rss_kib = status_kib(status, "VmHWM");
  stats.rss_kib = status_kib(status, "VmRSS");
  stats.threads = status_kib(status, "Threads");
  return stats;
}

ServerProcess::ServerProcess(std::string name, std::vector<std::string> argv,
                             std::map<std::string, std::string> environment,
                             std::filesystem::path log)
    : name_(std::move(name)), log_(std::move(log)) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    // Nothing of the caller's configures a server under test.
    if (entry.starts_with("BERTH_") || entry.starts_with("REGISTRY_")) {
      continue;
    }
    if (!environment.contains(entry.substr(0, entry.find('=')))) {
      env.push_back(entry);
    }
  }
  for (const auto& [key, value] : environment) {
    env.push_back(key + "=" + value);
  }
  auto args = c_strings(argv);
  auto envp = c_strings(env);
  const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    throw posix_error("open " + log_.string());
  }
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(log_fd);
    throw posix_error("fork");
  }
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    ::setpgid(0, 0);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, STDIN_FILENO);
    ::execvpe(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
}

ServerProcess::~ServerProcess() { stop(); }

bool ServerProcess::running() const {
  if (pid_ <= 0) {
    return false;
  }
  int status = 0;
  return ::waitpid(pid_, &status, WNOHANG) == 0;
}

ProcessStats ServerProcess::stats() const { return read_process_stats(pid_); }

void ServerProcess::reset_peak() const {
  std::ofstream clear("/proc/" + std::to_string(pid_) + "/clear_refs");
  clear << "5";
}

void ServerProcess::stop() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 200; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

unsigned short pick_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw posix_error("socket");
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw posix_error("bind");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

CommandOutput run_command(const std::vector<std::string>& argv,
                          const std::filesystem::path& input) {
  const auto quoted = [](const std::string& text) {
    std::string out = "'";
    for (char c : text) {
      out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return out + "' ";
  };
  std::string command;
  for (const auto& arg : argv) {
    command += quoted(arg);
  }
  if (!input.empty()) {
    command += "<" + quoted(input.string());
  }
  command += "2>&1";
  CommandOutput out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    throw posix_error("popen");
  }
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    out.output.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

}  // namespace berth::bench
