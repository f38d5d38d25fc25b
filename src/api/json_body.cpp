#include "api/json_body.hpp"

#include <boost/json/parse.hpp>

namespace berth::api {

namespace asio = boost::asio;
namespace json = boost::json;
using core::ErrorCode;

asio::awaitable<std::optional<json::object>> read_json_object(RequestContext& ctx,
                                                              std::size_t limit) {
  ctx.ex.set_body_limit(limit);
  auto text = co_await ctx.ex.read_body_string(limit);
  if (!text) {
    co_await ctx.fail(ErrorCode::kTooLarge, "the JSON body is too large or cut off");
    co_return std::nullopt;
  }
  boost::system::error_code ec;
  auto value = json::parse(*text, ec);
  if (ec || !value.is_object()) {
    co_await ctx.fail(ErrorCode::kInvalidRequest, "the body must be a JSON object");
    co_return std::nullopt;
  }
  co_return std::move(value.as_object());
}

}  // namespace berth::api
