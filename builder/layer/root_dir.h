// RootDir: directory lookups confined to a root, as if the process were
// chrooted there. Symlinks (absolute or relative) and ".." resolve inside the
// root and never above it, so a layer cannot make the extractor write
// outside the rootfs it is applied to.
//
// Uses openat2(2) with RESOLVE_IN_ROOT (Linux 5.6+); where the kernel or a
// seccomp filter refuses it, a component-by-component walk with the same
// semantics (O_NOFOLLOW opens, symlinks expanded by hand, at most 40 links).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "builder/store/file_io.h"
#include "common/status.h"

namespace hoist::layer {

class RootDir {
 public:
  // Opens `path` as the root. force_fallback: never use openat2 (tests).
  static Result<std::unique_ptr<RootDir>> Open(const std::string& path,
                                               bool force_fallback = false);

  RootDir(const RootDir&) = delete;
  RootDir& operator=(const RootDir&) = delete;

  int fd() const { return root_.get(); }
  const std::string& path() const { return path_; }
  bool uses_openat2() const { return openat2_; }

  // Opens the directory `rel` (relative to the root; "" is the root) as an
  // O_PATH descriptor. follow_symlinks=false makes any symlink on the way an
  // error (kInvalidArgument). kNotFound when a component is missing; kIo with
  // ENOTDIR text when one is not a directory.
  // Thread-safety: const calls may run concurrently.
  Result<store::UniqueFd> OpenDir(std::string_view rel, bool follow_symlinks) const;

  // As OpenDir, creating missing directories (mode `mode` before umask,
  // owned by the caller). A dangling symlink on the way is followed and its
  // target created, still inside the root.
  Result<store::UniqueFd> MakeDirs(std::string_view rel, bool follow_symlinks,
                                   unsigned mode = 0755) const;

 private:
  RootDir(store::UniqueFd fd, std::string path, bool openat2)
      : root_(std::move(fd)), path_(std::move(path)), openat2_(openat2) {}
  Result<store::UniqueFd> WalkFallback(std::string_view rel, bool follow) const;

  store::UniqueFd root_;
  std::string path_;
  bool openat2_;
};

}  // namespace hoist::layer
