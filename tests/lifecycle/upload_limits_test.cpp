// What an upload may take, against the built berth: uploads.max_size refuses a blob that is too
// large (413) before reading a body whose length is announced and as soon as a body without one
// passes it; storage.min_free refuses new uploads (503 with Retry-After and a message saying
// why) while pulls and deletes go on; and on a filesystem that really fills up (a 48 MiB tmpfs,
// where the test may mount one: CI runs as root) a write that fails gives its space back at
// once, so the next push goes through instead of failing until the upload is purged a day later.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>

#include "lifecycle_support.hpp"

namespace berth::testing::lifecycle {
namespace {

namespace json = boost::json;

const HttpHeaders kOctets = {{"Content-Type", "application/octet-stream"}};

std::string message_of(const HttpResponse& response) {
  const auto body = json_object(response.body);
  return std::string(body.at("errors").as_array().at(0).as_object().at("message").as_string());
}

// "<target>?digest=" or "<target>&digest=".
std::string with_digest(const std::string& target, const std::string& digest) {
  return target + (target.find('?') == std::string::npos ? "?" : "&") + "digest=" + digest;
}

// The bytes of every file under <data>/uploads.
std::uint64_t upload_bytes(const fs::path& data) {
  std::uint64_t total = 0;
  for (const auto& file : crash::upload_files(data)) {
    total += crash::file_size_if_any(file).value_or(0);
  }
  return total;
}

TEST(UploadLimits, MaxSizeRefusesALargerBlobBeforeItsBytesAreStored) {
  CrashableBerth berth(std::map<std::string, std::string>{{"BERTH_UPLOADS_MAX_SIZE", "4KiB"}});
  berth.start();
  RegistryClient registry("127.0.0.1", berth.port());
  auto& http = registry.http();

  // Exactly the limit is fine.
  const std::string fits = random_bytes(4096);
  EXPECT_EQ(registry.pull_blob("max/a", registry.push_blob("max/a", fits)), fits);

  // Announced: refused on the headers alone.
  const std::string big = random_bytes(4097);
  const std::string digest = sha256_digest(big);
  auto held = crash::send_partial_request(
      berth.port(), "POST", "/v2/max/a/blobs/uploads/?digest=" + digest, kOctets, big.size(), "");
  const auto early = held->read_response(30s);
  EXPECT_EQ(early.status, 413u) << describe(early);
  EXPECT_EQ(error_code(early), "SIZE_INVALID") << describe(early);
  EXPECT_NE(message_of(early).find("uploads.max_size"), std::string::npos) << describe(early);
  held.reset();

  // Chunked: the chunk that would pass it is refused (announced length) and the upload goes.
  const std::string location = registry.start_upload("max/a");
  const auto first =
      http.patch(location, big.substr(0, 3000),
                 {{"Content-Type", "application/octet-stream"}, {"Content-Range", "0-2999"}});
  ASSERT_EQ(first.status, 202u) << describe(first);
  const auto second =
      http.patch(location_target(first), big.substr(3000),
                 {{"Content-Type", "application/octet-stream"}, {"Content-Range", "3000-4096"}});
  EXPECT_EQ(second.status, 413u) << describe(second);
  EXPECT_EQ(http.get(location_target(first)).status, 404u) << "the upload was discarded";

  // A closing PUT whose body has no length: cut off where it passes the limit.
  const std::string streamed = registry.start_upload("max/a");
  std::size_t sent = 0;
  const auto put = http.request_stream(
      "PUT", with_digest(streamed, digest), kOctets,
      [&] {
        std::string piece = sent < big.size() ? big.substr(sent, 1024) : "";
        sent += piece.size();
        return piece;
      },
      std::nullopt);
  EXPECT_EQ(put.status, 413u) << describe(put);
  EXPECT_EQ(http.get(streamed).status, 404u) << "the upload was discarded";
  EXPECT_FALSE(registry.blob_exists("max/a", digest));
  EXPECT_EQ(upload_bytes(berth.data()), 0u);

  http.close();
  EXPECT_EQ(berth.stop(), 0) << berth.logs();
}

// Below storage.min_free (here: any disk, the minimum being far more than any has) new uploads
// are refused with a message for the client and a Retry-After; everything else still works.
TEST(UploadLimits, BelowMinFreeNewUploadsAreRefusedAndTheRestWorks) {
  CrashableBerth berth;
  berth.start();
  PushedImage image;
  {
    RegistryClient registry("127.0.0.1", berth.port());
    image = registry.push_image("low/app", "v1");
    registry.http().close();
  }
  ASSERT_EQ(berth.stop(), 0) << berth.logs();
  berth.start({{"BERTH_STORAGE_MIN_FREE", "1048576TiB"}});
  RegistryClient registry("127.0.0.1", berth.port());
  auto& http = registry.http();

  const auto started = http.post("/v2/low/app/blobs/uploads/", "");
  EXPECT_EQ(started.status, 503u) << describe(started);
  EXPECT_EQ(error_code(started), "UNAVAILABLE") << describe(started);
  EXPECT_NE(message_of(started).find("storage is almost full"), std::string::npos)
      << describe(started);
  EXPECT_NE(message_of(started).find("storage.min_free"), std::string::npos) << describe(started);
  EXPECT_FALSE(started.header("Retry-After").empty()) << describe(started);
  const std::string layer = random_bytes(100);
  const auto monolithic =
      http.post("/v2/low/app/blobs/uploads/?digest=" + sha256_digest(layer), layer, kOctets);
  EXPECT_EQ(monolithic.status, 503u) << describe(monolithic);

  EXPECT_EQ(image_problem(registry, "low/app", "v1", image), "");
  // A mount takes no space: still fine.
  const auto mounted = http.post(
      "/v2/low/other/blobs/uploads/?mount=" + image.layers[0].digest + "&from=low/app", "");
  EXPECT_EQ(mounted.status, 201u) << describe(mounted);
  EXPECT_EQ(http.del("/v2/low/app/manifests/v1").status, 202u);

  http.close();
  EXPECT_EQ(berth.stop(), 0) << berth.logs();
}

// A tmpfs of `megabytes` mounted at `at` for the test's life; unmounted (lazily, should berth
// still hold files there) when it goes.
class SmallFilesystem {
 public:
  SmallFilesystem(const fs::path& at, int megabytes) : at_(at) {
    fs::create_directories(at);
    const std::string options = "size=" + std::to_string(megabytes) + "m,mode=0700";
    if (::mount("tmpfs", at.c_str(), "tmpfs", 0, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~SmallFilesystem() {
    if (mounted_) {
      ::umount2(at_.c_str(), MNT_DETACH);
    }
  }
  SmallFilesystem(const SmallFilesystem&) = delete;
  SmallFilesystem& operator=(const SmallFilesystem&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  fs::path at_;
  bool mounted_ = false;
  std::string error_;
};

// Measured before: a monolithic PUT that ran out of space answered 503 but kept its partial
// data, so the disk stayed full and every later push failed until the upload was purged.
TEST(UploadLimits, AWriteThatFillsTheDiskGivesItsSpaceBackAtOnce) {
  CrashableBerth berth(std::map<std::string, std::string>{{"BERTH_STORAGE_MIN_FREE", "0"}});
  SmallFilesystem disk(berth.data(), 48);
  if (!disk.mounted()) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << disk.error() << "); CI runs as root";
  }
  berth.start();
  RegistryClient registry("127.0.0.1", berth.port());
  auto& http = registry.http();
  http.set_timeout(120s);

  // A little more than the disk holds: the server reads until the disk is full, answers, and
  // reads away the rest (its lingering close takes a few MiB) so that the answer arrives.
  const auto too_much = [&] {
    return random_bytes(static_cast<std::size_t>(fs::space(berth.data()).available) + (2 << 20));
  };
  // POST, then the whole blob in the closing PUT.
  const std::string huge = too_much();
  const std::string location = registry.start_upload("full/app");
  const auto put = http.put(with_digest(location, sha256_digest(huge)), huge, kOctets);
  EXPECT_EQ(put.status, 503u) << describe(put);
  EXPECT_EQ(upload_bytes(berth.data()), 0u) << "the failed write's bytes were given back";

  // A chunked upload keeps what was acknowledged, and only that.
  const std::string acknowledged = random_bytes(8 << 20);
  const std::string chunked = registry.start_upload("full/app");
  const auto first =
      http.patch(chunked, acknowledged,
                 {{"Content-Type", "application/octet-stream"},
                  {"Content-Range", "0-" + std::to_string(acknowledged.size() - 1)}});
  ASSERT_EQ(first.status, 202u) << describe(first);
  const auto overflow = http.patch(location_target(first), too_much(), kOctets);
  EXPECT_EQ(overflow.status, 503u) << describe(overflow);
  const auto status = http.get(location_target(first));
  EXPECT_EQ(status.status, 204u) << describe(status);
  EXPECT_EQ(status.header("Range"), "0-" + std::to_string(acknowledged.size() - 1));
  EXPECT_EQ(upload_bytes(berth.data()), acknowledged.size());

  // And pushes go on: the chunked upload finishes, a new blob goes in.
  const std::string rest = random_bytes(1 << 20);
  const auto finished =
      http.put(with_digest(location_target(first), sha256_digest(acknowledged + rest)), rest,
               {{"Content-Type", "application/octet-stream"},
                {"Content-Range", std::to_string(acknowledged.size()) + "-" +
                                      std::to_string(acknowledged.size() + rest.size() - 1)}});
  EXPECT_EQ(finished.status, 201u) << describe(finished);
  EXPECT_EQ(registry.pull_blob("full/app", sha256_digest(acknowledged + rest)),
            acknowledged + rest);
  const std::string small = random_bytes(1 << 20);
  EXPECT_EQ(registry.pull_blob("full/app", registry.push_blob("full/app", small)), small);

  http.close();
  EXPECT_EQ(berth.stop(), 0) << berth.logs();
}

}  // namespace
}  // namespace berth::testing::lifecycle
