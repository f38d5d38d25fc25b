// Hasher's saved states against an independent oracle: OpenSSL's EVP one-shot digest of the
// same bytes, for every split point around the block boundaries of both algorithms.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <string>
#include <vector>

#include "core/digest.hpp"

namespace berth::core {
namespace {

std::string oracle(std::string_view bytes, DigestAlgorithm algorithm) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> raw{};
  unsigned int length = 0;
  const EVP_MD* md = algorithm == DigestAlgorithm::kSha256 ? EVP_sha256() : EVP_sha512();
  EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), raw.data(), &length, md, nullptr), 1);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text(algorithm_name(algorithm));
  text.push_back(':');
  for (unsigned int i = 0; i < length; ++i) {
    text.push_back(kHex[raw[i] >> 4]);
    text.push_back(kHex[raw[i] & 0xf]);
  }
  return text;
}

std::string pattern_bytes(std::size_t size) {
  std::string bytes(size, '\0');
  std::uint32_t x = 2463534242U;
  for (auto& c : bytes) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return bytes;
}

class HasherStateTest : public ::testing::TestWithParam<DigestAlgorithm> {};

TEST_P(HasherStateTest, ResumesFromEverySplitAroundTheBlocksAsTheOracleHashes) {
  const std::string bytes = pattern_bytes(1000);
  for (std::size_t split : std::vector<std::size_t>{0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128,
                                                    129, 255, 256, 257, 999, 1000}) {
    Hasher first(GetParam());
    first.update(std::string_view(bytes).substr(0, split));
    const std::string saved = first.save();
    auto resumed = Hasher::restore(saved);
    ASSERT_TRUE(resumed.has_value()) << split << ": " << resumed.error().message;
    EXPECT_EQ(resumed->algorithm(), GetParam());
    EXPECT_EQ(resumed->size(), split);
    EXPECT_EQ(resumed->save(), saved) << split;
    resumed->update(std::string_view(bytes).substr(split));
    EXPECT_EQ(resumed->digest().str(), oracle(bytes, GetParam())) << "split at " << split;
    EXPECT_EQ(resumed->size(), bytes.size());
  }
}

TEST_P(HasherStateTest, ChainsOfSavesAndRestoresMatchTheOracle) {
  const std::string bytes = pattern_bytes(10'000);
  Hasher hasher(GetParam());
  for (std::size_t offset = 0; offset < bytes.size(); offset += 777) {
    hasher.update(std::string_view(bytes).substr(offset, 777));
    auto restored = Hasher::restore(hasher.save());
    ASSERT_TRUE(restored.has_value()) << restored.error().message;
    hasher = std::move(*restored);
  }
  EXPECT_EQ(hasher.digest().str(), oracle(bytes, GetParam()));
}

INSTANTIATE_TEST_SUITE_P(BothAlgorithms, HasherStateTest,
                         ::testing::Values(DigestAlgorithm::kSha256, DigestAlgorithm::kSha512),
                         [](const auto& info) { return std::string(algorithm_name(info.param)); });

// The format is Berth's own, not OpenSSL's struct layout: replicas of one version, or of the next,
// read each other's states.
TEST(HasherState, FormatVersionOneIsStable) {
  Hasher hasher;
  hasher.update("abc");
  EXPECT_EQ(hasher.save(),
            "1:sha256:3:6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19:616263");
  auto restored = Hasher::restore(
      "1:sha256:3:6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19:616263");
  ASSERT_TRUE(restored.has_value());
  EXPECT_EQ(restored->digest().str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HasherState, RefusesUnknownVersionsAndDamage) {
  Hasher hasher;
  hasher.update("abc");
  const std::string good = hasher.save();
  ASSERT_TRUE(Hasher::restore(good).has_value());
  const std::vector<std::string> bad = {
      "",
      "2" + good.substr(1),                               // a later format
      "1:md5" + good.substr(good.find(':', 2)),           // unknown algorithm
      good + ":",                                         // a field too many
      good.substr(0, good.rfind(':')),                    // a field missing
      "1:sha256:4" + good.substr(good.find(':', 9)),      // count disagrees with the block
      "1:sha256:x" + good.substr(good.find(':', 9)),      // count not a number
      "1:sha256::" + good.substr(good.find(':', 9) + 1),  // count empty
      good.substr(0, good.size() - 1) + "G",              // block not hex
      good.substr(0, good.size() - 1),                    // block of odd length
      "1:sha256:3:6a09e667:616263",                       // chaining words too short
      "1:sha512:3:6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19:616263",
  };
  for (const auto& text : bad) {
    auto restored = Hasher::restore(text);
    EXPECT_FALSE(restored.has_value()) << "accepted: " << text;
    if (!restored) {
      EXPECT_EQ(restored.error().code, ErrorCode::kInternal);
    }
  }
}

}  // namespace
}  // namespace berth::core
