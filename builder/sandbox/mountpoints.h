// Mountpoints: the files and directories a step's mounts need inside its
// root (/proc, /dev, /etc/hosts, RUN --mount targets). What is missing is
// created before the step, resolved inside the root (a symlinked
// /etc/resolv.conf is followed there, never to the host), and removed after
// it unless the step wrote into it, with the parent directory's times put
// back, so a Snapshotter does not see the sandbox's own traces.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "builder/layer/root_dir.h"
#include "common/status.h"

namespace hoist::sandbox {

class Mountpoints {
 public:
  // REQUIRES: `rootfs` is an existing directory (an absolute, canonical path).
  static Result<std::unique_ptr<Mountpoints>> Open(const std::string& rootfs);
  ~Mountpoints() { Cleanup(); }
  Mountpoints(const Mountpoints&) = delete;
  Mountpoints& operator=(const Mountpoints&) = delete;

  // Makes sure `path` (inside the root) exists as a directory (dir) or a
  // non-directory, creating what is missing. Returns the path relative to
  // the root with every symlink resolved ("" is the root itself), for
  // opening with O_NOFOLLOW once the root is mounted elsewhere.
  // Errors: kInvalidArgument when it exists with the other kind, kIo.
  Result<std::string> Ensure(std::string_view path, bool dir);

  // Like Ensure but creates nothing: the resolved path, or kNotFound.
  Result<std::string> Resolve(std::string_view path, bool dir);

  // Removes what Ensure created (in reverse order), if still empty.
  // Idempotent.
  void Cleanup();

 private:
  struct Created {
    std::string parent, name;
    bool dir;
    struct timespec parent_atime, parent_mtime, parent_mtime_after;
  };
  Mountpoints(std::unique_ptr<layer::RootDir> root, std::string rootfs)
      : root_(std::move(root)), rootfs_(std::move(rootfs)) {}
  Result<std::string> Walk(std::string_view path, bool dir, bool create, int depth);

  std::unique_ptr<layer::RootDir> root_;
  std::string rootfs_;
  std::vector<Created> created_;
};

}  // namespace hoist::sandbox
