// Content digests (OCI image-spec, "Digests"): parsing, validation and
// streaming hashing. sha256 and sha512 are the registered algorithms.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hoist {

enum class DigestAlgorithm { kSha256, kSha512 };

// Returns "sha256" or "sha512".
std::string_view AlgorithmName(DigestAlgorithm a);
// Parses an algorithm name; kDigestInvalid (or kUnsupported for a
// well-formed but unregistered algorithm) otherwise.
Result<DigestAlgorithm> ParseAlgorithm(std::string_view name);

// A validated digest "algorithm:encoded". Immutable value type.
class Digest {
 public:
  // Parses and validates per image-spec: the algorithm must be registered and
  // the encoded part lowercase hex of the algorithm's exact length.
  // Errors: kDigestInvalid (malformed), kUnsupported (unknown algorithm).
  static Result<Digest> Parse(std::string_view s);
  static Digest FromHex(DigestAlgorithm a, std::string hex);

  DigestAlgorithm algorithm() const { return algorithm_; }
  std::string_view algorithm_name() const { return AlgorithmName(algorithm_); }
  const std::string& hex() const { return hex_; }
  std::string str() const { return std::string(algorithm_name()) + ":" + hex_; }

  bool operator==(const Digest&) const = default;
  bool operator<(const Digest& o) const { return str() < o.str(); }

 private:
  Digest(DigestAlgorithm a, std::string hex) : algorithm_(a), hex_(std::move(hex)) {}
  DigestAlgorithm algorithm_ = DigestAlgorithm::kSha256;
  std::string hex_;
};

// Incremental hasher (OpenSSL's SHA-256/512). Not thread-safe; one per
// stream. Copying is disabled: a hash state belongs to one stream.
//
// Its state can be saved and restored in the binary form Go's crypto/sha256
// and crypto/sha512 use (MarshalBinary), which is what distribution keeps
// in an upload's `hashstates/<alg>/<offset>`: an upload can go on in
// another process, after a restart, or in a registry:2 on the same storage
// without reading its bytes again.
class Digester {
 public:
  explicit Digester(DigestAlgorithm a = DigestAlgorithm::kSha256);
  ~Digester();
  Digester(const Digester&) = delete;
  Digester& operator=(const Digester&) = delete;

  void Update(const void* data, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  // Bytes passed to Update so far.
  uint64_t bytes() const { return bytes_; }
  // Digest of everything so far; the Digester may keep being updated.
  Digest Current() const;
  DigestAlgorithm algorithm() const { return algorithm_; }

  // The state, as Go's MarshalBinary writes it ("sha\x03" + h + block +
  // length for SHA-256; "sha\x07" ... for SHA-512).
  std::string SaveState() const;
  // A hasher that goes on from a saved state; kInvalidArgument when
  // `state` is not one of `a`'s.
  static Result<std::unique_ptr<Digester>> Restore(DigestAlgorithm a, std::string_view state);

 private:
  DigestAlgorithm algorithm_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t bytes_ = 0;
};

// Digest of a whole in-memory string (small content only: manifests, links).
Digest DigestOf(std::string_view content, DigestAlgorithm a = DigestAlgorithm::kSha256);

}  // namespace hoist
