// The BuildStrategy implementations (strategy.h) behind the file's blocks:
//
//   source:     ImportStrategy      any place transfer reads (a registry
//               reference, oci:DIR[:TAG], oci-archive:, docker-archive:),
//               pushed blob by blob, never unpacked
//   command:    CommandStrategy     `sh -c RUN` in the file's directory with
//               HOIST_OUTPUT=<dir>; the OCI image layout it leaves there is
//               pushed
//   dockerfile: DockerfileStrategy  the build engine (builder/engine/engine.h)
//               into the local content store, pushed from there
#pragma once

#include <memory>
#include <mutex>

#include "builder/up/strategy.h"

namespace hoist::store {
class ContentStore;
}

namespace hoist::up {

class ImportStrategy : public BuildStrategy {
 public:
  ImageState ActiveState() const override { return ImageState::kImporting; }
  std::string Describe(const ImageSpec& spec, const Context& ctx) const override;
  // Opens the source and reads its top manifest, so an unreachable or
  // missing source fails here, naming it.
  Result<ProducedImage> Produce(const ImageSpec& spec, Context& ctx) override;
};

// The command runs with HOIST_OUTPUT (command.output, or the image's work
// directory emptied first), REGISTRY (host:port), HOIST_IMAGE (the name) and
// HOIST_REFERENCE (the final reference) in its environment, stdout and
// stderr in the image's log, in a process group of its own that is killed
// when the image's timeout passes.
class CommandStrategy : public BuildStrategy {
 public:
  ImageState ActiveState() const override { return ImageState::kBuilding; }
  std::string Describe(const ImageSpec& spec, const Context& ctx) const override;
  Result<ProducedImage> Produce(const ImageSpec& spec, Context& ctx) override;

  // Where the layout is expected.
  static std::string OutputDir(const ImageSpec& spec, const Context& ctx);
};

// Builds with the engine's Builder (one per image, all sharing the local
// content store, ContentStore::DefaultRoot(), and so its cache): an
// unchanged image is all cache hits and the same digest. ${REGISTRY} in
// args is replaced by the registry's address. The engine cannot be
// interrupted, so the timeout is checked when the build returns.
class DockerfileStrategy : public BuildStrategy {
 public:
  DockerfileStrategy();
  ~DockerfileStrategy() override;
  ImageState ActiveState() const override { return ImageState::kBuilding; }
  std::string Describe(const ImageSpec& spec, const Context& ctx) const override;
  Result<ProducedImage> Produce(const ImageSpec& spec, Context& ctx) override;

 private:
  Result<store::ContentStore*> Store();

  std::mutex mu_;
  std::unique_ptr<store::ContentStore> store_;
};

}  // namespace hoist::up
