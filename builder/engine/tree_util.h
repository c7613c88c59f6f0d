// Filesystem helpers shared by COPY/ADD (copy.h) and build contexts
// (context.h): path resolution inside a root directory, confined opens,
// owners as extracted root filesystems record them, temp directories and
// file hashing.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "builder/engine/copy.h"
#include "builder/store/file_io.h"
#include "common/digest.h"
#include "common/status.h"

namespace hoist::engine {

// A path resolved inside a root directory.
struct InRoot {
  std::string rel;       // resolved path below the root, no leading "/" ("" = the root)
  bool exists = false;   // the whole path exists (st is its lstat)
  bool not_dir = false;  // a component before the last exists but is not a directory
  struct stat st {};
};

// Resolves `path` inside `root` as if chrooted there: ".." stops at the
// root; symlinks, absolute or relative, are expanded inside it (at most 40;
// the last component only when follow_last). A missing component ends the
// walk: the rest is appended lexically and exists is false.
// Errors: kInvalidArgument for a symlink loop, kIo when lstat fails
// otherwise. Reads only; safe for concurrent use.
Result<InRoot> ResolveInRoot(const std::string& root, std::string_view path, bool follow_last);

// Opens the regular file `path` of the root filesystem `root` for reading
// with every symlink resolved inside the root (layer::RootDir), so no link
// in the tree can reach a host file. kNotFound when it does not exist.
Result<store::UniqueFd> OpenInRoot(const std::string& root, std::string_view path);

// The owner of a file of an extracted root filesystem: the
// layer::kOwnerXattr record when present, else st's ids when this process
// runs as root (the extractor chowned), else 0:0.
Owner RecordedOwner(const std::string& path, const struct stat& st);

// Extended attributes of `path` (not followed) except hoist's own
// user.hoist.* records, sorted by name.
std::vector<std::pair<std::string, std::string>> ReadXattrs(const std::string& path);

// sha256 of the content of the file open as `fd`; `bytes` (optional)
// receives its length. `what` names the file in errors.
Result<Digest> HashFd(int fd, const std::string& what, uint64_t* bytes = nullptr);
// As HashFd, opening `path` (not following a final symlink).
Result<Digest> HashFile(const std::string& path, uint64_t* bytes = nullptr);

// A new directory "<parent>/<prefix>XXXXXX"; `parent` is created when missing.
Result<std::string> MakeTempDir(const std::string& parent, std::string_view prefix);
// Removes a tree without following symlinks; read-only directories are made
// writable first. Errors are ignored (best-effort cleanup).
void RemoveTree(const std::string& path);

// Copies everything `in` yields into the new file `path` (mode 0600);
// returns the digest (algorithm `a`) and size of what was written.
Result<std::pair<Digest, uint64_t>> SaveStream(ByteSource& in, const std::string& path,
                                               DigestAlgorithm a = DigestAlgorithm::kSha256);

}  // namespace hoist::engine
