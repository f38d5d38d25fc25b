// The S3 operations of s3_client.hpp: signing, addressing, retries and the reading of S3's
// answers.
#include "storage/s3_client.hpp"

#include <openssl/evp.h>
#include <openssl/md5.h>

#include <algorithm>
#include <boost/beast/http/verb.hpp>
#include <charconv>
#include <ctime>
#include <random>
#include <thread>

#include "storage/s3_xml.hpp"
#include "util/utc_time.hpp"

namespace berth::storage::s3 {
namespace {

namespace bhttp = boost::beast::http;
using core::ErrorCode;

// Error bodies and the XML answers of listings stay far below this.
constexpr std::size_t kMaxXmlBytes = 16 * 1024 * 1024;
constexpr std::size_t kDeleteBatch = 1000;

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string md5_base64(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_md5(), nullptr);
  return base64(digest, size);
}

std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

// "Sun, 06 Dec 2026 08:30:11 GMT" (Last-Modified).
core::TimePoint parse_http_date(std::string_view text) {
  std::tm tm{};
  const std::string copy(text);
  if (strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S", &tm) == nullptr) {
    return core::TimePoint();
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

bool retryable(unsigned status, std::string_view code) {
  return status >= 500 || status == 429 || code == "SlowDown" || code == "InternalError" ||
         code == "RequestTimeout" || code == "ServiceUnavailable" || code == "Throttling";
}

struct Endpoint {
  bool tls = true;
  std::string host;
  std::string port;
};

Result<Endpoint> parse_endpoint(const ClientOptions& options) {
  std::string url = options.endpoint;
  if (url.empty()) {
    url = "https://s3." + options.region + ".amazonaws.com";
  }
  Endpoint endpoint;
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    endpoint.tls = false;
    rest.remove_prefix(7);
  } else {
    return core::fail(ErrorCode::kInternal,
                      "S3 endpoint must start with http:// or https://, got '" + url + "'");
  }
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    rest = rest.substr(0, slash);
  }
  std::string_view port;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) {
      return core::fail(ErrorCode::kInternal, "S3 endpoint has a bad IPv6 host: '" + url + "'");
    }
    endpoint.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (rest.starts_with(':')) {
      port = rest.substr(1);
    }
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    endpoint.host = std::string(rest.substr(0, colon));
    port = rest.substr(colon + 1);
  } else {
    endpoint.host = std::string(rest);
  }
  if (endpoint.host.empty() || (!port.empty() && !parse_number(port))) {
    return core::fail(ErrorCode::kInternal, "S3 endpoint is not a URL: '" + url + "'");
  }
  endpoint.port = port.empty() ? (endpoint.tls ? "443" : "80") : std::string(port);
  return endpoint;
}

}  // namespace

struct Client::Call {
  bhttp::verb method = bhttp::verb::get;
  // Object key; empty for the bucket itself.
  std::string key = {};
  Pairs query = {};
  Pairs headers = {};
  std::vector<std::span<const std::byte>> body = {};
  std::string payload_hash = std::string(kUnsignedPayload);
  // A 200 whose body may be an <Error> (CompleteMultipartUpload, copies): read and check it.
  bool check_body = false;
};

struct Client::Answer {
  std::optional<http::ClientResponse> response;
  unsigned status = 0;
  // From an error body; empty otherwise.
  std::string code;
  std::string message;
  // The body, when check_body read it.
  std::string body;

  bool ok() const { return status >= 200 && status < 300; }
  // "404 NoSuchKey: The specified key does not exist." with what radosgw leaves out filled in.
  std::string describe() const {
    std::string out = std::to_string(status);
    if (!code.empty()) {
      out += " " + code;
    }
    if (!message.empty()) {
      out += ": " + message;
    }
    return out;
  }
};

Client::Client(ClientOptions options, std::shared_ptr<http::BlockingClient> http, std::string host,
               std::string scheme, std::string path_prefix)
    : options_(std::move(options)),
      http_(std::move(http)),
      host_(std::move(host)),
      scheme_(std::move(scheme)),
      path_prefix_(std::move(path_prefix)) {}

Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::create(ClientOptions options) {
  auto endpoint = parse_endpoint(options);
  if (!endpoint) {
    return std::unexpected(endpoint.error());
  }
  // Virtual hosts need a bucket name that is a host label; under TLS a dotted one would not
  // match the endpoint's wildcard certificate.
  const bool path_style =
      options.path_style || (endpoint->tls && options.bucket.find('.') != std::string::npos);
  std::string host = endpoint->host;
  if (!path_style) {
    host = options.bucket + "." + host;
  }
  http::ClientTarget target{endpoint->tls, host, endpoint->port};
  http::BlockingClientOptions http_options;
  http_options.ca_file = options.ca_file;
  http_options.connect_timeout = options.connect_timeout;
  http_options.io_timeout = options.io_timeout;
  http_options.max_idle = options.max_idle_connections;
  auto http = http::BlockingClient::create(target, http_options);
  if (!http) {
    return core::fail(ErrorCode::kInternal, "S3 endpoint: " + http.error());
  }
  const bool default_port = endpoint->port == (endpoint->tls ? "443" : "80");
  std::string host_header = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (!default_port) {
    host_header += ":" + endpoint->port;
  }
  std::string prefix = path_style ? "/" + uri_encode(options.bucket, true) : std::string();
  return std::unique_ptr<Client>(new Client(std::move(options), std::move(*http),
                                            std::move(host_header),
                                            endpoint->tls ? "https" : "http", std::move(prefix)));
}

std::string Client::path_of(const std::string& key) const {
  if (key.empty()) {
    return path_prefix_.empty() ? "/" : path_prefix_;
  }
  return path_prefix_ + "/" + uri_encode(key, false);
}

Result<Credentials> Client::credentials() const {
  if (options_.credential_source) {
    return options_.credential_source->current();
  }
  return options_.credentials;
}

Result<Client::Answer> Client::attempt(const Call& call) {
  auto credentials = this->credentials();
  if (!credentials) {
    return std::unexpected(credentials.error());
  }
  const auto now = std::chrono::system_clock::now();
  SignableRequest signable;
  signable.method = std::string(bhttp::to_string(call.method));
  signable.path = path_of(call.key);
  signable.query = call.query;
  signable.headers = call.headers;
  signable.headers.emplace_back("host", host_);
  signable.headers.emplace_back("x-amz-date", amz_date(now));
  signable.headers.emplace_back("x-amz-content-sha256", call.payload_hash);
  if (!credentials->session_token.empty()) {
    signable.headers.emplace_back("x-amz-security-token", credentials->session_token);
  }
  signable.payload_hash = call.payload_hash;

  http::ClientRequest request;
  request.method = call.method;
  request.target = signable.path;
  if (const std::string query = canonical_query(call.query); !query.empty()) {
    request.target += "?" + query;
  }
  request.headers = signable.headers;
  if (!credentials->access_key.empty()) {
    request.headers.emplace_back("authorization",
                                 authorization(signable, *credentials, options_.region, "s3", now));
  }
  request.body = call.body;
  auto response = http_->send(request);
  if (!response) {
    return core::fail(ErrorCode::kUnavailable, response.error().message);
  }
  Answer answer;
  answer.status = response->status();
  if (answer.ok() && !call.check_body) {
    answer.response = std::move(*response);
    return answer;
  }
  auto body = response->read_all(kMaxXmlBytes);
  if (!body) {
    return core::fail(ErrorCode::kUnavailable, body.error().message);
  }
  if (auto xml = parse_xml(*body); xml && xml->name == "Error") {
    answer.code = std::string(xml->child_text("Code"));
    answer.message = std::string(xml->child_text("Message"));
    if (answer.ok()) {
      // 200 with an error inside: what AWS does when a long copy or completion fails late.
      answer.status = retryable(0, answer.code)                                     ? 503
                      : answer.code == "NoSuchKey" || answer.code == "NoSuchUpload" ? 404
                                                                                    : 400;
    }
  }
  answer.body = std::move(*body);
  return answer;
}

Result<Client::Answer> Client::perform(const Call& call) {
  static thread_local std::mt19937_64 random(std::random_device{}());
  std::string last;
  const int attempts = std::max(1, options_.attempts);
  for (int i = 0; i < attempts; ++i) {
    if (i > 0) {
      const auto ceiling = std::min<std::chrono::milliseconds>(
          options_.backoff_cap, options_.backoff * (std::int64_t{1} << std::min(i - 1, 20)));
      std::uniform_int_distribution<std::int64_t> pick(0, ceiling.count());
      const std::chrono::milliseconds pause(pick(random));
      if (options_.sleep) {
        options_.sleep(pause);
      } else {
        std::this_thread::sleep_for(pause);
      }
    }
    auto answer = attempt(call);
    if (!answer) {
      last = answer.error().message;
      continue;
    }
    if (!answer->ok() && retryable(answer->status, answer->code)) {
      last = answer->describe();
      continue;
    }
    return answer;
  }
  core::Error error{ErrorCode::kUnavailable,
                    "S3 " + std::string(bhttp::to_string(call.method)) + " " +
                        (call.key.empty() ? options_.bucket : call.key) + " failed " +
                        std::to_string(attempts) + " times, last: " + last,
                    {}};
  error.retry_after = std::chrono::seconds(1);
  return std::unexpected(std::move(error));
}

// perform() and insist on 2xx; returns the body read by check_body (or nothing).
Result<std::string> Client::expect_ok(const Call& call, std::size_t limit) {
  auto answer = perform(call);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (!answer->ok()) {
    return core::fail(ErrorCode::kInternal, "S3 " + std::string(bhttp::to_string(call.method)) +
                                                " " +
                                                (call.key.empty() ? options_.bucket : call.key) +
                                                ": " + answer->describe());
  }
  if (answer->response) {
    auto body = answer->response->read_all(limit);
    if (!body) {
      return core::fail(ErrorCode::kUnavailable, body.error().message);
    }
    return *body;
  }
  return std::move(answer->body);
}

Result<std::optional<ObjectInfo>> Client::head(const std::string& key) {
  Call call{.method = bhttp::verb::head, .key = key};
  auto answer = perform(call);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (answer->status == 404) {
    return std::nullopt;
  }
  if (!answer->ok()) {
    return core::fail(ErrorCode::kInternal, "S3 HEAD " + key + ": " + answer->describe());
  }
  ObjectInfo info;
  info.key = key;
  info.size = answer->response->content_length().value_or(0);
  info.modified = parse_http_date(answer->response->header("last-modified"));
  return info;
}

Result<std::optional<http::ClientResponse>> Client::get(const std::string& key,
                                                        std::uint64_t offset,
                                                        std::optional<std::uint64_t> length) {
  Call call{.method = bhttp::verb::get, .key = key};
  if (offset > 0 || length) {
    std::string range = "bytes=" + std::to_string(offset) + "-";
    if (length) {
      range += std::to_string(offset + *length - 1);
    }
    call.headers.emplace_back("range", range);
  }
  auto answer = perform(call);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (answer->status == 404) {
    return std::nullopt;
  }
  if (!answer->ok()) {
    return core::fail(ErrorCode::kInternal, "S3 GET " + key + ": " + answer->describe());
  }
  return std::move(answer->response);
}

Result<std::optional<std::string>> Client::get_small(const std::string& key, std::size_t limit) {
  auto response = get(key, 0, std::nullopt);
  if (!response) {
    return std::unexpected(response.error());
  }
  if (!*response) {
    return std::nullopt;
  }
  auto body = (*response)->read_all(limit);
  if (!body) {
    return core::fail(ErrorCode::kUnavailable, body.error().message);
  }
  return *body;
}

Result<void> Client::put(const std::string& key,
                         const std::vector<std::span<const std::byte>>& body, bool if_absent) {
  Call call{.method = bhttp::verb::put, .key = key, .body = body};
  if (if_absent) {
    call.headers.emplace_back("if-none-match", "*");
  }
  auto answer = perform(call);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (if_absent && answer->status == 412) {
    return core::fail(ErrorCode::kConflict, "S3 PUT " + key + ": it exists already");
  }
  if (!answer->ok()) {
    return core::fail(ErrorCode::kInternal, "S3 PUT " + key + ": " + answer->describe());
  }
  return {};
}

Result<void> Client::remove(const std::string& key) {
  Call call{.method = bhttp::verb::delete_, .key = key};
  auto answer = perform(call);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (!answer->ok() && answer->status != 404) {
    return core::fail(ErrorCode::kInternal, "S3 DELETE " + key + ": " + answer->describe());
  }
  return {};
}

Result<void> Client::remove_many(const std::vector<std::string>& keys) {
  for (std::size_t start = 0; start < keys.size(); start += kDeleteBatch) {
    const std::size_t end = std::min(keys.size(), start + kDeleteBatch);
    std::string xml = "<Delete><Quiet>true</Quiet>";
    for (std::size_t i = start; i < end; ++i) {
      xml += "<Object><Key>" + xml_escape(keys[i]) + "</Key></Object>";
    }
    xml += "</Delete>";
    Call call{.method = bhttp::verb::post,
              .query = {{"delete", ""}},
              .headers = {{"content-md5", md5_base64(xml)}, {"content-type", "application/xml"}},
              .body = {bytes_of(xml)},
              .payload_hash = sha256_hex(xml),
              .check_body = true};
    auto body = expect_ok(call, kMaxXmlBytes);
    if (!body) {
      return std::unexpected(body.error());
    }
    auto result = parse_xml(*body);
    if (!result) {
      return core::fail(ErrorCode::kInternal, "S3 DeleteObjects: unreadable answer");
    }
    for (const XmlNode* error : result->all("Error")) {
      if (error->child_text("Code") == "NoSuchKey") {
        continue;
      }
      return core::fail(ErrorCode::kUnavailable,
                        "S3 DeleteObjects: " + std::string(error->child_text("Key")) + ": " +
                            std::string(error->child_text("Code")) + " " +
                            std::string(error->child_text("Message")));
    }
  }
  return {};
}

Result<bool> Client::copy(const std::string& from, const std::string& to, bool stamp) {
  Call call{.method = bhttp::verb::put, .key = to, .check_body = true};
  call.headers.emplace_back(
      "x-amz-copy-source", "/" + uri_encode(options_.bucket, true) + "/" + uri_encode(from, false));
  if (stamp) {
    call.headers.emplace_back("x-amz-metadata-directive", "REPLACE");
  }
  auto answer = perform(call);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (answer->status == 404) {
    return false;
  }
  if (!answer->ok()) {
    return core::fail(ErrorCode::kInternal,
                      "S3 copy " + from + " to " + to + ": " + answer->describe());
  }
  return true;
}

Result<void> Client::list(const std::string& prefix,
                          const std::function<void(const ObjectInfo&)>& fn) {
  std::string token;
  while (true) {
    Call call{.method = bhttp::verb::get, .query = {{"list-type", "2"}, {"prefix", prefix}}};
    if (options_.list_page_size > 0) {
      call.query.emplace_back("max-keys", std::to_string(options_.list_page_size));
    }
    if (!token.empty()) {
      call.query.emplace_back("continuation-token", token);
    }
    auto body = expect_ok(call, kMaxXmlBytes);
    if (!body) {
      return std::unexpected(body.error());
    }
    auto xml = parse_xml(*body);
    if (!xml || xml->name != "ListBucketResult") {
      return core::fail(ErrorCode::kInternal, "S3 ListObjectsV2 " + prefix + ": unreadable answer");
    }
    for (const XmlNode* entry : xml->all("Contents")) {
      ObjectInfo info;
      info.key = std::string(entry->child_text("Key"));
      info.size = parse_number(entry->child_text("Size")).value_or(0);
      info.modified =
          util::parse_utc(entry->child_text("LastModified")).value_or(core::TimePoint());
      fn(info);
    }
    token = std::string(xml->child_text("NextContinuationToken"));
    if (xml->child_text("IsTruncated") != "true" || token.empty()) {
      return {};
    }
  }
}

Result<std::string> Client::create_multipart(const std::string& key) {
  Call call{.method = bhttp::verb::post, .key = key, .query = {{"uploads", ""}}};
  auto body = expect_ok(call, kMaxXmlBytes);
  if (!body) {
    return std::unexpected(body.error());
  }
  auto xml = parse_xml(*body);
  if (!xml || xml->child_text("UploadId").empty()) {
    return core::fail(ErrorCode::kInternal, "S3 CreateMultipartUpload " + key + ": no UploadId");
  }
  return std::string(xml->child_text("UploadId"));
}

Result<std::optional<std::string>> Client::upload_part_copy(const std::string& key,
                                                            const std::string& upload_id, int part,
                                                            const std::string& from,
                                                            std::uint64_t first,
                                                            std::uint64_t last) {
  Call call{.method = bhttp::verb::put,
            .key = key,
            .query = {{"partNumber", std::to_string(part)}, {"uploadId", upload_id}},
            .check_body = true};
  call.headers.emplace_back(
      "x-amz-copy-source", "/" + uri_encode(options_.bucket, true) + "/" + uri_encode(from, false));
  call.headers.emplace_back("x-amz-copy-source-range",
                            "bytes=" + std::to_string(first) + "-" + std::to_string(last));
  auto answer = perform(call);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (answer->code == "NoSuchUpload") {
    return core::fail(ErrorCode::kBlobUploadUnknown, "S3 multipart upload of " + key + " is gone");
  }
  // radosgw also says NoSuchKey for an unknown upload id: either way, what we copy is gone.
  if (answer->status == 404) {
    return std::nullopt;
  }
  if (!answer->ok()) {
    return core::fail(ErrorCode::kInternal, "S3 UploadPartCopy " + key + " part " +
                                                std::to_string(part) + ": " + answer->describe());
  }
  auto xml = parse_xml(answer->body);
  return std::string(xml ? xml->child_text("ETag") : std::string_view());
}

Result<void> Client::complete_multipart(const std::string& key, const std::string& upload_id,
                                        const std::vector<CompletedPart>& parts) {
  std::string xml = "<CompleteMultipartUpload>";
  for (const CompletedPart& part : parts) {
    xml += "<Part><PartNumber>" + std::to_string(part.number) + "</PartNumber><ETag>" +
           xml_escape(part.etag) + "</ETag></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  Call call{.method = bhttp::verb::post,
            .key = key,
            .query = {{"uploadId", upload_id}},
            .headers = {{"content-type", "application/xml"}},
            .body = {bytes_of(xml)},
            .payload_hash = sha256_hex(xml),
            .check_body = true};
  auto answer = perform(call);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  // NoSuchKey: radosgw's word for an unknown upload id.
  if (answer->code == "NoSuchUpload" || answer->code == "NoSuchKey") {
    return core::fail(ErrorCode::kBlobUploadUnknown, "S3 multipart upload of " + key + " is gone");
  }
  if (!answer->ok()) {
    return core::fail(ErrorCode::kInternal,
                      "S3 CompleteMultipartUpload " + key + ": " + answer->describe());
  }
  // The answer's ETag is not needed (and empty on radosgw).
  return {};
}

Result<void> Client::abort_multipart(const std::string& key, const std::string& upload_id) {
  Call call{.method = bhttp::verb::delete_, .key = key, .query = {{"uploadId", upload_id}}};
  auto answer = perform(call);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (!answer->ok() && answer->status != 404) {
    return core::fail(ErrorCode::kInternal,
                      "S3 AbortMultipartUpload " + key + ": " + answer->describe());
  }
  return {};
}

Result<void> Client::list_multipart(const std::string& prefix,
                                    const std::function<void(const MultipartInfo&)>& fn) {
  std::string key_marker;
  std::string id_marker;
  while (true) {
    Call call{.method = bhttp::verb::get, .query = {{"uploads", ""}, {"prefix", prefix}}};
    if (!key_marker.empty()) {
      call.query.emplace_back("key-marker", key_marker);
      call.query.emplace_back("upload-id-marker", id_marker);
    }
    auto body = expect_ok(call, kMaxXmlBytes);
    if (!body) {
      return std::unexpected(body.error());
    }
    auto xml = parse_xml(*body);
    if (!xml) {
      return core::fail(ErrorCode::kInternal, "S3 ListMultipartUploads: unreadable answer");
    }
    for (const XmlNode* upload : xml->all("Upload")) {
      fn(MultipartInfo{
          std::string(upload->child_text("Key")), std::string(upload->child_text("UploadId")),
          util::parse_utc(upload->child_text("Initiated")).value_or(core::TimePoint())});
    }
    key_marker = std::string(xml->child_text("NextKeyMarker"));
    id_marker = std::string(xml->child_text("NextUploadIdMarker"));
    if (xml->child_text("IsTruncated") != "true" || key_marker.empty()) {
      return {};
    }
  }
}

Result<bool> Client::bucket_exists() {
  Call call{.method = bhttp::verb::head};
  auto answer = perform(call);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (answer->status == 404) {
    return false;
  }
  if (!answer->ok()) {
    return core::fail(ErrorCode::kInternal,
                      "S3 bucket " + options_.bucket + ": " + answer->describe() +
                          (answer->status == 403 ? " (check the access key and secret)" : ""));
  }
  return true;
}

Result<void> Client::create_bucket() {
  std::string xml;
  Call call{.method = bhttp::verb::put};
  // us-east-1 is the one region that must not be named.
  if (options_.region != "us-east-1") {
    xml = "<CreateBucketConfiguration><LocationConstraint>" + xml_escape(options_.region) +
          "</LocationConstraint></CreateBucketConfiguration>";
    call.body = {bytes_of(xml)};
  }
  auto answer = perform(call);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  if (!answer->ok() && answer->code != "BucketAlreadyOwnedByYou") {
    return core::fail(ErrorCode::kInternal,
                      "S3 create bucket " + options_.bucket + ": " + answer->describe());
  }
  return {};
}

Result<std::string> Client::presigned_get_url(const std::string& key,
                                              std::chrono::seconds expires) const {
  auto credentials = this->credentials();
  if (!credentials) {
    return std::unexpected(credentials.error());
  }
  const std::string path = path_of(key);
  return scheme_ + "://" + host_ + path + "?" +
         presigned_query("GET", path, host_, *credentials, options_.region,
                         std::chrono::system_clock::now(), expires);
}

}  // namespace berth::storage::s3
