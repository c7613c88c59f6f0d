// A local disk copy of the immutable files of a remote driver (S3): the
// blobs, whose path names their digest, so a copy can never be stale. A
// whole read of a blob not held yet streams from the remote store to the
// client and into a file below `dir` at once; the next reads come from that
// file (sendfile, as on the filesystem driver). A push whose PATCHes all
// came through this process is written here as well as to the store, and
// becomes the blob's copy when the upload is committed (the store's blob
// then has the same size).
//
// The registry above still asks the remote store (through the short-lived
// read cache, storage/cache.h) whether a repository links the blob and
// whether the blob exists before opening it, so a blob that a garbage
// collection on another process deleted is not served from here after the
// read cache's TTL. Deletes through this driver drop the copies at once.
//
// Bounded by `max_bytes`: the least recently read copies go first. A file
// being filled is named "<path>.partial.<pid>.<n>" and renamed into place
// only once it holds as many bytes as the remote store says the blob has;
// a push's, "<upload path>.staged.<pid>.<n>", only once the store's blob
// has its size. A read given up on, a write cancelled or failed, or a
// process killed leaves no copy (unfinished files are removed at start).
// Several processes may share `dir`: one starting removes the unfinished
// files of all, and the others then keep no copy of those.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "registry/storage/driver.h"

namespace hoist::storage {

struct BlobCacheOptions {
  std::string dir;  // empty: no cache (the driver is returned as is)
  int64_t max_bytes = int64_t{10} << 30;
  // Which paths name content that never changes (paths::IsBlobData).
  std::function<bool(const std::string& path)> immutable;
  // Which paths are appended to and then moved to an immutable path
  // (paths::IsUploadData); none when empty.
  std::function<bool(const std::string& path)> staging;
};

Result<std::unique_ptr<StorageDriver>> NewBlobCacheDriver(std::unique_ptr<StorageDriver> inner,
                                                          BlobCacheOptions options);

}  // namespace hoist::storage
