// A service for tests started by one of the project's scripts (scripts/radosgw.sh,
// scripts/postgres.sh: `NAME.sh start DIR` prints its address, `NAME.sh stop DIR` stops it) in a
// temporary directory, and stopped on destruction. When the environment names one already
// running (VAR=address, or VAR_FILE naming a file that holds it: a ctest fixture's), that one
// is used instead and nothing is started.
#pragma once

#include <filesystem>
#include <string>

namespace berth::testing {

struct ScriptServiceSpec {
  // scripts/<script>.sh
  std::string script;
  // A program whose absence means the service is not installed (a skip, or with CI=true an
  // error).
  std::string program;
  // What scripts/deps.sh calls it, for the skip message.
  std::string package;
  // The environment variable giving the address; with "_FILE" appended, a file holding it.
  std::string env;
};

class ScriptService {
 public:
  explicit ScriptService(const ScriptServiceSpec& spec);
  ~ScriptService();
  ScriptService(const ScriptService&) = delete;
  ScriptService& operator=(const ScriptService&) = delete;

  // What the script printed (or the environment gave); empty when not running.
  const std::string& address() const { return address_; }
  const std::string& skip_reason() const { return skip_reason_; }
  const std::string& error() const { return error_; }

 private:
  std::string script_;
  std::filesystem::path dir_;
  std::string address_;
  std::string skip_reason_;
  std::string error_;
};

}  // namespace berth::testing
