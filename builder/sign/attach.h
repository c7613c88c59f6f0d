// Signatures in a registry: writing one for an image (both cosign's tag
// scheme and an OCI 1.1 referrer, see signature.h) and finding all of an
// image's signatures, over RegistryClient (any registry: hoist's, Debian's
// docker-registry, a cloud one).
//
// On a registry without the referrers API (distribution-spec v1.1
// "Listing Referrers" answers 404, as distribution 2.8 does), the
// referrer is listed in the referrers tag schema (`sha256-<hex>`, an OCI
// index; "Referrers Tag Schema" / "Pushing Manifests with Subject") and
// read from there.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "builder/sign/keys.h"
#include "builder/sign/signature.h"
#include "common/reference.h"
#include "common/registry_client.h"

namespace hoist::sign {

// The manifest `ref` names, by digest when it has one, else by its tag.
Result<RemoteManifest> ResolveImage(RegistryClient& client, const Reference& ref);

struct SignOptions {
  std::string identity;  // docker-reference to claim; empty: `ref` (tag, or @digest)
  std::string creator;   // optional.creator; empty: "hoist <version>"
  bool tag_scheme = true;
  bool referrer = true;
};

struct SignResult {
  Digest image = Digest::FromHex(DigestAlgorithm::kSha256, std::string(64, '0'));
  std::string identity;
  std::string tag;                 // the .sig tag written, empty when not
  std::optional<Digest> referrer;  // the referrer manifest written
  bool already_signed = false;     // the .sig manifest had this very signature
};

// Signs the image `ref` names with `key` and stores the signature. The
// signature blob is uploaded before any manifest names it; the .sig
// manifest keeps the signatures it already had.
Result<SignResult> SignImage(RegistryClient& client, const Reference& ref, const PrivateKey& key,
                             const SignOptions& options);

// Every signature layer of `image` in `repo`: the .sig tag's and the
// referrers' (artifactType kSignatureArtifactType); the same signature
// found in both is listed once. Blobs are read up to kMaxSignatureBytes
// and checked against their digests.
Result<std::vector<StoredSignature>> FindSignatures(RegistryClient& client, const std::string& repo,
                                                    const Digest& image);

}  // namespace hoist::sign
