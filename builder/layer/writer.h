// Reproducible layer writer: a list of entries in, one OCI layer blob out.
//
// The tar is PAX (ustar headers, PAX records only where ustar cannot say it:
// long or non-ASCII names, xattrs as SCHILY.xattr.*, large ids or sizes),
// entries sorted by path component, metadata normalised (times per
// LayerOptions, no atime/ctime, no uname/gname unless given, device numbers
// only on devices), OCI whiteouts (image-spec layer.md, "Whiteouts"), and
// hard links as link entries to the first path of their group. The tar is
// hashed (diff ID), compressed and hashed again (blob digest) in one
// streaming pass; no layer is ever held whole in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "builder/layer/compress.h"
#include "builder/store/content_store.h"
#include "common/digest.h"
#include "common/io.h"
#include "common/status.h"

namespace hoist::layer {

enum class EntryType {
  kRegular,
  kDirectory,
  kSymlink,
  kHardlink,  // link_target: the image path of a kRegular entry in the same layer
  kCharDevice,
  kBlockDevice,
  kFifo,
  kWhiteout,        // path: what this layer deletes; written as <dir>/.wh.<name>
  kOpaqueWhiteout,  // path: a directory whose lower contents are hidden; <dir>/.wh..wh..opq
};

// Opens the content of a regular file when the writer reaches it (so only
// one file is open at a time). It must yield exactly Entry::size bytes.
using ContentOpener = std::function<Result<std::unique_ptr<ByteSource>>()>;

struct Entry {
  std::string path;  // image path, "/"-separated; a leading "/" or "./" is ignored
  EntryType type = EntryType::kRegular;
  uint32_t mode = 0;  // permission bits incl. setuid/setgid/sticky (07777)
  uint32_t uid = 0, gid = 0;
  std::string uname, gname;               // written only when non-empty
  std::optional<int64_t> mtime;           // seconds; see LayerOptions for how it is used
  std::string link_target;                // kSymlink: as stored; kHardlink: image path
  uint64_t size = 0;                      // kRegular: content length
  std::string host_path;                  // kRegular: read content from this file, or
  ContentOpener open;                     //           from this opener (takes precedence)
  uint32_t dev_major = 0, dev_minor = 0;  // devices only
  std::vector<std::pair<std::string, std::string>> xattrs;  // written sorted by name

  static Entry Dir(std::string path, uint32_t mode = 0755);
  static Entry File(std::string path, std::string content, uint32_t mode = 0644);
  static Entry HostFile(std::string path, std::string host_path, uint64_t size,
                        uint32_t mode = 0644);
  static Entry Symlink(std::string path, std::string target);
  static Entry Hardlink(std::string path, std::string target);
  // type: kCharDevice or kBlockDevice.
  static Entry Device(std::string path, EntryType type, uint32_t major, uint32_t minor,
                      uint32_t mode = 0600);
  static Entry Fifo(std::string path, uint32_t mode = 0600);
  static Entry Whiteout(std::string path);
  static Entry Opaque(std::string dir);
};

struct LayerOptions {
  CompressOptions compress;
  // SOURCE_DATE_EPOCH. Every mtime becomes this value, or with preserve_mtime
  // min(entry mtime, this) ("clamping"); entries without mtime get it too.
  std::optional<int64_t> source_date_epoch;
  // Keep entries' own mtimes (clamped as above). Off: all times are the
  // epoch or 0, so layers do not depend on when files were checked out.
  bool preserve_mtime = false;
};

// SOURCE_DATE_EPOCH from the environment; nullopt when unset, kInvalidArgument
// when set to anything but a non-negative integer.
Result<std::optional<int64_t>> SourceDateEpochFromEnv();

struct LayerDescriptor {
  Digest digest;          // the blob (compressed) as written
  Digest diff_id;         // the uncompressed tar
  uint64_t size = 0;      // blob bytes
  uint64_t tar_size = 0;  // uncompressed bytes
  std::string media_type;
  uint64_t entries = 0;  // tar entries written
};

// Writes the layer for `entries` to `out`. Errors name the entry: bad paths
// ("..", empty, duplicates, ".wh." names), a hardlink whose target is not a
// regular entry of the layer, content whose length differs from `size`
// (kInvalidArgument), unreadable content (kIo/kNotFound). On error `out` has
// received a prefix of the blob and should be discarded.
// Thread-safety: independent calls may run concurrently.
Result<LayerDescriptor> WriteLayer(std::vector<Entry> entries, const LayerOptions& options,
                                   ByteSink& out);

// As WriteLayer, into `store` (published under its digest only when complete)
// with a LayerInfo record (diff ID, media type, sizes) beside it.
Result<LayerDescriptor> WriteLayerToStore(std::vector<Entry> entries, const LayerOptions& options,
                                          store::ContentStore& store);

// Cleans an image path: strips leading "/" and "./", collapses "//" and ".",
// drops a trailing "/". kInvalidArgument for "..", NUL, or the root itself.
Result<std::string> CleanImagePath(std::string_view path);

}  // namespace hoist::layer
