// Image signatures as cosign makes them with a key pair, and as
// containers/image (skopeo, podman) reads and writes them:
//
// - The signed payload is "simple signing" JSON (cosign's
//   specs/SIGNATURE_SPEC.md, "Simple Signing"):
//     {"critical":{"identity":{"docker-reference":R},
//                  "image":{"docker-manifest-digest":D},
//                  "type":"cosign container image signature"},
//      "optional":{...}}
//   signed as the exact bytes (see keys.h for the scheme).
// - It is stored as a blob, a layer of media type
//   application/vnd.dev.cosign.simplesigning.v1+json whose annotation
//   dev.cosignproject.cosign/signature holds the base64 signature.
// - Those layers live in an OCI manifest tagged `sha256-<hex>.sig` in the
//   image's repository (cosign's tag scheme; one layer per signature), and
//   each also in an OCI 1.1 referrer of the image (artifactType
//   application/vnd.dev.cosign.artifact.sig.v1+json, cosign's OCI 1.1 mode;
//   image-spec v1.1 manifest.md "subject"), so clients of either kind
//   find them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "builder/sign/keys.h"
#include "common/digest.h"
#include "common/status.h"

namespace hoist::sign {

inline constexpr std::string_view kSimpleSigningMediaType =
    "application/vnd.dev.cosign.simplesigning.v1+json";
inline constexpr std::string_view kSignatureAnnotation = "dev.cosignproject.cosign/signature";
inline constexpr std::string_view kSignatureArtifactType =
    "application/vnd.dev.cosign.artifact.sig.v1+json";
inline constexpr std::string_view kCosignSignatureType = "cosign container image signature";
// containers/image reads at most this much of a signature blob.
inline constexpr int64_t kMaxSignatureBytes = 4 << 20;

// What a signature claims.
struct Claim {
  std::string docker_reference;  // e.g. "127.0.0.1:5000/app:1"
  Digest digest = Digest::FromHex(DigestAlgorithm::kSha256, std::string(64, '0'));
  std::string creator;    // optional.creator, may be empty
  int64_t timestamp = 0;  // optional.timestamp (Unix seconds), 0 when absent
};

// The payload bytes for `c` (cosign's field order, no whitespace).
std::string MakePayload(const Claim& c);
// Parses a payload as containers/image does (signature/internal/
// sigstore_payload.go): exactly "critical" and "optional" at the top,
// exactly type/image/identity in critical, the cosign type string.
// kInvalidArgument with the reason otherwise.
Result<Claim> ParsePayload(std::string_view payload);

// The cosign tag of the signatures of `image`: "sha256-<hex>.sig".
std::string SignatureTag(const Digest& image);

// One signature layer as found in a registry.
struct StoredSignature {
  std::string where;       // "tag sha256-….sig", "referrer sha256:…" (", "-joined when both)
  std::string media_type;  // the layer's
  std::string payload;     // the blob's bytes
  std::string signature;   // the annotation (base64), empty when absent
};

// A public key and the name it is shown by (its file name).
struct NamedKey {
  std::string name;
  PublicKey key;
};

// What checking one signature found.
struct Verdict {
  bool valid = false;
  std::string reason;  // why not, when !valid
  std::string key;     // the key that verified it
  Claim claim;         // when the payload parsed
};

// Checks `s` against `keys` for the image `image`: the media type, the
// signature over the payload with any of the keys, the payload's form, its
// digest equal to `image`, and, when `identity` is not empty, its
// docker-reference equal to it.
Verdict Check(const StoredSignature& s, const Digest& image, const std::vector<NamedKey>& keys,
              std::string_view identity = {});

}  // namespace hoist::sign
