// The build engine: a Dockerfile and a context in, an OCI image in the
// local content store out (manifest, config, layers), with BuildKit's
// semantics for everything but RUN (issue 6).
//
// How a build runs:
//   1. plan (dockerfile/plan.h) once to learn which stages and base images
//      the target needs; resolve and pull those images in parallel
//      (base_image.h); inject the ONBUILD triggers of base images; plan
//      again with the images' environments so every word is expanded;
//   2. build the needed stages wave by wave, the stages of one wave in
//      parallel threads. A stage's state is its image config
//      (image_config.h), its layers and the cache key of its last layer
//      step; its root filesystem is materialised (rootfs.h) only when a
//      step must look at it: a COPY/ADD/WORKDIR that misses the cache, or
//      a COPY --from of it;
//   3. each instruction is one Step. Metadata steps change the config
//      (they are cheap and never cached). Layer steps compute a cache key
//      first (cache.h) and, on a miss, execute and write their layer
//      (layer::WriteLayerToStore: reproducible, compressed in parallel,
//      streamed, never whole in memory):
//        COPY/ADD  PlanCopy over the context, a stage or an image;
//        WORKDIR   the missing directories of the path (BuildKit's mkdir -p);
//        RUN       key = parent key + instruction + argv + environment +
//                  user + workdir + the bind mounts' sources (secrets by
//                  id only); on a miss the stage's live root (a private
//                  copy of its root filesystem, kept up to date across the
//                  stage's steps) is snapshotted (Snapshotter), the Sandbox
//                  runs the command there with the stage's Env, USER,
//                  WORKDIR and SHELL and the --mount's, and the change
//                  becomes the layer. A failing command is an error with
//                  its exit code and the last lines of its output.
//   4. the target's config (diff IDs, history, --label) and an OCI image
//      manifest are written to the store.
//
// Reproducibility: layer entries carry no host times or owners; created
// times come from SOURCE_DATE_EPOCH when set, else from the stage's base
// image (epoch 0 for scratch), so the same inputs give the same digests
// wherever and whenever they are built.
//
// Errors name the Dockerfile position ("Dockerfile:7:1: COPY ...: ..."),
// in the frontend's format (dockerfile/source.h).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "builder/dockerfile/dockerignore.h"
#include "builder/dockerfile/platform.h"
#include "builder/dockerfile/source.h"
#include "builder/engine/base_image.h"
#include "builder/engine/cache.h"
#include "builder/engine/progress.h"
#include "builder/engine/rootfs.h"
#include "builder/engine/run.h"
#include "builder/layer/writer.h"
#include "builder/sandbox/sandbox.h"
#include "builder/store/content_store.h"
#include "builder/transfer/place.h"
#include "builder/transfer/progress.h"

namespace hoist::engine {

struct BuildOptions {
  dockerfile::SourcePtr dockerfile;  // the Dockerfile's text and name
  std::string context_dir;           // the build context on disk
  dockerfile::DockerIgnore ignore;   // applied to the context
  std::string context_index;         // stat index file for the context ("" = none)
  std::map<std::string, std::string> build_args;
  std::string target;                            // "" = the last stage
  std::optional<dockerfile::Platform> platform;  // default: the host's
  std::map<std::string, std::string> labels;     // --label, on the target's config
  bool no_cache = false;                         // look nothing up (records are still written)
  layer::CompressOptions compress;
  std::optional<int64_t> source_date_epoch;
  // Extra manifest annotations (org.opencontainers.image.source/revision
  // for git contexts); created is added from source_date_epoch.
  std::map<std::string, std::string> annotations;
  int jobs = 4;  // concurrent blob transfers when pulling base images
  // RUN: how steps execute (sandbox.h), the secrets RUN --mount=type=secret
  // may use (by id; never in a layer, the config or a cache key), the SSH
  // agent sockets of RUN --mount=type=ssh (by id, "default" first), and a
  // per-step time limit (0 = none).
  sandbox::Isolation isolation = sandbox::Isolation::kAuto;
  // How a RUN's change is found (snapshot.h): overlay where hoist has a
  // mount namespace of its own and the kernel mounts one (auto falls back to
  // the walk otherwise), or always the walk.
  enum class Snapshotter { kAuto, kOverlay, kWalk };
  Snapshotter snapshotter = Snapshotter::kAuto;
  std::map<std::string, SecretSource> secrets;
  std::map<std::string, std::string> ssh;
  std::chrono::milliseconds run_timeout{0};
  // Entitlements granted (--allow), by BuildKit's names: "network.host"
  // lets RUN --network=host share the host's network; without it such a
  // step is refused, as BuildKit refuses it.
  std::set<std::string> entitlements;
  // BuildKit's dialect only (`--strict`), or buildah/podman's extensions too.
  dockerfile::Dialect dialect = dockerfile::Dialect::kBuildah;
  // Local image names and registry mapping for base images (base_image.h);
  // `hoist engine` sets it, `hoist build` does not.
  BaseLookup base_lookup;
};

struct BuildResult {
  transfer::Descriptor manifest;  // the image, in the store
  transfer::Descriptor config;
  // Where the image's base came from (a registry repository), for
  // cross-repository mounts when pushing to the same registry.
  std::optional<transfer::RemoteLocation> base_location;
  int steps_run = 0;     // layer steps executed
  int steps_cached = 0;  // layer steps answered by the cache
  double seconds = 0;
};

class Builder {
 public:
  // `store` and `places` are shared with the caller; `progress` receives
  // the build's events.
  Builder(store::ContentStore& store, transfer::Places& places, BuildProgress& progress);
  ~Builder();
  Builder(const Builder&) = delete;
  Builder& operator=(const Builder&) = delete;

  // Runs one build. kInvalidArgument for Dockerfile and context errors
  // (positioned), other codes for I/O and registry failures. Not
  // reentrant: one Build at a time per Builder.
  Result<BuildResult> Build(const BuildOptions& options);

  // The multi-platform build (`docker buildx build --platform a,b`): one
  // Build per platform, in order (options.platform is ignored), then an OCI
  // image index of their manifests, each with its platform, in the store.
  // The result's `manifest` is the index; `config` is the first platform's;
  // steps and seconds are summed. The first failure ends it.
  // REQUIRES: platforms is not empty.
  Result<BuildResult> BuildPlatforms(const BuildOptions& options,
                                     const std::vector<dockerfile::Platform>& platforms);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hoist::engine
