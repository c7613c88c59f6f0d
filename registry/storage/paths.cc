#include "registry/storage/paths.h"

#include <string>

namespace hoist::storage::paths {
namespace {
std::string Alg(const Digest& d) {
  return std::string(d.algorithm_name());
}
}  // namespace

std::string BlobsRoot() {
  return kRoot + "/blobs";
}
std::string BlobDir(const Digest& d) {
  return BlobsRoot() + "/" + Alg(d) + "/" + d.hex().substr(0, 2) + "/" + d.hex();
}
std::string BlobData(const Digest& d) {
  return BlobDir(d) + "/data";
}
bool IsBlobData(std::string_view path) {
  const std::string root = BlobsRoot() + "/";
  return path.size() > root.size() + 5 && path.compare(0, root.size(), root) == 0 &&
         path.compare(path.size() - 5, 5, "/data") == 0 &&
         path.find("/..") == std::string_view::npos;
}
std::string RepositoriesRoot() {
  return kRoot + "/repositories";
}
std::string Repository(std::string_view repo) {
  return RepositoriesRoot() + "/" + std::string(repo);
}
std::string LayerLink(std::string_view repo, const Digest& d) {
  return Repository(repo) + "/_layers/" + Alg(d) + "/" + d.hex() + "/link";
}
std::string ManifestRevisionsDir(std::string_view repo, DigestAlgorithm a) {
  return Repository(repo) + "/_manifests/revisions/" + std::string(AlgorithmName(a));
}
std::string ManifestRevisionLink(std::string_view repo, const Digest& d) {
  return ManifestRevisionsDir(repo, d.algorithm()) + "/" + d.hex() + "/link";
}
std::string TagsDir(std::string_view repo) {
  return Repository(repo) + "/_manifests/tags";
}
std::string TagDir(std::string_view repo, std::string_view tag) {
  return TagsDir(repo) + "/" + std::string(tag);
}
std::string TagCurrentLink(std::string_view repo, std::string_view tag) {
  return TagDir(repo, tag) + "/current/link";
}
std::string TagIndexLink(std::string_view repo, std::string_view tag, const Digest& d) {
  return TagDir(repo, tag) + "/index/" + Alg(d) + "/" + d.hex() + "/link";
}
std::string UploadsDir(std::string_view repo) {
  return Repository(repo) + "/_uploads";
}
std::string UploadDir(std::string_view repo, std::string_view uuid) {
  return UploadsDir(repo) + "/" + std::string(uuid);
}
std::string UploadData(std::string_view repo, std::string_view uuid) {
  return UploadDir(repo, uuid) + "/data";
}
bool IsUploadData(std::string_view path) {
  return path.find("/_uploads/") != std::string_view::npos && path.size() > 5 &&
         path.compare(path.size() - 5, 5, "/data") == 0;
}
std::string UploadStartedAt(std::string_view repo, std::string_view uuid) {
  return UploadDir(repo, uuid) + "/startedat";
}
std::string UploadOwner(std::string_view repo, std::string_view uuid) {
  return UploadDir(repo, uuid) + "/hoist-owner";
}
std::string UploadHashStatesDir(std::string_view repo, std::string_view uuid, DigestAlgorithm a) {
  return UploadDir(repo, uuid) + "/hashstates/" + std::string(AlgorithmName(a));
}
std::string UploadHashState(std::string_view repo, std::string_view uuid, DigestAlgorithm a,
                            int64_t offset) {
  return UploadHashStatesDir(repo, uuid, a) + "/" + std::to_string(offset);
}
std::string ReferrersDir(std::string_view repo, const Digest& subject) {
  return Repository(repo) + "/_referrers/" + Alg(subject) + "/" + subject.hex();
}
std::string ReferrerLink(std::string_view repo, const Digest& subject, const Digest& referrer) {
  return ReferrersDir(repo, subject) + "/" + Alg(referrer) + "/" + referrer.hex() + "/link";
}

Result<Digest> ParseLink(std::string_view content) {
  while (!content.empty() && (content.back() == '\n' || content.back() == ' ')) {
    content.remove_suffix(1);
  }
  return Digest::Parse(content);
}

}  // namespace hoist::storage::paths
