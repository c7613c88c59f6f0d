// Snapshotter: how a step's filesystem change becomes layer entries
// (DESIGN.md, "The seams"). The walk variant records the root's metadata
// before the step and compares it with the root after it.
//
// What counts as a change, per path: file type, permission bits, owner,
// size, mtime (ns), inode, link count (non-directories), symlink target,
// device number, and xattrs. Content is not read: a rewrite that keeps size,
// mtime and inode (e.g. `touch -r` after an in-place edit) is not seen, as
// in BuildKit's walking differ.
//
// The change as entries (sorted by path; layer::WriteLayer sorts again):
//   - added or changed paths, with their parent directories (so a layer
//     carries the metadata of every directory it writes into, as an overlay
//     upper directory would);
//   - kWhiteout for a deleted path (only the top-most of a deleted tree);
//   - kOpaqueWhiteout plus the directory and everything below it for a
//     directory replaced by another one (a different inode);
//   - regular files sharing an inode become one kRegular entry (the first
//     path) and kHardlink entries to it;
//   - a placeholder with kDeviceXattr (layer/extract.h) is the device it
//     stands for; sockets are left out.
//
// Owners are container ids: the host owner mapped through the sandbox's
// IdMap (unmapped host ids become 65534, as the kernel shows them), except
// that a file owned by container root that carries kOwnerXattr has the
// recorded owner (what the extractor or the sandbox's chown monitor wrote
// where chown could not happen). With a single-id user namespace map every
// file the step creates is the caller's, that is root's, unless recorded.
//
// Xattrs: user.* (but user.hoist.* and user.overlay.*), trusted.* (but
// trusted.overlay.*) and security.capability; SELinux labels and ACLs
// (system.*) are host matters and stay out.
//
// The root's own metadata is not part of a layer. Directories on another
// filesystem (mounts) are recorded but not entered.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "builder/layer/writer.h"
#include "builder/sandbox/id_map.h"
#include "common/status.h"

namespace hoist::sandbox {

// One path's metadata as the walk records it.
struct FileState {
  uint32_t mode = 0;  // st_mode: type and permission bits
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint32_t uid = 0, gid = 0;  // container ids, see above
  uint64_t dev = 0, ino = 0, nlink = 0, rdev = 0;
  std::string link_target;  // symlinks
  std::string device;       // kDeviceXattr of a placeholder ("c 1 3")
  std::vector<std::pair<std::string, std::string>> xattrs;  // sorted, as listed above

  bool operator==(const FileState&) const = default;
};

// Paths relative to the root ("a/b"), sorted; the root itself is "".
using TreeState = std::map<std::string, FileState>;

// Records the metadata of every path under `root`. Errors: kNotFound for a
// missing root, kIo when a directory cannot be read (names it).
// Thread-safety: concurrent calls may scan different roots.
Result<TreeState> ScanTree(const std::string& root, const IdMap& ids);

// The change from `before` to `after` as layer entries (see above);
// regular files are read from `root` when the layer is written.
std::vector<layer::Entry> DiffTrees(const TreeState& before, const TreeState& after,
                                    const std::string& root);

class Snapshotter {
 public:
  virtual ~Snapshotter() = default;
  Snapshotter(const Snapshotter&) = delete;
  Snapshotter& operator=(const Snapshotter&) = delete;

  virtual std::string_view Name() const = 0;
  // The directory the step must run in (its RunSpec::rootfs).
  virtual const std::string& root() const = 0;
  // Records the root before the step.
  virtual Status Begin() = 0;
  // The change since Begin. The entries read regular files from the root:
  // leave it unchanged until the layer is written.
  // REQUIRES: Begin succeeded.
  virtual Result<std::vector<layer::Entry>> End() = 0;

 protected:
  Snapshotter() = default;
};

// The walk snapshotter over `root`, reading owners through `ids`
// (Sandbox::ids()). Not thread-safe; one step at a time.
std::unique_ptr<Snapshotter> NewWalkSnapshotter(std::string root, IdMap ids);

// The overlay snapshotter: Begin mounts overlayfs at `dir`/merged (root())
// with `lowers` as its lower directories (top first: earlier steps' upper
// directories, then an extracted root filesystem, all left unchanged) and
// `dir`/upper as the upper directory, which receives every change the step
// makes. End unmounts and reads the change from the upper directory alone
// (whiteouts, opaque directories, copied-up files whose metadata did not
// change are left out), so it costs what the change costs, not what the
// root holds; the entries are those the walk gives for the same change.
// `dir`/upper stays a valid lower directory for the next step.
// Requires a mount namespace of this process's own (EnterMountNamespace);
// Begin fails with kUnsupported when there is none or the kernel refuses the
// mount (then the walk is the way). Not thread-safe; one step at a time.
std::unique_ptr<Snapshotter> NewOverlaySnapshotter(std::vector<std::string> lowers, std::string dir,
                                                   IdMap ids);

// Moves this process into a mount namespace of its own (mounts made there,
// e.g. overlays, vanish with it), when it may (euid 0, also as root of a
// user namespace). Returns whether it is in one now.
// REQUIRES: no other thread runs (call it first thing in main).
bool EnterMountNamespace();
// Whether EnterMountNamespace succeeded in this process.
bool HaveMountNamespace();

}  // namespace hoist::sandbox
