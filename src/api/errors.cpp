#include "api/errors.hpp"

#include <boost/json.hpp>

#include "api/headers.hpp"

namespace berth::api {

http::Response error_response(const core::Error& error, unsigned http_version, bool keep_alive,
                              std::string_view allow) {
  boost::json::object entry;
  entry["code"] = core::wire_code(error.code);
  entry["message"] = error.message;
  if (!error.detail_json.empty()) {
    boost::system::error_code ec;
    auto detail = boost::json::parse(error.detail_json, ec);
    entry["detail"] = ec ? boost::json::value(error.detail_json) : std::move(detail);
  }
  boost::json::object body;
  body["errors"] = boost::json::array{std::move(entry)};

  http::Response response{static_cast<boost::beast::http::status>(core::http_status(error.code)),
                          http_version};
  response.set(boost::beast::http::field::content_type, kJsonContentType);
  response.set(kApiVersionHeader, kApiVersion);
  if (error.code == core::ErrorCode::kMethodNotAllowed && !allow.empty()) {
    response.set(boost::beast::http::field::allow, allow);
  }
  if (error.retry_after) {
    response.set(boost::beast::http::field::retry_after,
                 std::to_string(error.retry_after->count()));
  }
  response.keep_alive(keep_alive);
  response.body() = boost::json::serialize(body);
  return response;
}

}  // namespace berth::api
