// The local content store's images as the Docker Engine API sees them
// (`docker images`, `docker inspect`, `docker tag`, `docker rmi`).
//
// The store's image index (build/image_store.h: names, untagged images,
// repo digests) is the only state: `hoist build -t NAME` images show up
// here, and an image tagged here can be pushed with `hoist push NAME`.
//
// Docker's identities: an image's ID is the digest of its config
// (`sha256:…`, shown as 12 hex digits); names are normalised references
// (`app` is docker.io/library/app:latest), shown familiar (`app:latest`).
// Where a name points at an image index, the entry for the engine's
// platform is the image.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "builder/engine/image_store.h"
#include "builder/store/content_store.h"
#include "builder/transfer/image.h"
#include "common/reference.h"
#include "common/status.h"

namespace hoist::dockerapi {

struct LocalImage {
  transfer::Descriptor top;       // what the names point at (manifest or index)
  transfer::Descriptor manifest;  // the platform's image manifest
  transfer::Manifest manifest_bytes;
  Digest id = Digest::FromHex(DigestAlgorithm::kSha256, std::string(64, '0'));  // config digest
  nlohmann::json config;                                                        // the image config
  std::vector<transfer::Descriptor> layers;
  std::vector<std::string> names;         // normalised references, sorted
  std::vector<std::string> repo_digests;  // "repo@sha256:…" (familiar repo)
  int64_t size = 0;                       // layer bytes (uncompressed where known)
  int64_t created = 0;                    // unix seconds of config.created

  std::string ShortId() const { return id.hex().substr(0, 12); }
};

// One row of `docker rmi`'s answer: {"Untagged": ref} or {"Deleted": id}.
struct DeleteEvent {
  bool deleted = false;
  std::string what;
};

// Safe for concurrent use (the index file is locked by each change).
class LocalImages {
 public:
  LocalImages(store::ContentStore& store, transfer::Platform platform)
      : store_(store), index_(store.root()), platform_(std::move(platform)) {}

  // Every image, tagged or not, one entry per top manifest.
  Result<std::vector<LocalImage>> List() const;
  // Finds an image as docker does: a name ("app", "app:1",
  // "host:5000/x/y@sha256:…"), a full ID ("sha256:<hex>" or "<hex>"), or a
  // unique prefix of an ID. kNotFound: "No such image: …".
  Result<LocalImage> Find(const std::string& name_or_id) const;
  // Loads one image by its top descriptor (no names attached).
  Result<LocalImage> Load(const transfer::Descriptor& top) const;

  // Names `top` `ref`; the image `ref` named before, left without any
  // name, is kept untagged (docker's "<none>").
  Status Tag(const Reference& ref, const transfer::Descriptor& top);
  // Keeps `top` as an untagged image unless a name already points at it.
  Status KeepUntagged(const transfer::Descriptor& top);
  // Records that `top` is `repo@digest` in a registry (push, pull).
  Status AddRepoDigest(const transfer::Descriptor& top, const Reference& repo);
  // `docker rmi`: removes a name (the image goes with its last name), or,
  // for an ID, the image with all its names. Several repositories need
  // `force` (kAlreadyExists otherwise, docker's 409 conflict).
  Result<std::vector<DeleteEvent>> Remove(const std::string& name_or_id, bool force);
  // `docker image prune`: removes untagged images (all unused with
  // `all`); returns their IDs.
  Result<std::vector<std::string>> PruneUntagged(bool all);

  store::ContentStore& store() { return store_; }

 private:
  store::ContentStore& store_;
  engine::ImageIndex index_;
  transfer::Platform platform_;
};

// "docker.io/library/app:latest" -> "app:latest" (docker's familiar form).
std::string Familiar(const std::string& normalised);

}  // namespace hoist::dockerapi
