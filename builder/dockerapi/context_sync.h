// Build contexts of the Engine API's POST /build: the docker CLI sends the
// whole context as a tar on every build. Writing it out and hashing it
// again each time would cost more than a no-op build itself, so the
// engine keeps a copy of each recent context (a "mirror", one per tag set
// and Dockerfile) and brings it up to date from the tar as it streams in:
//
//   - a regular file whose mirror copy has the same size, modification
//     time and mode is left alone (its bytes are read off the socket and
//     dropped), as BuildKit's local-source sync (fsutil) decides what to
//     send by the same three;
//   - any other file is written (temp + rename) and hashed on the way, and
//     its digest goes into the mirror's stat index (build/copy.h,
//     SeedIndex), so the build reads no context file twice;
//   - what the tar no longer holds is removed from the mirror.
//
// Entries are confined to the directory: absolute paths, "..", and paths
// through a symbolic link are refused, and hard links must point inside.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/digest.h"
#include "common/io.h"
#include "common/status.h"

namespace hoist::dockerapi {

struct SyncResult {
  int written = 0;  // files written (new or changed)
  int kept = 0;     // files left as they were
  int removed = 0;  // paths the tar no longer has
  uint64_t bytes_written = 0;
  // The digests of the files written: relative path -> sha256.
  std::vector<std::pair<std::string, Digest>> hashed;
};

// Makes `dir` (created when missing) hold exactly what the tar read from
// `tar` holds (plain or compressed). kInvalidArgument for a malformed,
// truncated or unsafe archive; the directory may then be partly updated,
// never with a partial file.
Result<SyncResult> SyncTarToDir(ByteSource& tar, const std::string& dir);

// One mirror directory, locked for one build at a time. Mirrors live under
// `parent` (the store's engine/contexts); at most `keep` are kept, the
// least recently used are removed when a new one is made.
class ContextMirror {
 public:
  // The mirror for `key`; when another build holds it, a fresh temporary
  // directory (removed on destruction, `persistent()` false).
  static Result<std::unique_ptr<ContextMirror>> Acquire(const std::string& parent,
                                                        const std::string& key, int keep = 8);
  ~ContextMirror();
  ContextMirror(const ContextMirror&) = delete;
  ContextMirror& operator=(const ContextMirror&) = delete;

  // Removes the mirrors under `parent` that no build holds, all but the
  // `keep` most recently used (and never `except`).
  static void RemoveIdle(const std::string& parent, int keep, const std::string& except = "");

  const std::string& dir() const { return dir_; }
  bool persistent() const { return lock_fd_ >= 0; }

 private:
  ContextMirror(std::string dir, int lock_fd) : dir_(std::move(dir)), lock_fd_(lock_fd) {}
  std::string dir_;
  int lock_fd_;
};

}  // namespace hoist::dockerapi
