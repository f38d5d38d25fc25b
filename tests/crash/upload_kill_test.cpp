// Kills berth in the middle of large blob uploads: a monolithic POST ?digest= cut off halfway
// through its body, and a chunked upload cut off halfway through a PATCH and then halfway
// through its closing PUT. The test paces the client itself: it sends part of a body, waits
// until exactly those bytes are on disk in the upload's file (so the server is known to be
// mid-body), and only then sends SIGKILL.
//
// After each restart nothing unverified may be visible: HEAD of the blob is 404 and no file
// sits at its blob path. An upload session the client had acknowledged survives: its status
// reports the bytes on disk, those bytes are the client's, a PATCH retried from the
// acknowledged offset is refused with 416 and the real end of the upload, and sending the rest
// with the right digest publishes a blob that reads back byte for byte.
#include <gtest/gtest.h>

#include <string>

#include "crash_support.hpp"

namespace berth::testing::crash {
namespace {

// The size of an upload as its status reports it: Range "0-<last>", or 0 for "0-0" (which the
// server also answers for an empty upload, as Distribution does).
std::uint64_t reported_size(const HttpResponse& response) {
  const std::string range = response.header("Range");
  const auto dash = range.find('-');
  if (!range.starts_with("0-") || dash == std::string::npos) {
    ADD_FAILURE() << "upload status without a Range header of the form 0-<last>: "
                  << describe(response);
    return 0;
  }
  const std::uint64_t last = std::stoull(range.substr(dash + 1));
  return last == 0 ? 0 : last + 1;
}

void expect_clean_logs(CrashableBerth& berth) {
  EXPECT_EQ(find_sanitizer_report(berth.logs()), "") << berth.logs();
}

void expect_blob_files_intact(const std::filesystem::path& data) {
  const auto report = check_blob_files(data);
  EXPECT_TRUE(report.problems.empty()) << ::testing::PrintToString(report.problems);
}

TEST(KillDuringUpload, MonolithicPostCutMidBodyPublishesNothing) {
  CrashableBerth berth;
  berth.start();
  const std::string repo = "crash/monolithic";
  const std::string bytes = random_bytes(64 * kMiB);
  const std::string digest = sha256_digest(bytes);
  const std::size_t half = bytes.size() / 2;

  auto held =
      send_partial_request(berth.port(), "POST", "/v2/" + repo + "/blobs/uploads/?digest=" + digest,
                           {{"Content-Type", "application/octet-stream"}}, bytes.size(),
                           std::string_view(bytes).substr(0, half));
  // The server writes what it reads; once the upload's file holds exactly the half we sent,
  // it is waiting for the rest of the body.
  ASSERT_TRUE(eventually([&] {
    return find_upload_file(berth.data(), std::string_view(bytes).substr(0, 4096), half)
        .has_value();
  })) << "the first half of the body never reached the upload file";
  berth.kill();
  held.reset();

  berth.start();
  RegistryClient registry("127.0.0.1", berth.port());
  const auto head = registry.http().head("/v2/" + repo + "/blobs/" + digest);
  EXPECT_EQ(head.status, 404u) << describe(head);
  EXPECT_FALSE(std::filesystem::exists(blob_path(berth.data(), digest)))
      << "a file sits at the path of a blob whose upload was cut off";
  expect_blob_files_intact(berth.data());

  // The interrupted upload leaves no trace that gets in the way of pushing the blob again.
  EXPECT_EQ(registry.push_blob(repo, bytes), digest);
  EXPECT_TRUE(registry.blob_exists(repo, digest));
  EXPECT_TRUE(read_file(blob_path(berth.data(), digest)) == bytes)
      << "the blob pushed again after the crash is stored with other bytes";
  expect_blob_files_intact(berth.data());

  EXPECT_EQ(berth.stop(), 0) << berth.logs();
  expect_clean_logs(berth);
}

TEST(KillDuringUpload, ChunkedUploadResumesAfterKillsMidPatchAndMidClosingPut) {
  CrashableBerth berth;
  berth.start();
  const std::string repo = "crash/chunked";
  const std::size_t chunk = 8 * kMiB;
  const std::string bytes = random_bytes(48 * kMiB);
  const std::string digest = sha256_digest(bytes);

  std::string location;
  std::string upload_id;
  {
    RegistryClient registry("127.0.0.1", berth.port());
    const auto started = registry.http().post("/v2/" + repo + "/blobs/uploads/", "");
    ASSERT_EQ(started.status, 202u) << describe(started);
    location = location_target(started);
    upload_id = started.header("Docker-Upload-UUID");
    ASSERT_FALSE(upload_id.empty()) << describe(started);
    // Three chunks acknowledged.
    for (std::size_t offset = 0; offset < 3 * chunk; offset += chunk) {
      const auto patched = registry.http().patch(
          location, std::string_view(bytes).substr(offset, chunk),
          {{"Content-Type", "application/octet-stream"},
           {"Content-Range", std::to_string(offset) + "-" + std::to_string(offset + chunk - 1)}});
      ASSERT_EQ(patched.status, 202u) << describe(patched);
      EXPECT_EQ(patched.header("Range"), "0-" + std::to_string(offset + chunk - 1));
      location = location_target(patched);
    }
  }
  const auto upload_file = berth.data() / "uploads" / upload_id;
  ASSERT_EQ(file_size_if_any(upload_file), 3 * chunk) << "the upload file is not uploads/<id>";

  // Kill 1: the fourth PATCH is cut off after half of its chunk.
  const std::size_t acknowledged = 3 * chunk;
  const std::size_t cut = acknowledged + chunk / 2;
  auto held =
      send_partial_request(berth.port(), "PATCH", location,
                           {{"Content-Type", "application/octet-stream"},
                            {"Content-Range", std::to_string(acknowledged) + "-" +
                                                  std::to_string(acknowledged + chunk - 1)}},
                           chunk, std::string_view(bytes).substr(acknowledged, chunk / 2));
  ASSERT_TRUE(eventually([&] { return file_size_if_any(upload_file) == cut; }))
      << "the half chunk never reached the upload file";
  berth.kill();
  held.reset();

  berth.start();
  std::uint64_t resumed_at = 0;
  {
    RegistryClient registry("127.0.0.1", berth.port());
    EXPECT_EQ(registry.http().head("/v2/" + repo + "/blobs/" + digest).status, 404u);
    // A client that simply retries the interrupted PATCH from where it was acknowledged must be
    // told where the upload really ends, not have its bytes appended a second time.
    const auto retried =
        registry.http().patch(location, std::string_view(bytes).substr(acknowledged, chunk),
                              {{"Content-Type", "application/octet-stream"},
                               {"Content-Range", std::to_string(acknowledged) + "-" +
                                                     std::to_string(acknowledged + chunk - 1)}});
    EXPECT_EQ(retried.status, 416u) << describe(retried);
    EXPECT_EQ(retried.header("Range"), "0-" + std::to_string(cut - 1)) << describe(retried);
    EXPECT_EQ(file_size_if_any(upload_file), cut) << "the out-of-order PATCH was written";
    const auto status = registry.http().get(location);
    ASSERT_EQ(status.status, 204u) << describe(status);
    resumed_at = reported_size(status);
    // What the server counts is what it has on disk: the acknowledged chunks and the half
    // that arrived before the kill, all of them the client's bytes.
    EXPECT_EQ(resumed_at, cut) << "acknowledged " << acknowledged << ", on disk " << cut;
    ASSERT_EQ(file_size_if_any(upload_file), resumed_at);
    EXPECT_TRUE(read_file(upload_file) == std::string_view(bytes).substr(0, resumed_at))
        << "the upload file does not hold the client's bytes";
    location = location_target(status).empty() ? location : location_target(status);

    // One more chunk up to a round offset, acknowledged after the restart.
    const std::size_t next = 5 * chunk;
    const auto patched = registry.http().patch(
        location, std::string_view(bytes).substr(resumed_at, next - resumed_at),
        {{"Content-Type", "application/octet-stream"},
         {"Content-Range", std::to_string(resumed_at) + "-" + std::to_string(next - 1)}});
    ASSERT_EQ(patched.status, 202u) << describe(patched);
    EXPECT_EQ(patched.header("Range"), "0-" + std::to_string(next - 1));
    location = location_target(patched);
  }

  // Kill 2: the closing PUT, carrying the last chunk, is cut off after half of it.
  const std::size_t last_start = 5 * chunk;
  const std::size_t second_cut = last_start + chunk / 2;
  held = send_partial_request(
      berth.port(), "PUT",
      location + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + digest,
      {{"Content-Type", "application/octet-stream"},
       {"Content-Range", std::to_string(last_start) + "-" + std::to_string(bytes.size() - 1)}},
      bytes.size() - last_start, std::string_view(bytes).substr(last_start, chunk / 2));
  ASSERT_TRUE(eventually([&] { return file_size_if_any(upload_file) == second_cut; }))
      << "the half of the closing PUT's body never reached the upload file";
  berth.kill();
  held.reset();

  berth.start();
  RegistryClient registry("127.0.0.1", berth.port());
  EXPECT_EQ(registry.http().head("/v2/" + repo + "/blobs/" + digest).status, 404u);
  EXPECT_FALSE(std::filesystem::exists(blob_path(berth.data(), digest)));
  const auto status = registry.http().get(location);
  ASSERT_EQ(status.status, 204u) << describe(status);
  resumed_at = reported_size(status);
  EXPECT_EQ(resumed_at, second_cut);
  ASSERT_LE(resumed_at, bytes.size());

  // Finishing with exactly the remaining bytes and the right digest publishes the blob.
  const auto finished = registry.http().put(
      location + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + digest,
      std::string_view(bytes).substr(resumed_at),
      {{"Content-Type", "application/octet-stream"},
       {"Content-Range", std::to_string(resumed_at) + "-" + std::to_string(bytes.size() - 1)}});
  ASSERT_EQ(finished.status, 201u) << describe(finished);
  EXPECT_EQ(finished.header("Docker-Content-Digest"), digest);
  const auto pulled = registry.http().get("/v2/" + repo + "/blobs/" + digest);
  ASSERT_EQ(pulled.status, 200u) << describe(pulled);
  EXPECT_TRUE(pulled.body == bytes) << "the resumed blob reads back different bytes ("
                                    << pulled.body.size() << " of " << bytes.size() << ")";
  EXPECT_FALSE(std::filesystem::exists(upload_file)) << "the finished upload's file remains";
  expect_blob_files_intact(berth.data());

  EXPECT_EQ(berth.stop(), 0) << berth.logs();
  expect_clean_logs(berth);
}

}  // namespace
}  // namespace berth::testing::crash
