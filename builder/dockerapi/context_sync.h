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

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "builder/store/file_io.h"
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

// Brings a mirror directory up to date one entry at a time, by the rules
// above; the tar reader below and the BuildKit session's file sync
// (filesync.h) both drive it. Paths are relative to the mirror, already
// cleaned by Clean. Not thread-safe.
class MirrorWriter {
 public:
  // "./a/b/" -> "a/b"; "" for the root itself; nullopt when unsafe (absolute,
  // "..", or the name this code writes through).
  static std::optional<std::string> Clean(const char* raw);

  explicit MirrorWriter(std::string dir);  // REQUIRES: dir exists

  Status Directory(const std::string& rel, mode_t perm);
  Status Symlink(const std::string& rel, const std::string& target);
  // A hard link to `target`, a regular file this sync already named.
  Status Hardlink(const std::string& rel, const std::string& target);
  // True (and counted as kept) when the mirror's regular file at `rel` has
  // this size, modification time and mode; else a Create is due.
  Result<bool> Unchanged(const std::string& rel, int64_t size, int64_t mtime_ns, mode_t perm);

  // A file being written, hashed on the way: into a temporary name that
  // Commit puts in place, or, when Unchanged has just found the name free,
  // under its own name with its modification time set by Commit (so an
  // unfinished file never passes Unchanged). Removed if destroyed before
  // Commit.
  class File {
   public:
    ~File();
    Status Write(const char* data, size_t n);
    Status Commit();

   private:
    friend class MirrorWriter;
    std::string path() const { return tmp_.empty() ? m_.dir_ + "/" + rel_ : tmp_; }
    File(MirrorWriter& m, std::string rel, std::string tmp, store::UniqueFd fd, mode_t perm,
         int64_t mtime_ns)
        : m_(m),
          rel_(std::move(rel)),
          tmp_(std::move(tmp)),
          fd_(std::move(fd)),
          perm_(perm),
          mtime_ns_(mtime_ns) {}
    MirrorWriter& m_;
    std::string rel_, tmp_;
    store::UniqueFd fd_;
    mode_t perm_;
    int64_t mtime_ns_;
    Digester h_;
    bool committed_ = false;
  };
  Result<std::unique_ptr<File>> Create(const std::string& rel, mode_t perm, int64_t mtime_ns);

  // Removes what this sync did not name.
  Status Prune();
  SyncResult& result() { return result_; }

 private:
  Status Parents(const std::string& rel);
  Status PruneDir(const std::string& rel_dir, const std::string& full_dir);

  std::string dir_;
  std::unordered_set<std::string> seen_;
  std::unordered_set<std::string> dirs_;  // known to be real directories now
  SyncResult result_;
  // Unchanged's last directory (reset whenever the tree changes), and the
  // name it found free there.
  std::string parent_;
  store::UniqueFd parent_fd_;
  std::string missing_;
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
