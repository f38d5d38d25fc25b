// The S3 BlobStore driver: blobs as objects in an S3-compatible bucket (AWS S3, Ceph radosgw,
// MinIO, R2), under the keys of storage/layout.hpp behind an optional prefix.
//
// Uploads. S3 objects cannot be appended to, and the bytes of an unfinished multipart upload
// cannot be read. But an upload in progress must be readable (read_upload: the registry
// rehashes after a restart, a pull-through cache streams a blob to its clients while it
// arrives, `berth check` looks) and must survive publish_upload (the registry may publish the
// same upload again if garbage collection took the bytes meanwhile). So an upload is kept as
// plain objects, and the multipart upload is how it is published:
//  - uploads/<id>/started marks it; uploads/<id>/piece-NNNNN hold its bytes, cut as
//    s3_part_plan.hpp says: piece i is exactly piece_size(i) bytes, except the last, which may
//    be short. Sizes grow with the index so that a 1 TiB blob needs at most 10,000 pieces.
//  - append() fills the current piece in memory and PUTs it when it is full. flush() (the
//    registry calls it at the end of each request) PUTs a short last piece as it is; the next
//    writer, in this process or any other replica, reads that short piece back and continues
//    it, overwriting it when it is full. So parts below 5 MiB are staged in S3 itself, every
//    request of an upload may land on any replica, and a process that dies loses only bytes it
//    never acknowledged.
//  - publishing: the blob key is written by a multipart upload whose parts are server-side
//    copies of the pieces (UploadPartCopy, a few in parallel), completed only once the
//    registry has verified the digest; a single piece is one CopyObject. The upload stays
//    until deleted, as publish_upload's contract says. Distribution pays the same one
//    server-side copy (its Move) at commit; nothing is read back through Berth.
//  - while a writer is open in this process, read_upload() sees the bytes it holds in memory
//    too (as immutable shared chunks, so a reader's snapshot costs no copy).
//
// Blobs: put() is one PUT (S3 makes it atomic). publish_upload() onto a blob that exists
// renews its modification time by copying it onto itself (the sweep's grace counts from the
// publication), unless it was written within the last minute. for_each_blob* and list_uploads
// page through ListObjectsV2; remove_many() uses DeleteObjects. presigned_url() gives GET URLs
// for `redirect` (blob GETs answered 307).
//
// Crash leftovers: a publication killed halfway leaves an unfinished multipart upload on a
// blob key, invisible to readers; opening the store aborts those older than a day. A bucket
// lifecycle rule (AbortIncompleteMultipartUpload) does the same on the server side.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "storage/blob_store.hpp"
#include "storage/s3_client.hpp"

namespace berth::storage {

struct S3StoreOptions {
  s3::ClientOptions client;
  // Prepended to every key ("registry/"); a missing final '/' is added.
  std::string prefix;
  // Create the bucket at open when it does not exist.
  bool create_bucket = true;
  // presigned_url() answers (blob GETs redirect to S3) rather than nullopt.
  bool redirect = false;
  std::chrono::seconds redirect_expiry{std::chrono::minutes(20)};
  // Part copies in flight at once while publishing a blob of many pieces.
  int copy_concurrency = 8;
};

// Checks the bucket (creating it if allowed and missing) and sweeps stale multipart uploads.
// Fails with kInternal or kUnavailable and a message naming the endpoint and bucket.
[[nodiscard]] Result<std::unique_ptr<BlobStore>> open_s3_blob_store(S3StoreOptions options);

}  // namespace berth::storage
