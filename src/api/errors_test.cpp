#include "api/errors.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace berth::api {
namespace {

TEST(ErrorResponseTest, RendersTheOciErrorBody) {
  auto res = error_response(
      core::Error{core::ErrorCode::kBlobUnknown, "blob unknown", "\"sha256:abc\""}, 11, true);
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_EQ(res[boost::beast::http::field::content_type], "application/json; charset=utf-8");
  EXPECT_EQ(res["Docker-Distribution-API-Version"], "registry/2.0");
  auto body = boost::json::parse(res.body());
  const auto& error = body.at("errors").as_array().at(0);
  EXPECT_EQ(error.at("code").as_string(), "BLOB_UNKNOWN");
  EXPECT_EQ(error.at("message").as_string(), "blob unknown");
  EXPECT_EQ(error.at("detail").as_string(), "sha256:abc");
}

TEST(ErrorResponseTest, StatusComesFromTheCodeTable) {
  struct Case {
    core::ErrorCode code;
    unsigned status;
    const char* wire;
  };
  for (auto c : {Case{core::ErrorCode::kManifestBlobUnknown, 400, "MANIFEST_BLOB_UNKNOWN"},
                 Case{core::ErrorCode::kUploadOutOfOrder, 416, "BLOB_UPLOAD_INVALID"},
                 Case{core::ErrorCode::kTooLarge, 413, "SIZE_INVALID"},
                 Case{core::ErrorCode::kNameUnknown, 404, "NAME_UNKNOWN"},
                 Case{core::ErrorCode::kBlobInUse, 409, "DENIED"},
                 Case{core::ErrorCode::kMethodNotAllowed, 405, "UNSUPPORTED"}}) {
    auto res = error_response(core::Error{c.code, "m", {}}, 11, false);
    EXPECT_EQ(res.result_int(), c.status);
    EXPECT_EQ(boost::json::parse(res.body()).at("errors").at(0).at("code").as_string(), c.wire);
    EXPECT_FALSE(boost::json::parse(res.body()).at("errors").at(0).as_object().contains("detail"));
  }
}

TEST(ErrorResponseTest, MethodNotAllowedListsTheMethodsItIsGiven) {
  auto res = error_response(core::Error{core::ErrorCode::kMethodNotAllowed, "no", {}}, 11, true,
                            "GET, HEAD");
  EXPECT_EQ(res[boost::beast::http::field::allow], "GET, HEAD");
  auto other = error_response(core::Error{core::ErrorCode::kNotFound, "no", {}}, 11, true, "GET");
  EXPECT_FALSE(other.count(boost::beast::http::field::allow));
}

}  // namespace
}  // namespace berth::api
