// TokenService::verify on arbitrary bytes: it must never crash and never accept, since
// nobody but the holder of the key can sign. The key is fixed (below) and written to a
// temporary directory at startup, so the kid is the same in every run and the seed corpus
// can hold tokens that name it, which carries the fuzzer past the header checks to the
// signature. The clock is fixed too, after every seed token's expiry, so even the seeds that
// carry a valid signature are refused, by the claim checks.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "auth/token_service.hpp"
#include "fuzz_check.hpp"

namespace {

// A P-256 key used only here; it signs nothing that is ever trusted.
constexpr std::string_view kFixedKey =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgmNxjP8W8I2Tn+R2a\n"
    "3O+whWUETWghzJshTDrv3sg/v/yhRANCAAQlEaitQuwCL8O61ZGPbx4VitpOcQYz\n"
    "pTtNQQmdpbGyXvqOShiSnTAHHUae6zOPDJtlvQ1wks9oIya87DZPiW1m\n"
    "-----END PRIVATE KEY-----\n";

// 2030-01-01T00:00:00Z.
class FixedClock final : public berth::core::Clock {
 public:
  berth::core::TimePoint now() const override {
    return berth::core::TimePoint(std::chrono::seconds(1'893'456'000));
  }
};

struct Fixture {
  Fixture() {
    char pattern[] = "/tmp/berth-fuzz-jwt-XXXXXX";
    FUZZ_CHECK(mkdtemp(pattern) != nullptr);
    dir = pattern;
    {
      std::ofstream out(dir / "token.pem", std::ios::binary);
      out << kFixedKey;
    }
    auto opened = berth::auth::TokenService::open(dir / "token.pem", {}, clock);
    FUZZ_CHECK(opened.has_value());
    service = std::move(*opened);
  }
  ~Fixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  std::filesystem::path dir;
  FixedClock clock;
  std::unique_ptr<berth::auth::TokenService> service;
};

const berth::auth::TokenService& service() {
  static Fixture fixture;
  return *fixture.service;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto verified = service().verify(berth::fuzz::as_text(data, size));
  FUZZ_CHECK(!verified.has_value());
  FUZZ_CHECK(verified.error().code == berth::core::ErrorCode::kUnauthorized);
  FUZZ_CHECK(verified.error().message.starts_with("invalid token: "));
  return 0;
}
