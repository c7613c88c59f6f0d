// Copy: read an image from one place and write it to another
// (go-containerregistry's "remote.Write(layout.Image(...))", skopeo copy).
//
// Order: every blob not already at the destination (HEAD) is mounted from
// the source repository when both are on one registry, else streamed,
// verified on the way (digest and size), `jobs` at a time; then the
// configs; then child manifests; then the top manifest; then Commit. A
// manifest the destination already has is not descended into. An index is
// kept whole unless a platform is chosen (or the sink holds one image).
#pragma once

#include <optional>

#include "builder/transfer/image.h"
#include "builder/transfer/progress.h"
#include "builder/transfer/source.h"

namespace hoist::transfer {

struct CopyOptions {
  // Copy only this platform's image out of an index.
  std::optional<Platform> platform;
  int jobs = 4;                  // concurrent blob transfers, >= 1
  Progress* progress = nullptr;  // may be null
};

// Copies; on failure nothing is committed at the destination and the
// error names the blob or manifest, the source and the destination.
Result<CopySummary> Copy(ImageSource& src, ImageSink& dst, const CopyOptions& options);

}  // namespace hoist::transfer
