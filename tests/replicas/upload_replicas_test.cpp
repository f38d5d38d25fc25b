// A chunked upload whose requests land on two `berth serve` processes sharing one data
// directory, as behind a round-robin balancer with no sticky sessions: the PATCHes alternate,
// the closing PUT lands on the other, and one of the processes is killed (SIGKILL) between
// chunks. The blob must publish with the client's digest, and no process may read back stored
// bytes to go on hashing them (each says so in its log when it has to: "to resume its hash").
// The oracle for the bytes is OpenSSL's digest of what the client sent and the blob read back
// from both processes.
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>

#include "crash_support.hpp"

namespace berth::testing::crash {
namespace {

constexpr std::size_t kMiB = 1024 * 1024;
constexpr std::string_view kReadBack = "to resume its hash";

HttpHeaders chunk_headers(std::size_t offset, std::size_t size) {
  return {{"Content-Type", "application/octet-stream"},
          {"Content-Range", std::to_string(offset) + "-" + std::to_string(offset + size - 1)}};
}

std::string with_digest(const std::string& location, const std::string& digest) {
  return location + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + digest;
}

// Two processes on one data directory; the first has created the database when the second
// starts.
class TwoReplicas {
 public:
  TwoReplicas() {
    for (auto& replica : replicas_) {
      replica =
          std::make_unique<BerthProcess>(BerthOptions{.data = data_.path(), .args = {}, .env = {}});
    }
  }
  BerthProcess& operator[](std::size_t i) { return *replicas_[i % 2]; }
  RegistryClient client(std::size_t i) { return RegistryClient("127.0.0.1", (*this)[i].port()); }
  std::string logs() const { return replicas_[0]->log() + replicas_[1]->log(); }
  const std::filesystem::path& data() const { return data_.path(); }

 private:
  TempDir data_;
  std::array<std::unique_ptr<BerthProcess>, 2> replicas_;
};

TEST(UploadAcrossReplicas, PatchesAlternateAndThePutLandsOnTheOtherWithoutReadingBack) {
  TwoReplicas replicas;
  const std::string repo = "replicas/alternating";
  // Chunks that never end on a hash block, so the saved states carry partial blocks.
  const std::size_t chunk = kMiB + 77;
  const std::string bytes = random_bytes(6 * chunk + 1234);
  const std::string digest = sha256_digest(bytes);

  auto first = replicas.client(0);
  const auto started = first.http().post("/v2/" + repo + "/blobs/uploads/", "");
  ASSERT_EQ(started.status, 202u) << describe(started);
  std::string location = location_target(started);
  std::size_t offset = 0;
  std::size_t request = 0;
  for (; offset + chunk < bytes.size(); offset += chunk, ++request) {
    auto client = replicas.client(request);
    const auto patched = client.http().patch(
        location, std::string_view(bytes).substr(offset, chunk), chunk_headers(offset, chunk));
    ASSERT_EQ(patched.status, 202u) << "on replica " << request % 2 << ": " << describe(patched);
    EXPECT_EQ(patched.header("Range"), "0-" + std::to_string(offset + chunk - 1));
    location = location_target(patched);
  }
  // The status, asked of the replica that did not take the last PATCH, knows all of it.
  auto other = replicas.client(request);
  const auto status = other.http().get(location);
  ASSERT_EQ(status.status, 204u) << describe(status);
  EXPECT_EQ(status.header("Range"), "0-" + std::to_string(offset - 1));
  const auto put =
      other.http().put(with_digest(location, digest), std::string_view(bytes).substr(offset),
                       chunk_headers(offset, bytes.size() - offset));
  ASSERT_EQ(put.status, 201u) << describe(put);
  EXPECT_EQ(put.header("Docker-Content-Digest"), digest);

  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(replicas.client(i).pull_blob(repo, digest) == bytes)
        << "replica " << i << " serves other bytes";
  }
  EXPECT_EQ(replicas.logs().find(kReadBack), std::string::npos)
      << "a replica read back stored bytes:\n"
      << replicas.logs();
  EXPECT_EQ(find_sanitizer_report(replicas.logs()), "");
}

TEST(UploadAcrossReplicas, AReplicaKilledBetweenChunksTheOtherFinishesWithoutReadingBack) {
  TwoReplicas replicas;
  const std::string repo = "replicas/killed";
  const std::size_t chunk = 2 * kMiB + 5;
  const std::string bytes = random_bytes(4 * chunk);
  const std::string digest = sha256_digest(bytes);

  std::string location;
  {
    auto doomed = replicas.client(0);
    const auto started = doomed.http().post("/v2/" + repo + "/blobs/uploads/", "");
    ASSERT_EQ(started.status, 202u) << describe(started);
    location = location_target(started);
    for (std::size_t offset = 0; offset < 2 * chunk; offset += chunk) {
      const auto patched = doomed.http().patch(
          location, std::string_view(bytes).substr(offset, chunk), chunk_headers(offset, chunk));
      ASSERT_EQ(patched.status, 202u) << describe(patched);
      location = location_target(patched);
    }
  }
  replicas[0].kill();

  auto survivor = replicas.client(1);
  const auto patched = survivor.http().patch(
      location, std::string_view(bytes).substr(2 * chunk, chunk), chunk_headers(2 * chunk, chunk));
  ASSERT_EQ(patched.status, 202u) << describe(patched);
  EXPECT_EQ(patched.header("Range"), "0-" + std::to_string(3 * chunk - 1));
  const auto put = survivor.http().put(with_digest(location_target(patched), digest),
                                       std::string_view(bytes).substr(3 * chunk),
                                       chunk_headers(3 * chunk, chunk));
  ASSERT_EQ(put.status, 201u) << describe(put);
  EXPECT_TRUE(survivor.pull_blob(repo, digest) == bytes);
  EXPECT_EQ(replicas[1].log().find(kReadBack), std::string::npos)
      << "the surviving replica read back stored bytes:\n"
      << replicas[1].log();
  EXPECT_EQ(find_sanitizer_report(replicas.logs()), "");
}

}  // namespace
}  // namespace berth::testing::crash
