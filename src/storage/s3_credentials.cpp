#include "storage/s3_credentials.hpp"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <mutex>
#include <optional>

#include "http/blocking_client.hpp"
#include "util/utc_time.hpp"

namespace berth::storage::s3 {
namespace {

namespace bhttp = boost::beast::http;
namespace json = boost::json;
using core::ErrorCode;

constexpr std::string_view kTokenPath = "/latest/api/token";
constexpr std::string_view kRolePath = "/latest/meta-data/iam/security-credentials/";
constexpr std::size_t kAnswerLimit = 64 * 1024;

// Credentials and when they stop working.
struct Lease {
  Credentials credentials;
  core::TimePoint expires;
};

class InstanceRole final : public CredentialSource {
 public:
  InstanceRole(std::shared_ptr<http::BlockingClient> http, InstanceRoleOptions options,
               const core::Clock& clock)
      : http_(std::move(http)), options_(std::move(options)), clock_(clock) {}

  core::Result<Credentials> current() override {
    const std::lock_guard lock(mutex_);
    const auto now = clock_.now();
    if (lease_ && now < lease_->expires - options_.refresh_margin) {
      return lease_->credentials;
    }
    auto fetched = fetch();
    if (fetched) {
      lease_ = std::move(*fetched);
      return lease_->credentials;
    }
    // The ones we have still work until they expire: a blip of the metadata service must not
    // stop uploads.
    if (lease_ && now < lease_->expires) {
      return lease_->credentials;
    }
    return core::in_context(
        "cannot get the instance role's S3 credentials from " + options_.endpoint, fetched.error());
  }

 private:
  core::Result<std::string> ask(bhttp::verb method, std::string path,
                                std::vector<std::pair<std::string, std::string>> headers) {
    http::ClientRequest request;
    request.method = method;
    request.target = std::move(path);
    request.headers = std::move(headers);
    auto response = http_->send(request);
    if (!response) {
      return core::fail(ErrorCode::kUnavailable, response.error().message);
    }
    auto body = response->read_all(kAnswerLimit);
    if (!body) {
      return core::fail(ErrorCode::kUnavailable, body.error().message);
    }
    if (response->status() != 200) {
      return core::fail(ErrorCode::kUnavailable,
                        request.target + " answered " + std::to_string(response->status()));
    }
    return std::move(*body);
  }

  core::Result<Lease> fetch() {
    auto token = ask(bhttp::verb::put, std::string(kTokenPath),
                     {{"x-aws-ec2-metadata-token-ttl-seconds", "21600"}});
    if (!token) {
      return std::unexpected(token.error());
    }
    const std::pair<std::string, std::string> session{"x-aws-ec2-metadata-token", *token};
    auto roles = ask(bhttp::verb::get, std::string(kRolePath), {session});
    if (!roles) {
      return std::unexpected(roles.error());
    }
    // One role per instance profile: the first line.
    const std::string role = roles->substr(0, roles->find('\n'));
    if (role.empty()) {
      return core::fail(ErrorCode::kUnavailable, "the instance has no IAM role");
    }
    auto answer = ask(bhttp::verb::get, std::string(kRolePath) + role, {session});
    if (!answer) {
      return std::unexpected(answer.error());
    }
    return parse_lease(*answer, role);
  }

  // {"Code":"Success","AccessKeyId":...,"SecretAccessKey":...,"Token":...,"Expiration":...}
  static core::Result<Lease> parse_lease(const std::string& text, const std::string& role) {
    boost::system::error_code ec;
    const json::value value = json::parse(text, ec);
    const json::object* object = ec ? nullptr : value.if_object();
    auto field = [&](std::string_view name) -> std::string {
      const json::value* member = object != nullptr ? object->if_contains(name) : nullptr;
      return member != nullptr && member->is_string() ? std::string(member->get_string())
                                                      : std::string();
    };
    if (object == nullptr || field("Code") != "Success") {
      return core::fail(ErrorCode::kUnavailable,
                        "role '" + role + "': not a successful credentials answer");
    }
    Lease lease{{field("AccessKeyId"), field("SecretAccessKey"), field("Token")}, {}};
    const auto expires = util::parse_utc(field("Expiration"));
    if (lease.credentials.access_key.empty() || lease.credentials.secret_key.empty() || !expires) {
      return core::fail(ErrorCode::kUnavailable,
                        "role '" + role + "': keys or expiration missing from the answer");
    }
    lease.expires = *expires;
    return lease;
  }

  std::shared_ptr<http::BlockingClient> http_;
  const InstanceRoleOptions options_;
  const core::Clock& clock_;
  std::mutex mutex_;  // guards lease_, and makes one fetch at a time
  std::optional<Lease> lease_;
};

}  // namespace

core::Result<std::shared_ptr<CredentialSource>> instance_role_credentials(
    InstanceRoleOptions options, const core::Clock& clock) {
  auto url = boost::urls::parse_absolute_uri(options.endpoint);
  if (!url || url->scheme() != "http" || url->host().empty()) {
    return core::fail(ErrorCode::kInternal,
                      "the instance metadata endpoint must be an http:// "
                      "URL, got '" +
                          options.endpoint + "'");
  }
  http::ClientTarget target{false, url->host_address(),
                            url->has_port() ? std::string(url->port()) : "80"};
  http::BlockingClientOptions http_options;
  http_options.connect_timeout = options.timeout;
  http_options.io_timeout = options.timeout;
  http_options.max_idle = 1;
  auto http = http::BlockingClient::create(std::move(target), http_options);
  if (!http) {
    return core::fail(ErrorCode::kInternal, "instance metadata endpoint: " + http.error());
  }
  return std::make_shared<InstanceRole>(std::move(*http), std::move(options), clock);
}

}  // namespace berth::storage::s3
