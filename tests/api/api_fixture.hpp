// The fixture of the black-box API tests: one berth per test suite (started in
// SetUpTestSuite, stopped in TearDownTestSuite, which also checks that it exits cleanly: status
// 0 means no crash, no sanitizer report, no leak), a RegistryClient per test, and repository
// names unique to each test so tests sharing a server cannot see each other's state.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "berth_process.hpp"
#include "registry_client.hpp"

namespace berth::testing {

// What every failure message of these tests shows: the response.
#define BERTH_DESCRIBE(response) "response: " << ::berth::testing::describe(response)

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  static BerthProcess& server() { return *server_; }
  static std::uint16_t port() { return server_->port(); }
  RegistryClient& registry() { return *registry_; }
  HttpClient& http() { return registry_->http(); }

  // A repository name unique to this test: "<suite>/<test>-<random>[-<hint>]", lowercased.
  std::string repo(std::string_view hint = {}) const;

 private:
  static std::unique_ptr<BerthProcess> server_;
  std::unique_ptr<RegistryClient> registry_;
};

}  // namespace berth::testing
