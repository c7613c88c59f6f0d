// Garbage collection of a registry root (mark and sweep, as distribution's
// `registry garbage-collect`): blobs that no manifest of any repository
// references are deleted, and so are upload sessions older than a limit;
// with `delete_untagged`, also manifests that no tag reaches.
//
// Inside the server (`serve --gc-interval`) it runs on the server's own
// BlobStore, which tracks uses (blob_store.h): whatever a request checked,
// linked or referenced since the sweep began (or within `use_grace` before
// it), and whatever a request in flight holds, is kept. Deletions happen
// under the mutex that records uses, so no manifest put during a sweep can
// end up naming a deleted blob, and no minimum age is needed.
//
// From another process (`hoist registry gc`) nothing is tracked: there
// only `min_age` protects a push in progress; with 0, stop the registry.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "registry/blob_store.h"
#include "registry/storage/driver.h"

namespace hoist::registry {

struct GcOptions {
  bool dry_run = false;
  int64_t min_age_sec = 3600;          // keep younger unreferenced blobs
  int64_t upload_max_age_sec = 86400;  // delete older upload sessions
  int64_t now_unix = 0;                // 0: the current time
  // Removes manifests that no tag reaches, directly or through an index
  // (referrers of a kept manifest are kept), before marking.
  bool delete_untagged = false;
  // With tracked uses: a blob or manifest used less than this long before
  // the run began is kept (a client's HEAD before its manifest PUT).
  int64_t use_grace_ms = 0;
};

struct GcReport {
  int64_t repositories = 0;
  int64_t manifests = 0;
  int64_t blobs_marked = 0;
  int64_t blobs_deleted = 0;
  int64_t bytes_freed = 0;
  int64_t blobs_kept_young = 0;
  int64_t uploads_deleted = 0;
  int64_t manifests_deleted = 0;  // untagged, with delete_untagged
  int64_t kept_in_use = 0;        // candidates a request was using
  double seconds = 0;
};

// `on_delete` (may be empty) is told each path deleted (or that would be,
// on a dry run). `blobs` is the store requests go through (its uses are
// honoured when tracked).
Result<GcReport> CollectGarbage(storage::StorageDriver& driver, BlobStore& blobs,
                                const GcOptions& options,
                                const std::function<void(const std::string&)>& on_delete);
// The same with stores of its own (nothing tracked).
Result<GcReport> CollectGarbage(storage::StorageDriver& driver, const GcOptions& options,
                                const std::function<void(const std::string&)>& on_delete);

}  // namespace hoist::registry

namespace hoist::registry {
struct Config;
// `hoist registry gc`: runs CollectGarbage on the storage `cfg` names (a
// filesystem root or an S3 bucket) and prints the report (text lines, or
// one JSON object). Returns the exit code.
int RunGc(const Config& cfg, const GcOptions& options, bool json);
}  // namespace hoist::registry
