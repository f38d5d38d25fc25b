#include "berth_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace berth::testing {

namespace {

// In a forked child: runs the program argv_text names (127 if it cannot).
[[noreturn]] void exec_child(std::vector<std::string>& argv_text) {
  std::vector<char*> argv;
  for (auto& arg : argv_text) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
  _exit(127);
}

std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int exit_status(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

std::filesystem::path berth_binary() {
  const char* path = std::getenv("BERTH_BINARY");
  if (path == nullptr || *path == '\0') {
    throw std::runtime_error("BERTH_BINARY is not set (CTest sets it to the built berth)");
  }
  return path;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "berth-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

BerthProcess::BerthProcess(BerthOptions options) {
  if (options.data.empty()) {
    owned_data_.emplace();
    data_ = owned_data_->path() / "data";
  } else {
    data_ = options.data;
  }
  static std::atomic<int> counter{0};
  auto scratch = std::filesystem::temp_directory_path() /
                 ("berth-proc-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(scratch);
  log_path_ = scratch / "berth.log";
  port_file_ = scratch / "port";
  std::filesystem::remove(port_file_);

  std::vector<std::string> argv_text = {
      berth_binary().string(), "serve",       "--listen",         "127.0.0.1:0", "--data",
      data_.string(),          "--port-file", port_file_.string()};
  argv_text.insert(argv_text.end(), options.args.begin(), options.args.end());

  pid_ = fork();
  if (pid_ < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    for (const auto& [key, value] : options.env) {
      setenv(key.c_str(), value.c_str(), 1);
    }
    exec_child(argv_text);
  }

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(port_file_);
    unsigned port = 0;
    if (in >> port && port != 0) {
      port_ = static_cast<unsigned short>(port);
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("berth exited before listening:\n" + log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill();
  throw std::runtime_error("berth did not start listening within 30 s:\n" + log());
}

BerthProcess::~BerthProcess() {
  if (pid_ > 0) {
    stop(std::chrono::seconds(10));
  }
  std::error_code ec;
  std::filesystem::remove_all(log_path_.parent_path(), ec);
}

std::string BerthProcess::log() const { return file_text(log_path_); }

int BerthProcess::stop(std::chrono::seconds timeout) {
  if (pid_ <= 0) {
    return -1;
  }
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return exit_status(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill();
  return 128 + SIGKILL;
}

void BerthProcess::kill() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

BerthCommand::BerthCommand(const std::vector<std::string>& args, std::string_view input) {
  const auto in_path = scratch_.path() / "stdin";
  const auto out_path = scratch_.path() / "stdout";
  const auto err_path = scratch_.path() / "stderr";
  {
    std::ofstream in(in_path, std::ios::binary);
    in << input;
  }
  std::vector<std::string> argv_text{berth_binary().string()};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  pid_ = fork();
  if (pid_ < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    const int in = open(in_path.c_str(), O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) {
      _exit(126);
    }
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    exec_child(argv_text);
  }
}

BerthCommand::~BerthCommand() {
  if (pid_ > 0) {
    kill();
  }
}

bool BerthCommand::running() {
  if (pid_ <= 0) {
    return false;
  }
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    status_ = exit_status(status);
    return false;
  }
  return true;
}

CommandResult BerthCommand::wait() {
  if (pid_ > 0) {
    int status = 0;
    if (waitpid(pid_, &status, 0) != pid_) {
      throw std::runtime_error("waitpid failed");
    }
    pid_ = -1;
    status_ = exit_status(status);
  }
  return result();
}

CommandResult BerthCommand::kill() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
  }
  return wait();
}

CommandResult BerthCommand::result() {
  CommandResult result;
  result.status = status_;
  result.out = file_text(scratch_.path() / "stdout");
  result.err = file_text(scratch_.path() / "stderr");
  return result;
}

CommandResult run_berth(const std::vector<std::string>& args, std::string_view input) {
  return BerthCommand(args, input).wait();
}

}  // namespace berth::testing
