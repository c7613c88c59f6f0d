// The values image transfer moves around: descriptors, manifests (kept as
// their exact bytes, since digests are over them), platforms
// (image-spec "Descriptors", "Image Manifest", "Image Index").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/status.h"

namespace hoist::transfer {

// os/architecture[/variant], normalised as containerd does (x86_64 ->
// amd64, aarch64 -> arm64, arm64/v8 -> arm64, arm -> arm/v7).
struct Platform {
  std::string os, architecture, variant;

  // Parses "linux/arm64/v8"; kInvalidArgument naming the input otherwise.
  static Result<Platform> Parse(std::string_view s);
  // The platform this process runs on (linux/<uname -m>).
  static Platform Host();
  Platform Normalized() const;
  std::string String() const;
  // True when `have` (an index entry's platform) satisfies this one; an
  // empty variant here accepts any variant.
  bool Matches(const Platform& have) const;
};

struct Descriptor {
  std::string media_type;
  Digest digest = Digest::FromHex(DigestAlgorithm::kSha256, std::string(64, '0'));
  int64_t size = 0;
  std::optional<Platform> platform;  // index entries
  bool foreign = false;              // has "urls" or a non-distributable type: never copied

  std::string Short() const { return digest.str().substr(0, 19); }  // "sha256:0123456789ab"
};

// A manifest or index: its bytes exactly as stored, media type and digest.
struct Manifest {
  std::string media_type;
  std::string bytes;
  Digest digest = Digest::FromHex(DigestAlgorithm::kSha256, std::string(64, '0'));

  bool is_index() const;
  Descriptor descriptor() const;
};

// Builds a Manifest from bytes: the digest is computed (sha256), the media
// type taken from `media_type` or, when empty, the JSON's "mediaType".
Result<Manifest> MakeManifest(std::string media_type, std::string bytes);

// What a manifest references.
struct ManifestContents {
  std::optional<Descriptor> config;  // image manifests
  std::vector<Descriptor> layers;    // image manifests
  std::vector<Descriptor> children;  // indexes: the manifests listed
};

// Parses `m`. Errors: kManifestInvalid (not JSON, a bad descriptor),
// kUnsupported (Docker schema 1, unknown kinds).
Result<ManifestContents> ParseManifest(const Manifest& m);

// The entry of an index for `want`; kManifestUnknown listing what there is.
Result<Descriptor> SelectPlatform(const Manifest& index, const ManifestContents& contents,
                                  const Platform& want);

}  // namespace hoist::transfer
