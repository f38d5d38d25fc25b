#include "auth/credentials.hpp"

#include <openssl/evp.h>

#include <cctype>

#include "util/ascii.hpp"

namespace berth::auth {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool decode_base64(std::string_view text, std::string& out) {
  out.clear();
  if (text.size() % 4 != 0 || text.size() > 64 * 1024) {
    return false;
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' ||
              (c == '=' && i + 2 >= text.size());
    if (!ok) {
      return false;
    }
  }
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') {
    ++padding;
    if (text.size() >= 2 && text[text.size() - 2] == '=') {
      ++padding;
    }
  }
  // '=' may stand only at the end: "YQ==" and "YWI=", never "YQ=a".
  if (text.size() >= 2 && text[text.size() - 2] == '=' && text.back() != '=') {
    return false;
  }
  out.resize(text.size() / 4 * 3);
  // EVP_DecodeBlock decodes whole groups and counts padding as zero bytes; the padding check
  // above and the resize below make it exact.
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0 || static_cast<std::size_t>(n) < padding) {
    out.clear();
    return false;
  }
  out.resize(static_cast<std::size_t>(n) - padding);
  return true;
}

Credentials parse_authorization(std::string_view header) {
  Credentials credentials;
  header = util::trim_spaces(header);
  if (header.empty()) {
    return credentials;
  }
  auto space = header.find(' ');
  if (space == std::string_view::npos) {
    credentials.kind = Credentials::Kind::kMalformed;
    return credentials;
  }
  auto scheme = header.substr(0, space);
  auto value = util::trim_spaces(header.substr(space + 1));
  if (iequals(scheme, "Basic")) {
    std::string decoded;
    auto colon = std::string::npos;
    if (decode_base64(value, decoded)) {
      colon = decoded.find(':');
    }
    if (colon == std::string::npos) {
      credentials.kind = Credentials::Kind::kMalformed;
      return credentials;
    }
    credentials.kind = Credentials::Kind::kBasic;
    credentials.user = decoded.substr(0, colon);
    credentials.password = decoded.substr(colon + 1);
    return credentials;
  }
  if (iequals(scheme, "Bearer") && !value.empty() && value.find(' ') == std::string_view::npos) {
    credentials.kind = Credentials::Kind::kBearer;
    credentials.token = std::string(value);
    return credentials;
  }
  credentials.kind = Credentials::Kind::kMalformed;
  return credentials;
}

}  // namespace berth::auth
