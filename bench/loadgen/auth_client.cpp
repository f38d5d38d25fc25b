// The token protocol's client side: challenges, token requests, Basic credentials.
#include "loadgen/auth_client.hpp"

#include <openssl/evp.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <chrono>
#include <map>

namespace berth::bench {
namespace {

// Tokens are fetched again this long before they expire, so that none runs out mid-request.
constexpr auto kTokenMargin = std::chrono::seconds(5);
// The token protocol's default when the answer gives no "expires_in".
constexpr std::int64_t kDefaultExpiresIn = 60;

// `Scheme key="value",key="value"`: the scheme and the parameters (quotes removed).
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};

Challenge parse_challenge(std::string_view header) {
  Challenge challenge;
  const auto space = header.find(' ');
  challenge.scheme = std::string(header.substr(0, space));
  auto rest = space == std::string_view::npos ? std::string_view() : header.substr(space + 1);
  while (!rest.empty()) {
    const auto equals = rest.find('=');
    if (equals == std::string_view::npos) {
      break;
    }
    std::string key(rest.substr(0, equals));
    while (!key.empty() && (key.front() == ' ' || key.front() == ',')) {
      key.erase(0, 1);
    }
    rest.remove_prefix(equals + 1);
    std::string value;
    if (rest.starts_with('"')) {
      const auto close = rest.find('"', 1);
      value = std::string(rest.substr(1, close - 1));
      rest = close == std::string_view::npos ? std::string_view() : rest.substr(close + 1);
    } else {
      const auto comma = rest.find(',');
      value = std::string(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma);
    }
    challenge.params[key] = value;
  }
  return challenge;
}

// Percent-encoding of a query value (scopes hold ':' and ',', user names '$').
std::string query_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string basic_authorization(const Login& login) {
  const std::string plain = login.user + ":" + login.password;
  std::string encoded(4 * ((plain.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                reinterpret_cast<const unsigned char*>(plain.data()),
                                static_cast<int>(plain.size()));
  encoded.resize(static_cast<std::size_t>(n));
  return "Basic " + encoded;
}

std::string repository_scope(std::string_view repository, std::string_view actions) {
  return "repository:" + std::string(repository) + ":" + std::string(actions);
}

asio::awaitable<OpResult> fetch_token(RegistryClient& client, std::string_view realm_path,
                                      std::string_view service, std::string_view scope,
                                      const Login& login, bool install) {
  const std::string target = std::string(realm_path) + "?service=" + query_encode(service) +
                             "&scope=" + query_encode(scope);
  const std::string credentials = basic_authorization(login);
  Response response;
  auto result = co_await client.send(Request{.target = target, .authorization = credentials},
                                     ReadOptions{.capture = true}, response, 200);
  if (!result.ok) {
    co_return result;
  }
  boost::system::error_code ec;
  const auto json = boost::json::parse(response.body, ec);
  const auto* object = ec ? nullptr : json.if_object();
  const auto* token = object == nullptr ? nullptr : object->if_contains("token");
  if (token == nullptr || !token->is_string() || token->as_string().empty()) {
    result.fail("GET " + target + ": no token in " + response.body.substr(0, 200));
    co_return result;
  }
  if (install) {
    const auto* expires_in = object->if_contains("expires_in");
    const auto seconds = expires_in != nullptr && expires_in->is_int64() ? expires_in->as_int64()
                                                                         : kDefaultExpiresIn;
    client.connection().set_authorization("Bearer " + std::string(token->as_string()),
                                          Clock::now() + std::chrono::seconds(seconds));
  }
  co_return result;
}

asio::awaitable<OpResult> sign_in(RegistryClient& client, const Login& login,
                                  std::string_view scope) {
  client.connection().set_authorization({});
  Response response;
  auto result = co_await client.send(Request{.target = "/v2/"}, ReadOptions{}, response, 401);
  if (!result.ok) {
    co_return result;
  }
  const auto challenge = parse_challenge(response.www_authenticate);
  if (challenge.scheme == "Basic") {
    client.connection().set_authorization(basic_authorization(login));
    co_return result;
  }
  const auto realm = challenge.params.find("realm");
  const auto service = challenge.params.find("service");
  if (challenge.scheme != "Bearer" || realm == challenge.params.end() ||
      service == challenge.params.end()) {
    result.fail("GET /v2/: 401 without a Basic or Bearer challenge: '" + response.www_authenticate +
                "'");
    co_return result;
  }
  result += co_await fetch_token(client, location_path(realm->second), service->second, scope,
                                 login, true);
  co_return result;
}

bool token_expiring(const Connection& connection) {
  return connection.authorization_expires() - kTokenMargin <= Clock::now();
}

}  // namespace berth::bench
