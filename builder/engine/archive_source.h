// Local tar archives as ADD and build contexts take them: recognised by
// content, not name (plain tar, or tar compressed with gzip, bzip2, xz or
// zstd), and unpacked with the layer extractor (layer/extract.h), which
// keeps every path inside the target directory.
#pragma once

#include <string>

#include "builder/layer/extract.h"
#include "common/status.h"

namespace hoist::engine {

// Whether the file at `path` is a tar archive with at least one entry,
// plain or compressed with gzip, bzip2, xz or zstd (Docker's ADD rule: a
// compressed file that is not a tar, or an empty tar, is not an archive).
// Errors: kNotFound, kIo when the file cannot be read.
Result<bool> IsTarArchive(const std::string& path);

// Unpacks the archive at `path` into the existing directory `dir`:
// ".wh." names stay ordinary files, devices become placeholders
// (layer::kDeviceXattr), owners as `ownership` says. Errors name `what`.
Status UnpackArchive(const std::string& path, const std::string& dir, layer::Ownership ownership,
                     const std::string& what);

}  // namespace hoist::engine
