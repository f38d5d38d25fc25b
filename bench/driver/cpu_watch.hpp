// Where the CPU goes on the machine during a round: the CPU seconds of named groups of
// processes and of the whole machine, read from /proc before and after.
//
//   a process        utime + stime of /proc/<pid>/stat (all its threads)
//   a process tree   the same of a parent (PostgreSQL's postmaster) plus its reaped children
//                    (cutime + cstime) plus every live child's utime + stime: backends that
//                    come and go are counted
//   the machine      user + nice + system + irq + softirq + steal of /proc/stat's "cpu" line
//
// The machine's figure less every group is "the rest": other people's builds on a shared
// machine, and kernel work not charged to a process.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace berth::bench {

struct CpuSample {
  std::map<std::string, double> groups;  // CPU seconds so far, per group
  double machine = 0;                    // busy CPU seconds of all cores so far
  double wall = 0;                       // steady clock, seconds

  // This sample minus an earlier one.
  CpuSample operator-(const CpuSample& earlier) const;
  CpuSample& operator+=(const CpuSample& other);
};

class CpuWatch {
 public:
  // Processes whose CPU adds up to `group`.
  void add(const std::string& group, std::vector<pid_t> pids);
  // A parent and all its children, as one group.
  void add_tree(const std::string& group, pid_t parent);
  // The group's figure is this process's own CPU (getrusage: the load generator).
  void add_self(const std::string& group);

  CpuSample sample() const;
  // The group names, in the order they were added.
  const std::vector<std::string>& names() const { return names_; }

 private:
  void name(const std::string& group);

  std::vector<std::string> names_;
  std::map<std::string, std::vector<pid_t>> pids_;
  std::map<std::string, pid_t> trees_;
  std::string self_;
};

// The first line of a pid file as a pid; 0 if it cannot be read.
pid_t read_pid_file(const std::string& path);

}  // namespace berth::bench
