#include "api/conditional.hpp"

namespace berth::api {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

bool if_none_match(std::string_view header, std::string_view etag) {
  header = trim(header);
  if (header.empty()) {
    return false;
  }
  if (header == "*") {
    return true;
  }
  while (!header.empty()) {
    auto comma = header.find(',');
    auto item = trim(header.substr(0, comma));
    if (item.starts_with("W/")) {
      item.remove_prefix(2);
    }
    if (item == etag) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    header.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace berth::api
