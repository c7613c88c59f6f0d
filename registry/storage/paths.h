// Every storage path the registry uses, built in one place, in the layout of
// CNCF distribution's registry/storage/paths.go, so a root written by
// registry:2 is served by hoist and the reverse:
//
//   /docker/registry/v2/
//     blobs/<alg>/<first two hex>/<hex>/data
//     repositories/<name>/
//       _layers/<alg>/<hex>/link                       blob linked into repo
//       _manifests/revisions/<alg>/<hex>/link          manifest in repo
//       _manifests/tags/<tag>/current/link             tag -> digest
//       _manifests/tags/<tag>/index/<alg>/<hex>/link   tag history
//       _uploads/<uuid>/data                           upload in progress
//       _uploads/<uuid>/startedat                      RFC 3339 start time
//       _referrers/<alg>/<subject hex>/<alg>/<hex>/link  hoist: referrers
//                                                        index (distribution
//                                                        skips "_" dirs)
#pragma once

#include <string>
#include <string_view>

#include "common/digest.h"

namespace hoist::storage::paths {

inline const std::string kRoot = "/docker/registry/v2";

std::string BlobsRoot();
std::string BlobDir(const Digest& d);
std::string BlobData(const Digest& d);
// Whether `path` is the data of a blob (whose content its digest fixes).
bool IsBlobData(std::string_view path);
std::string RepositoriesRoot();
std::string Repository(std::string_view repo);
std::string LayerLink(std::string_view repo, const Digest& d);
std::string ManifestRevisionsDir(std::string_view repo, DigestAlgorithm a);
std::string ManifestRevisionLink(std::string_view repo, const Digest& d);
std::string TagsDir(std::string_view repo);
std::string TagDir(std::string_view repo, std::string_view tag);
std::string TagCurrentLink(std::string_view repo, std::string_view tag);
std::string TagIndexLink(std::string_view repo, std::string_view tag, const Digest& d);
std::string UploadsDir(std::string_view repo);
std::string UploadDir(std::string_view repo, std::string_view uuid);
std::string UploadData(std::string_view repo, std::string_view uuid);
// Whether `path` (or a key that ends with one) is an upload session's data.
bool IsUploadData(std::string_view path);
std::string UploadStartedAt(std::string_view repo, std::string_view uuid);
// hoist only: the user who opened the session (access.h); registry:2 ignores it.
std::string UploadOwner(std::string_view repo, std::string_view uuid);
// The hash state (Digester::SaveState) after `offset` bytes of an upload,
// as distribution keeps it: _uploads/<uuid>/hashstates/<alg>/<offset>.
std::string UploadHashStatesDir(std::string_view repo, std::string_view uuid, DigestAlgorithm a);
std::string UploadHashState(std::string_view repo, std::string_view uuid, DigestAlgorithm a,
                            int64_t offset);
std::string ReferrersDir(std::string_view repo, const Digest& subject);
std::string ReferrerLink(std::string_view repo, const Digest& subject, const Digest& referrer);

// Parses the content of a link file ("sha256:<hex>").
Result<Digest> ParseLink(std::string_view content);

}  // namespace hoist::storage::paths
