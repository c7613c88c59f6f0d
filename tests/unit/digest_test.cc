#include "common/digest.h"

#include <catch2/catch.hpp>
#include <string>

namespace hoist {
namespace {

const std::string kSha256Empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kSha256Abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kSha512Abc =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

Code ParseCode(std::string_view s) {
  return Digest::Parse(s).status().code();
}

TEST_CASE("Digest::Parse accepts sha256 with 64 lowercase hex", "[digest]") {
  Result<Digest> d = Digest::Parse("sha256:" + kSha256Abc);
  REQUIRE(d.ok());
  CHECK(d->algorithm() == DigestAlgorithm::kSha256);
  CHECK(d->algorithm_name() == "sha256");
  CHECK(d->hex() == kSha256Abc);
  CHECK(d->str() == "sha256:" + kSha256Abc);
}

TEST_CASE("Digest::Parse accepts sha512 with 128 lowercase hex", "[digest]") {
  Result<Digest> d = Digest::Parse("sha512:" + kSha512Abc);
  REQUIRE(d.ok());
  CHECK(d->algorithm() == DigestAlgorithm::kSha512);
  CHECK(d->hex() == kSha512Abc);
}

TEST_CASE("Digest::Parse rejects uppercase hex", "[digest]") {
  std::string upper = kSha256Abc;
  upper[0] = 'B';
  CHECK(ParseCode("sha256:" + upper) == Code::kDigestInvalid);
}

TEST_CASE("Digest::Parse rejects non-hex characters", "[digest]") {
  std::string bad = kSha256Abc;
  bad[10] = 'g';
  CHECK(ParseCode("sha256:" + bad) == Code::kDigestInvalid);
}

TEST_CASE("Digest::Parse rejects the wrong hex length for the algorithm", "[digest]") {
  CHECK(ParseCode("sha256:" + kSha256Abc.substr(1)) == Code::kDigestInvalid);
  CHECK(ParseCode("sha256:" + kSha256Abc + "0") == Code::kDigestInvalid);
  CHECK(ParseCode("sha512:" + kSha256Abc) == Code::kDigestInvalid);
  CHECK(ParseCode("sha256:" + kSha512Abc) == Code::kDigestInvalid);
  CHECK(ParseCode("sha256:") == Code::kDigestInvalid);
}

TEST_CASE("Digest::Parse rejects a missing colon, an empty string and an empty algorithm",
          "[digest]") {
  CHECK(ParseCode("sha256" + kSha256Abc) == Code::kDigestInvalid);
  CHECK(ParseCode("") == Code::kDigestInvalid);
  CHECK(ParseCode(":" + kSha256Abc) == Code::kDigestInvalid);
}

TEST_CASE("Digest::Parse: a well-formed unknown algorithm is kUnsupported", "[digest]") {
  CHECK(ParseCode("md5:d41d8cd98f00b204e9800998ecf8427e") == Code::kUnsupported);
  CHECK(ParseCode("multihash+base58:abc") == Code::kUnsupported);
  CHECK(ParseAlgorithm("blake3").status().code() == Code::kUnsupported);
}

TEST_CASE("Digest::Parse: a malformed algorithm is kDigestInvalid", "[digest]") {
  CHECK(ParseCode("SHA256:" + kSha256Abc) == Code::kDigestInvalid);
  CHECK(ParseCode("sha 256:" + kSha256Abc) == Code::kDigestInvalid);
  CHECK(ParseCode("sha/256:" + kSha256Abc) == Code::kDigestInvalid);
}

TEST_CASE("Digest::Parse: an algorithm with misplaced separators is kDigestInvalid", "[digest]") {
  // image-spec: algorithm ::= component (separator component)*, so a
  // separator can neither start, end, nor follow another separator.
  CHECK(ParseCode("sha256+:abc") == Code::kDigestInvalid);
  CHECK(ParseCode("+sha256:abc") == Code::kDigestInvalid);
  CHECK(ParseCode("sha..256:abc") == Code::kDigestInvalid);
  CHECK(ParseAlgorithm("-").status().code() == Code::kDigestInvalid);
}

TEST_CASE("Digest::Parse: an unknown algorithm with a malformed encoded part is kDigestInvalid",
          "[digest]") {
  // image-spec: encoded ::= [a-zA-Z0-9=_-]+
  CHECK(ParseCode("md5:") == Code::kDigestInvalid);
  CHECK(ParseCode("md5:not hex!") == Code::kDigestInvalid);
}

TEST_CASE("ParseAlgorithm and AlgorithmName round trip", "[digest]") {
  for (DigestAlgorithm a : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    Result<DigestAlgorithm> p = ParseAlgorithm(AlgorithmName(a));
    REQUIRE(p.ok());
    CHECK(*p == a);
  }
}

TEST_CASE("DigestOf matches known sha256 and sha512 vectors", "[digest]") {
  CHECK(DigestOf("").str() == "sha256:" + kSha256Empty);
  CHECK(DigestOf("abc").str() == "sha256:" + kSha256Abc);
  Digest d512 = DigestOf("abc", DigestAlgorithm::kSha512);
  CHECK(d512.str() == "sha512:" + kSha512Abc);
  CHECK(d512.algorithm() == DigestAlgorithm::kSha512);
}

TEST_CASE("Digester hashing in many small pieces equals one-shot DigestOf", "[digest]") {
  std::string data;
  for (int i = 0; i < 100000; ++i) data += static_cast<char>((i * 131 + 7) % 251);
  for (DigestAlgorithm a : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    Digester d(a);
    size_t piece = 1;
    for (size_t off = 0; off < data.size(); off += piece, piece = piece % 97 + 1) {
      d.Update(std::string_view(data).substr(off, piece));
    }
    CHECK(d.bytes() == data.size());
    CHECK(d.Current() == DigestOf(data, a));
  }
}

TEST_CASE("Digester::Current can be called repeatedly while updating", "[digest]") {
  Digester d;
  CHECK(d.Current().hex() == kSha256Empty);
  CHECK(d.Current().hex() == kSha256Empty);
  d.Update("a");
  CHECK(d.Current() == DigestOf("a"));
  d.Update("b");
  CHECK(d.Current() == DigestOf("ab"));
  CHECK(d.Current() == DigestOf("ab"));
  d.Update("c");
  CHECK(d.Current().hex() == kSha256Abc);
  CHECK(d.bytes() == 3);
}

TEST_CASE("Digests order and compare by their string form", "[digest]") {
  Digest a = DigestOf("a");
  Digest b = DigestOf("b");
  CHECK(a == DigestOf("a"));
  CHECK_FALSE(a == b);
  CHECK((a < b) == (a.str() < b.str()));
  CHECK_FALSE(DigestOf("x") == DigestOf("x", DigestAlgorithm::kSha512));
}

}  // namespace
}  // namespace hoist

namespace hoist {
namespace {

std::string Hex(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string Bytes(int n) {  // byte i is i * 7 (mod 256), as the vectors were made
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>((i * 7) & 0xff));
  return s;
}

}  // namespace

TEST_CASE("Digester states are Go's MarshalBinary form, and restore", "[digest]") {
  // Made with Go 1.19: crypto/sha256 and crypto/sha512 New(), Write(Bytes(n)),
  // MarshalBinary(), hex.
  struct Vector {
    const char* alg;
    int n;
    const char* state;
  };
  const Vector vectors[] = {
      {"sha256", 0,
       "736861036a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd190000000000000000000"
       "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
       "0000000000000000000000000000000000"},
      {"sha512", 0,
       "736861076a09e667f3bcc908bb67ae8584caa73b3c6ef372fe94f82ba54ff53a5f1d36f1510e527fade682d19b0"
       "5688c2b3e6c1f1f83d9abfb41bd6b5be0cd19137e21790000000000000000000000000000000000000000000000"
       "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
       "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
       "00000000000000000000000000000000000000000000"},
      {"sha256", 100,
       "736861036c69017d0ec50641de6d1abdce75003d11218e34b3c98da12ff25b8982156de4c0c7ced5dce3eaf1f8f"
       "f060d141b222930373e454c535a61686f767d848b9299a0a7aeb500000000000000000000000000000000000000"
       "0000000000000000000000000000000064"},
      {"sha512", 100,
       "736861076a09e667f3bcc908bb67ae8584caa73b3c6ef372fe94f82ba54ff53a5f1d36f1510e527fade682d19b0"
       "5688c2b3e6c1f1f83d9abfb41bd6b5be0cd19137e217900070e151c232a31383f464d545b626970777e858c939a"
       "a1a8afb6bdc4cbd2d9e0e7eef5fc030a11181f262d343b424950575e656c737a81888f969da4abb2b9c0c7ced5d"
       "ce3eaf1f8ff060d141b222930373e454c535a61686f767d848b9299a0a7aeb50000000000000000000000000000"
       "00000000000000000000000000000000000000000064"},
  };
  for (const Vector& v : vectors) {
    INFO(v.alg << " after " << v.n << " bytes");
    DigestAlgorithm a =
        std::string(v.alg) == "sha512" ? DigestAlgorithm::kSha512 : DigestAlgorithm::kSha256;
    Digester d(a);
    d.Update(Bytes(v.n));
    CHECK(Hex(d.SaveState()) == v.state);
    // Restored, it goes on exactly as the original.
    auto r = Digester::Restore(a, Unhex(v.state));
    REQUIRE(r.ok());
    CHECK((*r)->bytes() == static_cast<uint64_t>(v.n));
    (*r)->Update("and more");
    d.Update("and more");
    CHECK((*r)->Current() == d.Current());
    CHECK((*r)->Current() == DigestOf(Bytes(v.n) + "and more", a));
  }
  CHECK(!Digester::Restore(DigestAlgorithm::kSha256, "sha\x03short").ok());
  Digester other(DigestAlgorithm::kSha512);
  CHECK(!Digester::Restore(DigestAlgorithm::kSha256, other.SaveState()).ok());
}

}  // namespace hoist
