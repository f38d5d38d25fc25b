#include "events/signing.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <span>

#include "util/hex.hpp"

namespace berth::events {

std::string signature(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &size);
  return "sha256=" + util::hex(std::span<const unsigned char>(mac, size));
}

}  // namespace berth::events
