// ManifestStore: manifests, tags and the referrers index of repositories
// (distribution-spec v1.1, "Pushing manifests", "Pulling manifests",
// "Content discovery", "Content management"). Manifests are stored as blobs
// in the exact bytes the client sent, and linked into the repository.
// Safe for concurrent use.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "registry/blob_store.h"
#include "registry/storage/driver.h"

namespace hoist::registry {

struct StoredManifest {
  Digest digest = Digest::FromHex(DigestAlgorithm::kSha256, "");
  std::string media_type;
  std::string content;
};

struct PutManifestResult {
  Digest digest = Digest::FromHex(DigestAlgorithm::kSha256, "");
  std::optional<Digest> subject;  // set when the manifest has a subject
  std::vector<std::string> tags;  // tags now pointing at it
};

// What a pushed manifest's references must find in the repository. The
// spec's default: everything (MANIFEST_BLOB_UNKNOWN otherwise). Sparse
// content, as mirrors of part of an image hold it: an index's children
// may be absent, all of them or those whose platform is not listed
// (distribution 3's validation.manifests.indexes), and an image
// manifest's config and layers may be absent (the conformance program's
// sparse data profile pushes such images).
struct ReferencePolicy {
  enum class Children { kAll, kNone, kListed };
  Children children = Children::kAll;
  std::vector<std::pair<std::string, std::string>> platforms;  // os, architecture (kListed)
  bool blobs_required = true;
};

class ManifestStore {
 public:
  ManifestStore(storage::StorageDriver& driver, BlobStore& blobs) : d_(driver), blobs_(blobs) {}

  void SetReferencePolicy(ReferencePolicy policy) { reference_policy_ = std::move(policy); }

  // Resolves a tag or digest to the stored manifest; kManifestUnknown.
  Result<StoredManifest> Get(std::string_view repo, std::string_view reference);
  // Validates and stores `content` under `reference` (a tag or the content's
  // digest), plus `extra_tags` (PUT by digest with ?tag=). `content_type` is
  // the request's Content-Type without parameters, or empty.
  // Errors: kManifestInvalid, kDigestInvalid, kManifestBlobUnknown.
  Result<PutManifestResult> Put(std::string_view repo, std::string_view reference,
                                std::string_view content_type, const std::string& content,
                                const std::vector<std::string>& extra_tags);
  // Stores a manifest fetched from a mirror's upstream (proxy.h), whose
  // bytes were checked against `digest`: linked into `repo`, and tagged
  // `tag` unless empty. What it references may be absent (it comes when a
  // client asks). kManifestInvalid when the bytes are not a manifest.
  Status PutMirrored(std::string_view repo, std::string_view tag, const Digest& digest,
                     const std::string& content);
  // Unlinks a manifest from `repo` (its revision and referrers-index
  // links), leaving tags alone: for GC, which knows none names it.
  Status DeleteRevision(std::string_view repo, const Digest& digest);
  // Deletes a tag, or a manifest by digest with every tag pointing at it.
  Status Delete(std::string_view repo, std::string_view reference);
  // Tags of `repo`, sorted; kNameUnknown when the repository has no manifests.
  Result<std::vector<std::string>> Tags(std::string_view repo);
  // Descriptors (as an OCI index's "manifests" JSON array text) of the
  // manifests in `repo` whose subject is `subject`, filtered by artifactType
  // when not empty.
  Result<std::string> Referrers(std::string_view repo, const Digest& subject,
                                std::string_view artifact_type);
  // The manifests linked into `repo` (its _manifests/revisions), any order.
  std::vector<Digest> Revisions(std::string_view repo);
  // Repository names that hold manifests, sorted.
  Result<std::vector<std::string>> Repositories();

  // The media type of a manifest's bytes: its mediaType member, else
  // inferred from its shape (OCI allows omitting the member).
  static std::string MediaTypeOf(std::string_view content);

 private:
  Result<Digest> Resolve(std::string_view repo, std::string_view reference);
  // Writes bytes, revision link, referrer link and tags, in that order.
  Status Store(std::string_view repo, const Digest& digest, const std::string& content,
               const std::optional<Digest>& subject, const std::vector<std::string>& tags);
  // Must the child an index's `descriptor` names be in the repository?
  bool MustHaveChild(const nlohmann::json& descriptor) const;
  // Pins (in `use`) each digest it checks, before checking it.
  Status Validate(std::string_view repo, std::string_view content_type, const std::string& content,
                  BlobStore::Use& use, std::string* media_type, std::optional<Digest>* subject);

  storage::StorageDriver& d_;
  BlobStore& blobs_;
  ReferencePolicy reference_policy_;
};

}  // namespace hoist::registry
