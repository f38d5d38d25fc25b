// parse_authorization: the Authorization header of every request. Never crashes; Basic
// credentials round-trip through base64; a Bearer token is one header token.
#include <openssl/evp.h>

#include <string>

#include "auth/credentials.hpp"
#include "fuzz_check.hpp"

using berth::auth::Credentials;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = berth::fuzz::as_text(data, size);
  const auto parsed = berth::auth::parse_authorization(text);
  switch (parsed.kind) {
    case Credentials::Kind::kBasic: {
      FUZZ_CHECK(parsed.user.find(':') == std::string::npos);
      // Encoding what was decoded and parsing again gives the same credentials.
      const std::string plain = parsed.user + ":" + parsed.password;
      std::string encoded(4 * ((plain.size() + 2) / 3) + 1, '\0');
      const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                    reinterpret_cast<const unsigned char*>(plain.data()),
                                    static_cast<int>(plain.size()));
      encoded.resize(static_cast<std::size_t>(n));
      const auto again = berth::auth::parse_authorization("Basic " + encoded);
      FUZZ_CHECK(again.kind == Credentials::Kind::kBasic);
      FUZZ_CHECK(again.user == parsed.user && again.password == parsed.password);
      break;
    }
    case Credentials::Kind::kBearer:
      FUZZ_CHECK(!parsed.token.empty());
      FUZZ_CHECK(parsed.token.find(' ') == std::string::npos);
      break;
    case Credentials::Kind::kNone:
    case Credentials::Kind::kMalformed:
      FUZZ_CHECK(parsed.user.empty() && parsed.password.empty() && parsed.token.empty());
      break;
  }
  return 0;
}
