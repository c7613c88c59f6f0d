// Applying a layer (tar, tar+gzip, tar+zstd) onto a root directory, with the
// image-spec's changeset semantics (layer.md, "Applying Changesets"):
// whiteouts delete, opaque markers hide a directory's lower contents,
// existing paths are replaced (directories merge), hard links link.
//
// Confinement: every path is resolved inside the root (RootDir), so
// symlinks - absolute or relative, from this layer or a lower one - resolve
// as they would inside the container and never reach the host. Entry names
// and hard-link targets that climb above the root with ".." are refused
// outright (kInvalidArgument) and the layer fails.
//
// Without root (or when chown is refused), ownership is recorded in the
// user xattr kOwnerXattr and device nodes become empty regular files
// carrying kDeviceXattr, so a later snapshot can restore both.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/layer/compress.h"
#include "common/digest.h"
#include "common/io.h"
#include "common/status.h"

namespace hoist::layer {

// "uid:gid" in decimal, set when the intended owner is not 0:0.
inline constexpr std::string_view kOwnerXattr = "user.hoist.owner";
// "c MAJOR MINOR" or "b MAJOR MINOR" on a placeholder file for a device.
inline constexpr std::string_view kDeviceXattr = "user.hoist.device";

enum class Ownership {
  kAuto,    // chown when running as root; record when not root or chown fails
  kChown,   // chown, failing the layer when refused
  kRecord,  // never chown: record in kOwnerXattr
  kIgnore,  // files belong to the caller, nothing recorded
};
enum class Devices {
  kAuto,    // mknod when root, else (or when refused) record as metadata
  kCreate,  // mknod, failing the layer when refused
  kRecord,  // always a placeholder file with kDeviceXattr
};
enum class Whiteouts {
  kApply,  // OCI whiteouts delete and hide (layers)
  kKeep,   // ".wh." names are ordinary files (plain archives, e.g. ADD)
};

struct ExtractOptions {
  Ownership ownership = Ownership::kAuto;
  Devices devices = Devices::kAuto;
  Whiteouts whiteouts = Whiteouts::kApply;
  // false: an entry whose parent path passes through any symlink is refused
  // (kInvalidArgument) instead of being resolved inside the root.
  bool follow_symlinks = true;
  bool restore_xattrs = true;
  // When set, checked once the whole stream is read (kDigestInvalid on a
  // mismatch; the root has been modified by then and should be discarded).
  std::optional<Digest> expected_digest;
  std::optional<Digest> expected_diff_id;
  bool force_fallback_resolver = false;  // tests: resolve without openat2
};

struct ExtractReport {
  std::optional<Digest> digest;   // of the stream as given
  std::optional<Digest> diff_id;  // of the tar; unset for formats decoded by libarchive (bzip2, xz)
  Detected compression = Detected::kUnknown;
  uint64_t compressed_size = 0, tar_size = 0;
  uint64_t entries = 0, files = 0, dirs = 0, symlinks = 0, hardlinks = 0, devices = 0, fifos = 0;
  uint64_t whiteouts = 0, opaques = 0, skipped = 0;
  uint64_t owners_recorded = 0;       // ownership written to kOwnerXattr
  uint64_t owners_unrecorded = 0;     // non-root owner neither chowned nor recorded (e.g. symlinks)
  uint64_t devices_recorded = 0;      // device nodes kept as placeholders
  uint64_t xattrs_failed = 0;         // xattrs the filesystem or our privileges refused
  std::vector<std::string> warnings;  // the first 100, one line each
};

// Applies the layer read from `layer` onto the existing directory `root`.
// Errors: kInvalidArgument for a corrupt stream or a refused entry (named in
// the message), kIo for filesystem failures, kDigestInvalid (see options).
// On error the root is left partly modified.
// Thread-safety: concurrent calls must use different roots.
Result<ExtractReport> ApplyLayer(ByteSource& layer, const std::string& root,
                                 const ExtractOptions& options = {});
Result<ExtractReport> ApplyLayerFile(const std::string& layer_path, const std::string& root,
                                     const ExtractOptions& options = {});

}  // namespace hoist::layer
