// The registries' command lines, configurations and accounts (servers.hpp).
#include "driver/servers.hpp"

#include <sys/stat.h>

#include <fstream>
#include <map>
#include <stdexcept>

#include "driver/run_support.hpp"

namespace berth::bench {
namespace {

namespace fs = std::filesystem;

// `stem` names the data directory (<stem>-data), the port file and the log under `work`.
ServerUnderTest launch_berth(const ServerSettings& settings, const fs::path& work,
                             const std::string& stem, std::map<std::string, std::string> env,
                             unsigned ready_status) {
  ServerUnderTest server{.name = "Berth", .data = work / (stem + "-data")};
  fs::create_directories(server.data);
  const auto port_file = work / (stem + ".port");
  fs::remove(port_file);
  env.emplace("BERTH_LOG_ACCESS", settings.access_log ? "true" : "false");
  env.emplace("BERTH_LOG_LEVEL", settings.access_log ? "info" : "warn");
  server.process = std::make_unique<ServerProcess>(
      "berth",
      std::vector<std::string>{settings.berth, "serve", "--listen", "127.0.0.1:0", "--data",
                               server.data.string(), "--port-file", port_file.string()},
      std::move(env), work / (stem + ".log"));
  server.endpoint = loopback(wait_for_port_file(*server.process, port_file));
  wait_until_ready(server, "/v2/", ready_status);
  return server;
}

// Debian's /etc/docker/registry/config.yml without auth (filesystem storage, the in-memory blob
// descriptor cache, deletes enabled, the storage health check), plus `auth` (YAML, may be empty).
ServerUnderTest launch_distribution(const ServerSettings& settings, const fs::path& work,
                                    const std::string& stem, const std::string& auth) {
  ServerUnderTest server{.name = "Distribution", .data = work / (stem + "-data")};
  fs::create_directories(server.data);
  const auto port = pick_free_port();
  server.endpoint = loopback(port);
  const auto config = work / (stem + ".yml");
  std::ofstream(config) << "version: 0.1\n"
                        << "log:\n"
                        << "  level: " << (settings.access_log ? "info" : "warn") << "\n"
                        << "  accesslog:\n"
                        << "    disabled: " << (settings.access_log ? "false" : "true") << "\n"
                        << "storage:\n"
                        << "  cache:\n"
                        << "    blobdescriptor: inmemory\n"
                        << "  filesystem:\n"
                        << "    rootdirectory: " << server.data.string() << "\n"
                        << "  delete:\n"
                        << "    enabled: true\n"
                        << "http:\n"
                        << "  addr: 127.0.0.1:" << port << "\n"
                        << "health:\n"
                        << "  storagedriver:\n"
                        << "    enabled: true\n"
                        << "    interval: 10s\n"
                        << "    threshold: 3\n"
                        << auth;
  server.process = std::make_unique<ServerProcess>(
      "distribution", std::vector<std::string>{settings.distribution, "serve", config.string()},
      std::map<std::string, std::string>{{"REGISTRY_STORAGE_DELETE_ENABLED", "true"}},
      work / (stem + ".log"));
  wait_until_ready(server, "/v2/", auth.empty() ? 200 : 401);
  return server;
}

// Runs a berth command on `data` (stdin from `input` if given) and returns what it printed.
std::string berth_command(const ServerSettings& settings, const fs::path& data,
                          std::vector<std::string> args, const fs::path& input = {}) {
  std::vector<std::string> argv{settings.berth};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--data", data.string()});
  const auto out = run_command(argv, input);
  if (out.status != 0) {
    throw std::runtime_error("berth " + args.at(0) + " " + args.at(1) + " failed: " + out.output);
  }
  return out.output;
}

// The user, its project and the robot, made with the berth command line before the start (as an
// operator would); returns the robot's token.
std::string make_berth_accounts(const ServerSettings& settings, const fs::path& work,
                                const fs::path& data, const Accounts& accounts) {
  const auto password_file = work / "bench-password";
  std::ofstream(password_file) << accounts.user.password << "\n";
  ::chmod(password_file.c_str(), 0600);
  try {
    berth_command(settings, data, {"user", "add", accounts.user.user, "--init", "--password-stdin"},
                  password_file);
  } catch (...) {
    fs::remove(password_file);
    throw;
  }
  fs::remove(password_file);
  berth_command(settings, data, {"project", "create", "bench"});
  berth_command(settings, data,
                {"project", "member", "add", "bench", accounts.user.user, "writer"});
  // It prints the token alone on its last line.
  auto out = berth_command(settings, data,
                           {"robot", "create", "bench-puller", "--project", "bench:reader"});
  while (!out.empty() && out.back() == '\n') {
    out.pop_back();
  }
  return out.substr(out.rfind('\n') + 1);
}

// An htpasswd line for the user with a bcrypt hash of cost 12, Berth's cost.
std::string htpasswd_line(const Login& login) {
  const auto out = run_command({"htpasswd", "-nbB", "-C", "12", login.user, login.password});
  if (out.status != 0 || !out.output.starts_with(login.user + ":$2")) {
    throw std::runtime_error("htpasswd -nbB -C 12 failed (apt-get install apache2-utils): " +
                             out.output);
  }
  return out.output.substr(0, out.output.find('\n'));
}

}  // namespace

ServerUnderTest start_berth(const ServerSettings& settings, const fs::path& work) {
  return launch_berth(settings, work, "berth", {{"BERTH_AUTH_ENABLED", "false"}}, 200);
}

ServerUnderTest start_distribution(const ServerSettings& settings, const fs::path& work) {
  return launch_distribution(settings, work, "distribution", "");
}

AuthenticatedPair start_authenticated(const ServerSettings& settings, const fs::path& work,
                                      Accounts& accounts) {
  const auto berth_data = work / "berth-auth-data";
  fs::remove_all(berth_data);
  fs::remove_all(work / "distribution-auth-data");
  fs::create_directories(berth_data);
  const auto robot_token = make_berth_accounts(settings, work, berth_data, accounts);
  accounts.robot = {.user = "robot$bench-puller", .password = robot_token};

  const auto htpasswd = work / "distribution.htpasswd";
  std::ofstream(htpasswd) << htpasswd_line(accounts.user) << "\n";
  // With the defaults a check in progress counts against the per-user limit (10 from one
  // address) and 32 checks may wait: 64 clients of one user on loopback would mostly get 429,
  // which measures the flood guard rather than the sign-in.
  const std::map<std::string, std::string> env{
      {"BERTH_AUTH_ENABLED", "true"},
      {"BERTH_AUTH_MAX_LOGIN_FAILURES_PER_ADDRESS", "1000000"},
      {"BERTH_AUTH_MAX_LOGIN_FAILURES_PER_USER", "1000000"},
      {"BERTH_AUTH_PASSWORD_HASH_QUEUE", "100000"}};
  AuthenticatedPair pair{.berth = launch_berth(settings, work, "berth-auth", env, 401),
                         .distribution = launch_distribution(settings, work, "distribution-auth",
                                                             "auth:\n"
                                                             "  htpasswd:\n"
                                                             "    realm: berth-bench\n"
                                                             "    path: " +
                                                                 htpasswd.string() + "\n")};
  return pair;
}

}  // namespace berth::bench
