// parse_challenge: the WWW-Authenticate header of an upstream registry's 401, which whoever
// runs (or sits in front of) the upstream writes. Whatever it accepts is well-formed (a
// lowercase scheme and parameter names, with none of the separators in them), reads back the
// same once written out again, and its realm either makes a token URL a client could ask
// (a host, a port, a target starting with "/") or an error, never a crash.
#include <string>

#include "client/challenge.hpp"
#include "fuzz_check.hpp"

using berth::client::Challenge;

namespace {

bool has_upper(const std::string& text) {
  for (char c : text) {
    if (c >= 'A' && c <= 'Z') {
      return true;
    }
  }
  return false;
}

// The challenge as a server would write it: every value quoted and escaped.
std::string format(const Challenge& challenge) {
  std::string out = challenge.scheme;
  bool first = true;
  for (const auto& [name, value] : challenge.params) {
    out += first ? " " : ",";
    first = false;
    out += name + "=\"";
    for (char c : value) {
      if (c == '"' || c == '\\') {
        out += '\\';
      }
      out += c;
    }
    out += '"';
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = berth::fuzz::as_text(data, size);
  auto challenge = berth::client::parse_challenge(text);
  if (!challenge) {
    return 0;
  }
  FUZZ_CHECK(!challenge->scheme.empty());
  FUZZ_CHECK(!has_upper(challenge->scheme));
  FUZZ_CHECK(challenge->scheme.find_first_of(" \t,") == std::string::npos);
  for (const auto& [name, value] : challenge->params) {
    FUZZ_CHECK(!name.empty());
    FUZZ_CHECK(!has_upper(name));
    FUZZ_CHECK(name.find_first_of(" \t,=") == std::string::npos);
  }
  auto again = berth::client::parse_challenge(format(*challenge));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->scheme == challenge->scheme);
  FUZZ_CHECK(again->params == challenge->params);

  auto url = berth::client::token_url(*challenge, "repository:library/alpine:pull");
  if (url) {
    FUZZ_CHECK(!url->host.empty());
    FUZZ_CHECK(!url->port.empty());
    FUZZ_CHECK(url->port.find_first_not_of("0123456789") == std::string::npos);
    FUZZ_CHECK(url->target.starts_with("/"));
    FUZZ_CHECK(!url->authority().empty());
  } else {
    FUZZ_CHECK(!url.error().message.empty());
  }
  return 0;
}
