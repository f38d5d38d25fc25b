// Starting the registries under test (BENCHMARKS.md, "How it measures"):
// - the open pair: Berth with access control off, Distribution with Debian's config minus auth;
// - the authenticated pair of the auth-* scenarios: Berth with access control on, a user made
//   by `berth user add` (bcrypt cost 12), a project it may push to and a robot that may pull
//   from it; Distribution with `auth: htpasswd` and the same user, hashed at the same cost by
//   `htpasswd -B -C 12` (apache2-utils).
// Each server gets its own data directory under the work directory and its own log there.
#pragma once

#include <filesystem>
#include <string>

#include "driver/server_under_test.hpp"
#include "loadgen/auth_client.hpp"

namespace berth::bench {

struct ServerSettings {
  std::string berth;
  std::string distribution = "docker-registry";
  bool access_log = false;
};

// Who the auth-* scenarios sign in as: `user` on both registries, `robot` on Berth.
struct Accounts {
  Login user{.user = "bench", .password = "bench-password-0"};
  Login robot{};  // "robot$bench-puller" and its token, once Berth's pair has made it
};

ServerUnderTest start_berth(const ServerSettings& settings, const std::filesystem::path& work);
ServerUnderTest start_distribution(const ServerSettings& settings,
                                   const std::filesystem::path& work);

struct AuthenticatedPair {
  ServerUnderTest berth;
  ServerUnderTest distribution;
};

// Makes `accounts.user` (and `accounts.robot`, filled in here) and starts both registries with
// access control on. The data directories are made anew.
AuthenticatedPair start_authenticated(const ServerSettings& settings,
                                      const std::filesystem::path& work, Accounts& accounts);

}  // namespace berth::bench
