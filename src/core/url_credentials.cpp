#include "core/url_credentials.hpp"

#include <utility>

namespace berth::core {
namespace {

// [begin, end) of the userinfo with its "@", or npos when there is none.
std::pair<std::size_t, std::size_t> userinfo_span(std::string_view url) {
  constexpr auto kNone = std::pair(std::string_view::npos, std::string_view::npos);
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return kNone;
  }
  const std::size_t begin = scheme_end + 3;
  std::size_t end = url.find_first_of("/?#", begin);
  if (end == std::string_view::npos) {
    end = url.size();
  }
  // The last "@": a password may contain an unescaped one, the host cannot.
  const std::size_t at = url.substr(begin, end - begin).rfind('@');
  if (at == std::string_view::npos) {
    return kNone;
  }
  return {begin, begin + at + 1};
}

}  // namespace

bool has_url_credentials(std::string_view url) {
  return userinfo_span(url).first != std::string_view::npos;
}

std::string without_url_credentials(std::string_view url) {
  const auto [begin, end] = userinfo_span(url);
  if (begin == std::string_view::npos) {
    return std::string(url);
  }
  return std::string(url.substr(0, begin)) + "***@" + std::string(url.substr(end));
}

}  // namespace berth::core
