// A real S3 server for tests: Ceph's radosgw on 127.0.0.1, started by scripts/radosgw.sh in a
// temporary directory (~15 s, ~450 MB) and stopped on destruction. One per test binary: hold
// it in a ::testing::Environment. BERTH_TEST_S3_ENDPOINT=http://host:port, or a file named by
// BERTH_TEST_S3_ENDPOINT_FILE holding it (the ctest fixture "radosgw"), uses a server that is
// already running (with the script's keys) instead.
#pragma once

#include <string>

#include "testing/script_service.hpp"

namespace berth::testing {

class Radosgw {
 public:
  static constexpr const char* kAccessKey = "berth-test-access";
  static constexpr const char* kSecretKey = "berth-test-secret";

  // Starts one (or takes BERTH_TEST_S3_ENDPOINT). When radosgw is not installed, skip_reason()
  // says so, unless CI=true: then that is a failure (error() is set).
  Radosgw();

  // "http://127.0.0.1:<port>", empty when not running.
  const std::string& endpoint() const { return service_.address(); }
  const std::string& skip_reason() const { return service_.skip_reason(); }
  const std::string& error() const { return service_.error(); }

 private:
  ScriptService service_;
};

}  // namespace berth::testing
