// The shared fixture of the API tests (see api_fixture.hpp).
#include "api_fixture.hpp"

#include <cctype>

namespace berth::testing {

std::unique_ptr<BerthProcess> ApiTest::server_;

namespace {

// Lowercase letters and digits of `text`, runs of anything else as one '-', trimmed: a valid
// repository path component (or empty).
std::string component(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      out.push_back(static_cast<char>(std::tolower(u)));
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  while (!out.empty() && out.back() == '-') {
    out.pop_back();
  }
  return out;
}

}  // namespace

void ApiTest::SetUpTestSuite() { server_ = std::make_unique<BerthProcess>(); }

void ApiTest::TearDownTestSuite() {
  if (!server_) {
    return;
  }
  const int status = server_->stop();
  EXPECT_EQ(status, 0) << "berth did not exit cleanly after SIGTERM; its log:\n" << server_->log();
  server_.reset();
}

void ApiTest::SetUp() {
  ASSERT_NE(server_, nullptr);
  registry_ = std::make_unique<RegistryClient>("127.0.0.1", server_->port());
}

std::string ApiTest::repo(std::string_view hint) const {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = component(info->test_suite_name()) + "/" +
                     component(info->name()).substr(0, 80) + "-" + random_token(8);
  if (!hint.empty()) {
    name += "-" + component(hint);
  }
  return name;
}

}  // namespace berth::testing
