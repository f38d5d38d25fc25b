#include "core/digest.hpp"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

namespace berth::core {
namespace {

constexpr std::string_view kEmptySha256 =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::string_view kAbcSha256 =
    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr std::string_view kEmptySha512 =
    "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
constexpr std::string_view kAbcSha512 =
    "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

TEST(DigestParse, AcceptsSha256) {
  auto d = Digest::parse(kAbcSha256);
  ASSERT_TRUE(d.has_value()) << d.error().message;
  EXPECT_EQ(d->algorithm(), DigestAlgorithm::kSha256);
  EXPECT_EQ(d->str(), kAbcSha256);
  EXPECT_EQ(d->hex(), kAbcSha256.substr(7));
}

TEST(DigestParse, AcceptsSha512) {
  auto d = Digest::parse(kAbcSha512);
  ASSERT_TRUE(d.has_value()) << d.error().message;
  EXPECT_EQ(d->algorithm(), DigestAlgorithm::kSha512);
  EXPECT_EQ(d->hex().size(), 128u);
  EXPECT_EQ(d->str(), kAbcSha512);
}

struct BadDigest {
  std::string name;
  std::string text;
};

class DigestParseRejects : public ::testing::TestWithParam<BadDigest> {};

TEST_P(DigestParseRejects, WithDigestInvalid) {
  auto d = Digest::parse(GetParam().text);
  ASSERT_FALSE(d.has_value()) << GetParam().text;
  EXPECT_EQ(d.error().code, ErrorCode::kDigestInvalid);
  EXPECT_FALSE(d.error().message.empty());
}

const std::string kHex64(kAbcSha256.substr(7));
const std::string kHex128(kAbcSha512.substr(7));

INSTANTIATE_TEST_SUITE_P(
    Table, DigestParseRejects,
    ::testing::Values(
        BadDigest{"Empty", ""}, BadDigest{"MissingColon", "sha256" + kHex64},
        BadDigest{"HexOnly", kHex64}, BadDigest{"EmptyAlgorithm", ":" + kHex64},
        BadDigest{"EmptyHex", "sha256:"}, BadDigest{"Md5", "md5:d41d8cd98f00b204e9800998ecf8427e"},
        BadDigest{"Sha1", "sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        BadDigest{"Sha384", "sha384:" + std::string(96, 'a')},
        BadDigest{"UnknownAlgorithm", "blake3:" + kHex64},
        BadDigest{"UppercaseAlgorithm", "SHA256:" + kHex64},
        BadDigest{"UppercaseHex",
                  "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"},
        BadDigest{"OneUppercaseHexDigit", "sha256:B" + kHex64.substr(1)},
        BadDigest{"Sha256TooShort", "sha256:" + kHex64.substr(1)},
        BadDigest{"Sha256TooLong", "sha256:" + kHex64 + "0"},
        BadDigest{"Sha256WithSha512Length", "sha256:" + kHex128},
        BadDigest{"Sha512WithSha256Length", "sha512:" + kHex64},
        BadDigest{"NonHex", "sha256:" + std::string(63, 'a') + "g"},
        BadDigest{"Base64Chars", "sha256:" + std::string(63, 'a') + "="},
        BadDigest{"TwoColons", "sha256::" + kHex64.substr(1)},
        BadDigest{"TrailingSpace", "sha256:" + kHex64 + " "},
        BadDigest{"LeadingSpace", " sha256:" + kHex64},
        BadDigest{"TrailingNewline", "sha256:" + kHex64 + "\n"},
        BadDigest{"EmbeddedNul", "sha256:" + kHex64.substr(0, 63) + std::string(1, '\0')},
        BadDigest{"AlgorithmTrailingSeparator", "sha256+:" + kHex64},
        BadDigest{"PathTraversal", "sha256:../../../../etc/passwd"},
        BadDigest{"SlashInHex", "sha256:" + kHex64.substr(0, 32) + "/" + kHex64.substr(33)}),
    [](const auto& info) { return info.param.name; });

TEST(DigestOf, KnownVectorsSha256) {
  EXPECT_EQ(Digest::of("").str(), kEmptySha256);
  EXPECT_EQ(Digest::of("abc").str(), kAbcSha256);
}

TEST(DigestOf, KnownVectorsSha512) {
  EXPECT_EQ(Digest::of("", DigestAlgorithm::kSha512).str(), kEmptySha512);
  EXPECT_EQ(Digest::of("abc", DigestAlgorithm::kSha512).str(), kAbcSha512);
}

TEST(DigestOf, ResultReparses) {
  for (auto algorithm : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    Digest d = Digest::of("some bytes", algorithm);
    auto again = Digest::parse(d.str());
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(*again, d);
    EXPECT_EQ(again->algorithm(), algorithm);
  }
}

TEST(Digest, ComparisonAndHash) {
  Digest a = Digest::of("a");
  Digest b = Digest::of("b");
  EXPECT_EQ(a, Digest::of("a"));
  EXPECT_NE(a, b);
  EXPECT_TRUE((a < b) != (b < a));
  std::unordered_set<Digest> set{a, b, Digest::of("a")};
  EXPECT_EQ(set.size(), 2u);
}

TEST(AlgorithmName, Names) {
  EXPECT_EQ(algorithm_name(DigestAlgorithm::kSha256), "sha256");
  EXPECT_EQ(algorithm_name(DigestAlgorithm::kSha512), "sha512");
}

TEST(Hasher, EmptyIsDigestOfNothing) {
  EXPECT_EQ(Hasher().digest().str(), kEmptySha256);
  EXPECT_EQ(Hasher(DigestAlgorithm::kSha512).digest().str(), kEmptySha512);
}

TEST(Hasher, IncrementalEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 10000; ++i) {
    data.push_back(static_cast<char>(i * 31 + 7));
  }
  for (auto algorithm : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    for (std::size_t chunk : {1u, 3u, 64u, 127u, 4096u, 10000u}) {
      Hasher hasher(algorithm);
      for (std::size_t at = 0; at < data.size(); at += chunk) {
        hasher.update(std::string_view(data).substr(at, chunk));
      }
      EXPECT_EQ(hasher.digest(), Digest::of(data, algorithm)) << "chunk " << chunk;
      EXPECT_EQ(hasher.algorithm(), algorithm);
    }
  }
}

TEST(Hasher, UpdateWithZeroBytesChangesNothing) {
  Hasher hasher;
  hasher.update(nullptr, 0);
  hasher.update("ab");
  hasher.update("", 0);
  hasher.update("c");
  EXPECT_EQ(hasher.digest().str(), kAbcSha256);
}

TEST(Hasher, DigestDoesNotFinishTheHasher) {
  Hasher hasher;
  hasher.update("a");
  Digest partial = hasher.digest();
  EXPECT_EQ(partial, Digest::of("a"));
  EXPECT_EQ(hasher.digest(), partial);  // Asking twice gives the same answer.
  hasher.update("bc");
  EXPECT_EQ(hasher.digest().str(), kAbcSha256);
}

TEST(Hasher, CopyIsAnIndependentSnapshot) {
  Hasher hasher;
  hasher.update("ab");
  Hasher snapshot(hasher);
  hasher.update("c");
  EXPECT_EQ(hasher.digest().str(), kAbcSha256);
  EXPECT_EQ(snapshot.digest(), Digest::of("ab"));
  snapshot.update("c");
  EXPECT_EQ(snapshot.digest().str(), kAbcSha256);
}

TEST(Hasher, CopyAssignmentSnapshots) {
  Hasher a;
  a.update("ab");
  Hasher b(DigestAlgorithm::kSha512);
  b.update("zzz");
  b = a;
  EXPECT_EQ(b.algorithm(), DigestAlgorithm::kSha256);
  b.update("c");
  EXPECT_EQ(b.digest().str(), kAbcSha256);
  EXPECT_EQ(a.digest(), Digest::of("ab"));
  const Hasher& same = a;
  a = same;  // Self-assignment keeps the state.
  EXPECT_EQ(a.digest(), Digest::of("ab"));
}

TEST(Hasher, MoveKeepsState) {
  Hasher a;
  a.update("ab");
  Hasher b(std::move(a));
  b.update("c");
  EXPECT_EQ(b.digest().str(), kAbcSha256);
  Hasher c;
  c = std::move(b);
  EXPECT_EQ(c.digest().str(), kAbcSha256);
}

}  // namespace
}  // namespace berth::core
