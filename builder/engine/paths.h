// Every on-disk path the build engine adds to the content store's root
// (store/content_store.h owns blobs/, index/ and tmp/):
//
//   images.json                 local image names -> manifest digests
//   images.lock                 serialises writers of images.json (flock)
//   cache/<hex>.json            build-cache records (one per step key) and
//                               base-image pull records; mtime = last use
//   rootfs/<chain-hex>/         extracted root filesystems by chain ID
//                               (immutable once renamed into place)
//   rootfs/<chain-hex>.json     an extraction's metadata (size, layers)
//   rootfs/<chain-hex>.digests  content digests of its files (COPY --from's
//                               stat index; removed with the extraction)
//   rootfs/.tmp-<unique>/       extractions in progress
//   context/<hex>.json          stat indexes of build contexts
//   work/<unique>/              one build's scratch space (downloads, RUN's
//                               live roots, bind and secret mounts)
//   run-cache/<sha256(id)>/     RUN --mount=type=cache directories by id
//   run-cache/<sha256(id)>.lock their sharing=locked|private lock (flock)
#pragma once

#include <string>

#include "common/digest.h"

namespace hoist::engine::paths {

inline std::string Images(const std::string& root) {
  return root + "/images.json";
}
inline std::string ImagesLock(const std::string& root) {
  return root + "/images.lock";
}
inline std::string CacheDir(const std::string& root) {
  return root + "/cache";
}
inline std::string CacheRecord(const std::string& root, const Digest& key) {
  return CacheDir(root) + "/" + key.hex() + ".json";
}
inline std::string RootfsDir(const std::string& root) {
  return root + "/rootfs";
}
inline std::string Rootfs(const std::string& root, const Digest& chain) {
  return RootfsDir(root) + "/" + chain.hex();
}
// Suffix of rootfs/<chain-hex> naming its stat index.
inline constexpr const char* kRootfsDigestsSuffix = ".digests";
inline std::string ContextIndex(const std::string& root, const Digest& id) {
  return root + "/context/" + id.hex() + ".json";
}
inline std::string WorkDir(const std::string& root) {
  return root + "/work";
}
inline std::string RunCacheDir(const std::string& root) {
  return root + "/run-cache";
}

}  // namespace hoist::engine::paths
