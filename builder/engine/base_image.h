// Base images (FROM <image>, COPY --from=<image>): resolved once per build
// and pulled into the content store through the transfer client
// (transfer::Copy from a RemoteSource into a StoreImageSink): the tag is
// resolved with one manifest GET, an index is narrowed to the stage's
// platform, blobs already stored are not fetched again, and every blob is
// verified on the way in. A digest-pinned reference whose image the store
// holds whole needs no network at all.
//
// Each pull leaves a "pull" record in the build cache, so eviction knows
// which blobs a base image needs.
//
// Safe for concurrent use: stages resolving the same image share one pull.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "builder/dockerfile/platform.h"
#include "builder/engine/cache.h"
#include "builder/engine/image_config.h"
#include "builder/store/content_store.h"
#include "builder/transfer/place.h"
#include "common/reference.h"

namespace hoist::engine {

struct BaseImage {
  std::string ref;                // normalised reference, as resolved
  transfer::Descriptor manifest;  // the platform's image manifest (stored)
  Digest config_digest = Digest::FromHex(DigestAlgorithm::kSha256, std::string(64, '0'));
  ImageConfig config;
  std::vector<LayerRef> layers;                      // bottom first, with the config's diff IDs
  std::optional<transfer::RemoteLocation> location;  // where it was pulled from
  int blobs_fetched = 0;
  int64_t bytes_fetched = 0;
  double pull_seconds = 0;  // the manifest and blob fetches (inside "load metadata")
};

// How a caller with local image names (the Engine API) resolves bases:
// `local` answers a reference with an image the store holds (docker's
// classic builder uses a local image without pulling), `remote` maps a
// reference to where it is pulled from. Either may be empty. Called from
// the build's threads.
struct BaseLookup {
  std::function<std::optional<transfer::Descriptor>(const Reference&)> local;
  std::function<Reference(const Reference&)> remote;
};

class BaseImageResolver {
 public:
  // `places` opens registry clients (shared connections and tokens);
  // `jobs` blobs are fetched at once.
  BaseImageResolver(store::ContentStore& store, BuildCache& cache, transfer::Places& places,
                    int jobs, BaseLookup lookup = {})
      : store_(store), cache_(cache), places_(places), jobs_(jobs), lookup_(std::move(lookup)) {}
  BaseImageResolver(const BaseImageResolver&) = delete;
  BaseImageResolver& operator=(const BaseImageResolver&) = delete;

  // The image `ref` (a reference as written in the Dockerfile) for
  // `platform`, pulled into the store. The first call per (ref, platform)
  // does the work; later and concurrent calls get its result (or error).
  // Errors name the reference.
  Result<std::shared_ptr<const BaseImage>> Resolve(const std::string& ref,
                                                   const dockerfile::Platform& platform);

  // The result of an earlier Resolve, without any I/O; null when none.
  std::shared_ptr<const BaseImage> Resolved(const std::string& ref,
                                            const dockerfile::Platform& platform) const;

 private:
  struct Slot {
    bool done = false;
    Status status;
    std::shared_ptr<const BaseImage> image;
  };
  Result<std::shared_ptr<const BaseImage>> Pull(const std::string& ref,
                                                const dockerfile::Platform& platform);
  static std::string Key(const std::string& ref, const dockerfile::Platform& platform);

  store::ContentStore& store_;
  BuildCache& cache_;
  transfer::Places& places_;
  int jobs_;
  BaseLookup lookup_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Slot> slots_;
};

// `top` itself, or, for an index, its manifest for `want` (all stored).
Result<transfer::Descriptor> PlatformManifest(const store::ContentStore& store,
                                              const transfer::Descriptor& top,
                                              const transfer::Platform& want);

// Reads an image manifest and its config from the store into a BaseImage
// (layers paired with the config's diff IDs). kManifestInvalid when they
// disagree.
Result<BaseImage> LoadStoredImage(const store::ContentStore& store,
                                  const transfer::Descriptor& manifest);

}  // namespace hoist::engine
