#include "builder/sandbox/mountpoints.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "builder/sandbox/paths.h"

namespace hoist::sandbox {
namespace {

constexpr int kMaxLinks = 40;

std::string FdPath(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

bool SameTime(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

}  // namespace

Result<std::unique_ptr<Mountpoints>> Mountpoints::Open(const std::string& rootfs) {
  Result<std::unique_ptr<layer::RootDir>> root = layer::RootDir::Open(rootfs);
  if (!root.ok()) return root.status();
  return std::unique_ptr<Mountpoints>(new Mountpoints(std::move(*root), rootfs));
}

Result<std::string> Mountpoints::Ensure(std::string_view path, bool dir) {
  return Walk(path, dir, true, 0);
}

Result<std::string> Mountpoints::Resolve(std::string_view path, bool dir) {
  return Walk(path, dir, false, 0);
}

Result<std::string> Mountpoints::Walk(std::string_view path, bool dir, bool create, int depth) {
  if (depth > kMaxLinks)
    return Status(Code::kInvalidArgument, std::string(path) + ": too many symlinks");
  std::string rel = Lexical(path);
  if (rel.empty()) {
    if (!dir) return Status(Code::kInvalidArgument, "cannot mount a file over the root");
    return std::string();
  }
  size_t slash = rel.rfind('/');
  std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
  std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  if (!parent.empty()) {
    Result<std::string> p = Walk(parent, true, create, depth + 1);
    if (!p.ok()) return p.status();
  }
  Result<store::UniqueFd> pfd = root_->OpenDir(parent, true);
  if (!pfd.ok()) return pfd.status();
  struct stat st {};
  if (::fstatat(pfd->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) return ErrnoStatus("stat", "/" + rel);
    if (!create) return Status(Code::kNotFound, "/" + rel + ": no such file or directory");
    Created c{parent, name, dir, {}, {}, {}};
    struct stat pst {};
    if (::fstat(pfd->get(), &pst) != 0) return ErrnoStatus("stat", "/" + parent);
    c.parent_atime = pst.st_atim;
    c.parent_mtime = pst.st_mtim;
    if (dir) {
      if (::mkdirat(pfd->get(), name.c_str(), 0755) != 0) return ErrnoStatus("mkdir", "/" + rel);
    } else {
      int fd = ::openat(pfd->get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd < 0) return ErrnoStatus("create", "/" + rel);
      ::close(fd);
    }
    if (::fstat(pfd->get(), &pst) == 0) c.parent_mtime_after = pst.st_mtim;
    created_.push_back(std::move(c));
  } else if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = ::readlinkat(pfd->get(), name.c_str(), target, sizeof target - 1);
    if (n < 0) return ErrnoStatus("readlink", "/" + rel);
    std::string t(target, static_cast<size_t>(n));
    return Walk(t[0] == '/' ? t : parent + "/" + t, dir, create, depth + 1);
  } else if (S_ISDIR(st.st_mode) != dir) {
    return Status(Code::kInvalidArgument,
                  "cannot mount on /" + rel + ": " + (dir ? "not a directory" : "is a directory"));
  }
  // The canonical path: what the kernel names the opened file.
  int fd = ::openat(pfd->get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", "/" + rel);
  store::UniqueFd f(fd);
  char buf[4096];
  ssize_t n = ::readlink(FdPath(f.get()).c_str(), buf, sizeof buf - 1);
  if (n < 0) return ErrnoStatus("readlink", "/" + rel);
  std::string host(buf, static_cast<size_t>(n));
  if (!Under(host, rootfs_) || host == rootfs_) {
    return Status(Code::kIo, "/" + rel + " resolves outside the root (" + host + ")");
  }
  return host.substr(rootfs_.size() + 1);
}

void Mountpoints::Cleanup() {
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
    Result<store::UniqueFd> pfd = root_->OpenDir(it->parent, true);
    if (!pfd.ok()) continue;
    struct stat st {};
    if (::fstatat(pfd->get(), it->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    // Untouched by the step: its parent's mtime is still what creating it made.
    struct stat pst {};
    const bool untouched =
        ::fstat(pfd->get(), &pst) == 0 && SameTime(pst.st_mtim, it->parent_mtime_after);
    int rc = -1;
    if (it->dir && S_ISDIR(st.st_mode)) {
      rc = ::unlinkat(pfd->get(), it->name.c_str(), AT_REMOVEDIR);  // fails when not empty
    } else if (!it->dir && S_ISREG(st.st_mode) && st.st_size == 0) {
      rc = ::unlinkat(pfd->get(), it->name.c_str(), 0);
    }
    if (rc == 0 && untouched) {
      timespec times[2] = {it->parent_atime, it->parent_mtime};
      ::utimensat(AT_FDCWD, FdPath(pfd->get()).c_str(), times, 0);
    }
  }
  created_.clear();
}

}  // namespace hoist::sandbox
