// SigV4 against AWS's published vectors: cases of the Signature Version 4 test suite
// (credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z, service "service") and the worked examples of
// the S3 documentation ("Authenticating Requests: Using the Authorization Header" and "Using
// Query Parameters": examplebucket, AKIAIOSFODNN7EXAMPLE, 2013-05-24).
#include "storage/s3_sigv4.hpp"

#include <gtest/gtest.h>

namespace berth::storage::s3 {
namespace {

using std::chrono::sys_days;
using namespace std::chrono_literals;

const Credentials kSuite{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
const auto kSuiteTime = sys_days{std::chrono::year{2015} / 8 / 30} + 12h + 36min;
const Credentials kS3{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
const auto kS3Time = sys_days{std::chrono::year{2013} / 5 / 24};

SignableRequest suite_request(std::string method, std::string path, Pairs query = {},
                              Pairs extra = {}) {
  SignableRequest request{std::move(method),
                          std::move(path),
                          std::move(query),
                          {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
                          std::string(kEmptyPayloadHash)};
  for (auto& header : extra) {
    request.headers.push_back(std::move(header));
  }
  return request;
}

std::string suite_authorization(const SignableRequest& request) {
  return authorization(request, kSuite, "us-east-1", "service", kSuiteTime);
}

std::string expected_suite(std::string_view signed_headers, std::string_view signature) {
  return "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
         "SignedHeaders=" +
         std::string(signed_headers) + ", Signature=" + std::string(signature);
}

TEST(SigV4Test, SuiteGetVanilla) {
  const auto request = suite_request("GET", "/");
  EXPECT_EQ(canonical_request(request),
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-"
            "date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex(canonical_request(request)),
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  EXPECT_EQ(suite_authorization(request),
            expected_suite("host;x-amz-date",
                           "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
}

TEST(SigV4Test, SuiteQueryOrderKeyCase) {
  const auto request = suite_request("GET", "/", {{"Param2", "value2"}, {"Param1", "value1"}});
  EXPECT_EQ(sha256_hex(canonical_request(request)),
            "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0");
  EXPECT_EQ(suite_authorization(request),
            expected_suite("host;x-amz-date",
                           "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"));
}

TEST(SigV4Test, SuitePostVanilla) {
  EXPECT_EQ(suite_authorization(suite_request("POST", "/")),
            expected_suite("host;x-amz-date",
                           "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"));
}

TEST(SigV4Test, SuiteHeaderValueCaseAndTrim) {
  EXPECT_EQ(suite_authorization(suite_request("POST", "/", {}, {{"My-Header1", "VALUE1"}})),
            expected_suite("host;my-header1;x-amz-date",
                           "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"));
  EXPECT_EQ(suite_authorization(suite_request(
                "GET", "/", {}, {{"My-Header1", " value1"}, {"My-Header2", "\"a   b   c\""}})),
            expected_suite("host;my-header1;my-header2;x-amz-date",
                           "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"));
}

TEST(SigV4Test, SuiteUnreservedPath) {
  const std::string path = "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  EXPECT_EQ(uri_encode(path, false), path);
  EXPECT_EQ(suite_authorization(suite_request("GET", path)),
            expected_suite("host;x-amz-date",
                           "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"));
}

SignableRequest s3_request(std::string method, std::string path, Pairs query, Pairs headers,
                           std::string payload_hash) {
  headers.emplace_back("Host", "examplebucket.s3.amazonaws.com");
  headers.emplace_back("x-amz-date", "20130524T000000Z");
  return SignableRequest{std::move(method), std::move(path), std::move(query), std::move(headers),
                         std::move(payload_hash)};
}

std::string expected_s3(std::string_view signed_headers, std::string_view signature) {
  return "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
         "SignedHeaders=" +
         std::string(signed_headers) + ", Signature=" + std::string(signature);
}

TEST(SigV4Test, S3GetObjectWithRange) {
  const auto request =
      s3_request("GET", "/test.txt", {},
                 {{"Range", "bytes=0-9"}, {"x-amz-content-sha256", std::string(kEmptyPayloadHash)}},
                 std::string(kEmptyPayloadHash));
  EXPECT_EQ(authorization(request, kS3, "us-east-1", "s3", kS3Time),
            expected_s3("host;range;x-amz-content-sha256;x-amz-date",
                        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"));
}

TEST(SigV4Test, S3PutObjectEncodesTheKey) {
  const std::string payload = sha256_hex("Welcome to Amazon S3.");
  EXPECT_EQ(uri_encode("/test$file.text", false), "/test%24file.text");
  const auto request = s3_request("PUT", uri_encode("/test$file.text", false), {},
                                  {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                                   {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                                   {"x-amz-content-sha256", payload}},
                                  payload);
  EXPECT_EQ(authorization(request, kS3, "us-east-1", "s3", kS3Time),
            expected_s3("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"));
}

TEST(SigV4Test, S3SubresourceAndListQueries) {
  const Pairs empty_hash = {{"x-amz-content-sha256", std::string(kEmptyPayloadHash)}};
  EXPECT_EQ(authorization(s3_request("GET", "/", {{"lifecycle", ""}}, empty_hash,
                                     std::string(kEmptyPayloadHash)),
                          kS3, "us-east-1", "s3", kS3Time),
            expected_s3("host;x-amz-content-sha256;x-amz-date",
                        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"));
  EXPECT_EQ(authorization(s3_request("GET", "/", {{"prefix", "J"}, {"max-keys", "2"}}, empty_hash,
                                     std::string(kEmptyPayloadHash)),
                          kS3, "us-east-1", "s3", kS3Time),
            expected_s3("host;x-amz-content-sha256;x-amz-date",
                        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"));
}

TEST(SigV4Test, S3PresignedGet) {
  EXPECT_EQ(presigned_query("GET", "/test.txt", "examplebucket.s3.amazonaws.com", kS3, "us-east-1",
                            kS3Time, std::chrono::seconds(86400)),
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%"
            "2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-"
            "Amz-SignedHeaders=host&X-Amz-Signature="
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(SigV4Test, SessionTokenIsSignedIntoPresignedUrls) {
  Credentials with_token = kS3;
  with_token.session_token = "token/with+chars";
  const std::string query = presigned_query("GET", "/test.txt", "examplebucket.s3.amazonaws.com",
                                            with_token, "us-east-1", kS3Time, 3600s);
  EXPECT_NE(query.find("X-Amz-Security-Token=token%2Fwith%2Bchars"), std::string::npos) << query;
  EXPECT_EQ(query.find("aeeed9bb"), std::string::npos) << "the token changes the signature";
}

TEST(SigV4Test, EncodingAndDate) {
  EXPECT_EQ(uri_encode("a b/c~d+e$\xc3\xa9", false), "a%20b/c~d%2Be%24%C3%A9");
  EXPECT_EQ(uri_encode("a/b", true), "a%2Fb");
  EXPECT_EQ(amz_date(kSuiteTime), "20150830T123600Z");
  EXPECT_EQ(canonical_query({{"b", "2"}, {"a", "x y"}, {"a", "1"}}), "a=1&a=x%20y&b=2");
}

}  // namespace
}  // namespace berth::storage::s3
