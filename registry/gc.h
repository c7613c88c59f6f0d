// Garbage collection of a registry root (mark and sweep, as distribution's
// `registry garbage-collect`): blobs that no manifest of any repository
// references are deleted, and so are upload sessions older than a limit.
//
// Safe while a registry serves the same root only thanks to `min_age`:
// blobs younger than it are kept, so a push in progress (blobs uploaded,
// manifest not yet put) is not broken. With min_age 0, stop the registry.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "registry/storage/driver.h"

namespace hoist::registry {

struct GcOptions {
  bool dry_run = false;
  int64_t min_age_sec = 3600;         // keep younger unreferenced blobs
  int64_t upload_max_age_sec = 86400; // delete older upload sessions
  int64_t now_unix = 0;               // 0: the current time
};

struct GcReport {
  int64_t repositories = 0;
  int64_t manifests = 0;
  int64_t blobs_marked = 0;
  int64_t blobs_deleted = 0;
  int64_t bytes_freed = 0;
  int64_t blobs_kept_young = 0;
  int64_t uploads_deleted = 0;
};

// `on_delete` (may be empty) is told each path deleted (or that would be,
// on a dry run).
Result<GcReport> CollectGarbage(storage::StorageDriver& driver, const GcOptions& options,
                                const std::function<void(const std::string&)>& on_delete);

}  // namespace hoist::registry

namespace hoist::registry {
// `hoist registry gc`: runs CollectGarbage on a filesystem root and prints
// the report (text lines, or one JSON object). Returns the exit code.
int RunGc(const std::string& root, const GcOptions& options, bool json);
}  // namespace hoist::registry
