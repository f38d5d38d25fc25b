// /proc readings of CPU per group of processes (cpu_watch.hpp).
#include "driver/cpu_watch.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "loadgen/workload.hpp"

namespace berth::bench {
namespace {

struct ProcCpu {
  pid_t parent = 0;
  double own = 0;       // utime + stime
  double children = 0;  // cutime + cstime: children that exited and were reaped
};

double ticks_per_second() { return static_cast<double>(sysconf(_SC_CLK_TCK)); }

// Fields of /proc/<pid>/stat after the command name (which may hold spaces).
bool read_stat(pid_t pid, ProcCpu& out) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close == std::string::npos) {
    return false;
  }
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> v;
  std::string value;
  while (fields >> value && v.size() < 16) {
    v.push_back(value);
  }
  // v[0] is field 3 (state): ppid is field 4, utime..cstime fields 14-17.
  if (v.size() < 15) {
    return false;
  }
  const double t = ticks_per_second();
  out.parent = static_cast<pid_t>(std::stol(v[1]));
  out.own = static_cast<double>(std::stoull(v[11]) + std::stoull(v[12])) / t;
  out.children = static_cast<double>(std::stoull(v[13]) + std::stoull(v[14])) / t;
  return true;
}

double tree_cpu(pid_t parent) {
  ProcCpu root;
  if (parent <= 0 || !read_stat(parent, root)) {
    return 0;
  }
  double total = root.own + root.children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const auto name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) {
      continue;
    }
    ProcCpu child;
    if (read_stat(static_cast<pid_t>(std::stol(name)), child) && child.parent == parent) {
      total += child.own;
    }
  }
  return total;
}

double machine_busy() {
  std::ifstream in("/proc/stat");
  std::string label;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                     steal = 0;
  in >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return static_cast<double>(user + nice + system + irq + softirq + steal) / ticks_per_second();
}

}  // namespace

CpuSample CpuSample::operator-(const CpuSample& earlier) const {
  CpuSample out = *this;
  for (auto& [name, seconds] : out.groups) {
    const auto it = earlier.groups.find(name);
    seconds -= it == earlier.groups.end() ? 0 : it->second;
  }
  out.machine -= earlier.machine;
  out.wall -= earlier.wall;
  return out;
}

CpuSample& CpuSample::operator+=(const CpuSample& other) {
  for (const auto& [name, seconds] : other.groups) {
    groups[name] += seconds;
  }
  machine += other.machine;
  wall += other.wall;
  return *this;
}

void CpuWatch::name(const std::string& group) {
  if (std::find(names_.begin(), names_.end(), group) == names_.end()) {
    names_.push_back(group);
  }
}

void CpuWatch::add(const std::string& group, std::vector<pid_t> pids) {
  name(group);
  auto& list = pids_[group];
  list.insert(list.end(), pids.begin(), pids.end());
}

void CpuWatch::add_tree(const std::string& group, pid_t parent) {
  name(group);
  trees_[group] = parent;
}

void CpuWatch::add_self(const std::string& group) {
  name(group);
  self_ = group;
}

CpuSample CpuWatch::sample() const {
  CpuSample out;
  for (const auto& [group, pids] : pids_) {
    double total = 0;
    for (const pid_t pid : pids) {
      ProcCpu cpu;
      if (pid > 0 && read_stat(pid, cpu)) {
        total += cpu.own;
      }
    }
    out.groups[group] += total;
  }
  for (const auto& [group, parent] : trees_) {
    out.groups[group] += tree_cpu(parent);
  }
  if (!self_.empty()) {
    out.groups[self_] += process_cpu_seconds();
  }
  out.machine = machine_busy();
  out.wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  return out;
}

pid_t read_pid_file(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  return in >> pid ? static_cast<pid_t>(pid) : 0;
}

}  // namespace berth::bench
