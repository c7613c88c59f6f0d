// What an image holds, read through any ImageSource (a registry, an OCI
// layout, an archive): its layers applied in order (common/packages/
// image_files.h), then its package databases and os-release parsed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "builder/transfer/image.h"
#include "builder/transfer/source.h"
#include "common/packages/spdx.h"
#include "common/registry_client.h"

namespace hoist::sbom {

// The inventory of the image `src` names; for an index, of its `want`
// platform (the host's when nullopt). Blobs are verified as they are read.
// `inventoried` (may be null) gets the image manifest read.
Result<packages::ImageInventory> ReadInventory(transfer::ImageSource& src,
                                               const std::optional<transfer::Platform>& want,
                                               transfer::Manifest* inventoried = nullptr);
// The inventory of the image manifest `image` of `src`.
Result<packages::ImageInventory> ReadInventoryOf(transfer::ImageSource& src,
                                                 const transfer::Manifest& image);

// The SPDX document of `inv`, made now by this hoist.
std::string SpdxNow(const packages::ImageInventory& inv);

// Attaches `doc` (SPDX JSON) to `subject` in `repo` as an OCI 1.1 referrer
// (artifactType application/spdx+json, the empty config, the document as
// its one layer; image-spec v1.1 manifest.md "Guidelines for Artifact
// Usage"). Its digest.
Result<Digest> AttachSbom(RegistryClient& client, const std::string& repo,
                          const transfer::Manifest& subject, const std::string& doc);

// Attaches an SBOM to each image of `src` (each platform of an index),
// already pushed to `repo`, that has none there yet; `name` names the
// image in the documents. The referrers written.
Result<std::vector<Digest>> AttachSboms(transfer::ImageSource& src, RegistryClient& client,
                                        const std::string& repo, const std::string& name);

}  // namespace hoist::sbom
