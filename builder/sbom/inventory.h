// What an image holds, read through any ImageSource (a registry, an OCI
// layout, an archive): its layers applied in order (common/packages/
// image_files.h), then its package databases and os-release parsed.
#pragma once

#include <optional>
#include <string>

#include "builder/transfer/image.h"
#include "builder/transfer/source.h"
#include "common/packages/spdx.h"

namespace hoist::sbom {

// The inventory of the image `src` names; for an index, of its `want`
// platform (the host's when nullopt). Blobs are verified as they are read.
Result<packages::ImageInventory> ReadInventory(transfer::ImageSource& src,
                                               const std::optional<transfer::Platform>& want);

}  // namespace hoist::sbom
