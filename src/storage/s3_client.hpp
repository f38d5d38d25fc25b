// S3Client: the S3 REST operations the blob store needs, over http::BlockingClient and SigV4,
// for one bucket. Every answer becomes a value or a core::Error here and nowhere else.
//
// Why our own client: no maintained asynchronous S3 client for C++ ships in Debian 12 (libs3
// 2.0 is synchronous over libcurl and unmaintained; the AWS SDK for C++ is not packaged), and
// BlobStore's methods are blocking by contract (called on the blocking pool). So this is
// blocking too: SigV4 over a small pool of keep-alive connections, with a deadline on every
// socket operation.
//
// Retries: transport failures (refused, reset, timed out), 5xx, 429, and the error codes
// SlowDown, InternalError, RequestTimeout and ServiceUnavailable are tried again, up to
// `attempts` tries, after a pause drawn uniformly from [0, min(cap, base * 2^n)] ("full
// jitter"), then reported as kUnavailable (503 with Retry-After to the registry's client).
// Every request here may be repeated: PUT and copies of a key are idempotent, DeleteObjects
// too, a repeated CompleteMultipartUpload finds its upload gone (the caller then looks at the
// key), and a repeated CreateMultipartUpload leaves an unused upload that the store's startup
// sweep aborts. A GET is retried only until its body starts: then the caller has seen bytes.
//
// Server quirks handled here (also listed in the README):
//  - radosgw answers CompleteMultipartUpload with an empty <ETag>: the ETag is never required;
//  - radosgw says NoSuchKey where AWS says NoSuchUpload for an unknown upload id: both mean
//    "upload gone" on the multipart calls;
//  - some radosgw error bodies have an empty <Message>: messages fall back to the code and the
//    HTTP status;
//  - AWS may answer CompleteMultipartUpload and UploadPartCopy with 200 and an <Error> body:
//    the body is read and checked.
//
// Secrets: the secret key only ever enters the HMAC; no message built here contains it or an
// Authorization header.
//
// Thread-safe: every method may be called from any thread at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "http/blocking_client.hpp"
#include "storage/s3_credentials.hpp"
#include "storage/s3_sigv4.hpp"

namespace berth::storage::s3 {

using core::Result;

struct ClientOptions {
  // "https://s3.example.com:9000"; empty: AWS, https://s3.<region>.amazonaws.com.
  std::string endpoint;
  std::string region = "us-east-1";
  std::string bucket;
  Credentials credentials;
  // When set, asked for the credentials of every request instead (an instance role's, which
  // expire and are renewed: s3_credentials.hpp).
  std::shared_ptr<CredentialSource> credential_source;
  // Bucket in the path (https://host/bucket/key) rather than the host name. Buckets with dots
  // always use it under TLS, where a wildcard certificate cannot match them.
  bool path_style = false;
  // PEM CAs for the endpoint; empty: the system's.
  std::filesystem::path ca_file;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds io_timeout{std::chrono::seconds(60)};
  int attempts = 5;
  std::chrono::milliseconds backoff{std::chrono::milliseconds(100)};
  std::chrono::milliseconds backoff_cap{std::chrono::seconds(5)};
  // How to wait between tries; empty: std::this_thread::sleep_for. Tests pass a fake.
  std::function<void(std::chrono::milliseconds)> sleep;
  std::size_t max_idle_connections = 16;
  // Keys per ListObjectsV2 page; 0: the server's default (1,000). Tests make it small.
  std::size_t list_page_size = 0;
};

struct ObjectInfo {
  std::string key;
  std::uint64_t size = 0;
  core::TimePoint modified;
};

struct MultipartInfo {
  std::string key;
  std::string upload_id;
  core::TimePoint initiated;
};

struct CompletedPart {
  int number = 0;
  std::string etag;
};

class Client {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Client>> create(ClientOptions options);
  ~Client();

  const ClientOptions& options() const { return options_; }

  // nullopt if the key does not exist.
  [[nodiscard]] Result<std::optional<ObjectInfo>> head(const std::string& key);
  // The bytes from offset to the end (or `length` of them), with the body unread; nullopt if
  // the key does not exist. A range past the end gives a response with no body.
  [[nodiscard]] Result<std::optional<http::ClientResponse>> get(
      const std::string& key, std::uint64_t offset, std::optional<std::uint64_t> length);
  // The whole (small) object, nullopt if absent.
  [[nodiscard]] Result<std::optional<std::string>> get_small(const std::string& key,
                                                             std::size_t limit);
  // With if_absent, a key that exists already is kConflict (If-None-Match: *, where the server
  // honours it).
  [[nodiscard]] Result<void> put(const std::string& key,
                                 const std::vector<std::span<const std::byte>>& body,
                                 bool if_absent = false);
  [[nodiscard]] Result<void> remove(const std::string& key);
  // DeleteObjects in batches of 1,000. Absent keys are no error.
  [[nodiscard]] Result<void> remove_many(const std::vector<std::string>& keys);
  // Server-side copy; false if the source does not exist. With `stamp`, a copy onto itself
  // is allowed and renews the object's modification time.
  [[nodiscard]] Result<bool> copy(const std::string& from, const std::string& to, bool stamp);
  // ListObjectsV2 of every key under prefix, following continuation tokens. fn sees each
  // page's objects before the next page is asked for, and may delete them.
  [[nodiscard]] Result<void> list(const std::string& prefix,
                                  const std::function<void(const ObjectInfo&)>& fn);

  [[nodiscard]] Result<std::string> create_multipart(const std::string& key);
  // UploadPartCopy of bytes [first, last] of `from`; false if the source vanished.
  [[nodiscard]] Result<std::optional<std::string>> upload_part_copy(
      const std::string& key, const std::string& upload_id, int part, const std::string& from,
      std::uint64_t first, std::uint64_t last);
  // kBlobUploadUnknown if the upload is gone (completed or aborted meanwhile).
  [[nodiscard]] Result<void> complete_multipart(const std::string& key,
                                                const std::string& upload_id,
                                                const std::vector<CompletedPart>& parts);
  [[nodiscard]] Result<void> abort_multipart(const std::string& key, const std::string& upload_id);
  [[nodiscard]] Result<void> list_multipart(const std::string& prefix,
                                            const std::function<void(const MultipartInfo&)>& fn);

  [[nodiscard]] Result<bool> bucket_exists();
  [[nodiscard]] Result<void> create_bucket();

  // A GET URL for the key, valid for `expires` from now (or until the credentials expire,
  // if sooner), signed with the store's credentials.
  [[nodiscard]] Result<std::string> presigned_get_url(const std::string& key,
                                                      std::chrono::seconds expires) const;

 private:
  struct Call;
  struct Answer;
  Client(ClientOptions options, std::shared_ptr<http::BlockingClient> http, std::string host,
         std::string scheme, std::string path_prefix);
  [[nodiscard]] Result<Answer> perform(const Call& call);
  [[nodiscard]] Result<Answer> attempt(const Call& call);
  [[nodiscard]] Result<std::string> expect_ok(const Call& call, std::size_t limit);
  std::string path_of(const std::string& key) const;
  [[nodiscard]] Result<Credentials> credentials() const;

  ClientOptions options_;
  std::shared_ptr<http::BlockingClient> http_;
  // The Host header and the scheme the endpoint is reached by.
  std::string host_;
  std::string scheme_;
  // "/bucket" with path-style addressing, empty with virtual hosts.
  std::string path_prefix_;
};

}  // namespace berth::storage::s3
