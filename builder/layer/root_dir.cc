#include "builder/layer/root_dir.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <vector>

#include "builder/layer/path.h"

namespace hoist::layer {
namespace {

using store::UniqueFd;

constexpr int kMaxSymlinks = 40;  // as the kernel's MAXSYMLINKS

// glibc 2.36 has no openat2 wrapper.
int SysOpenat2(int dirfd, const char* path, uint64_t flags, uint64_t resolve) {
  struct open_how how {};
  how.flags = flags;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

std::vector<std::string> Split(std::string_view p) {
  std::vector<std::string_view> parts = SplitPath(p);
  return {parts.begin(), parts.end()};
}

Status ErrnoAt(int e, std::string_view op, std::string_view rel) {
  errno = e;
  return ErrnoStatus(op, rel.empty() ? std::string_view("/") : rel);
}

Status SymlinkRefused(std::string_view rel) {
  return Status(Code::kInvalidArgument,
                "path \"" + std::string(rel) + "\" goes through a symlink (not followed)");
}

}  // namespace

Result<std::unique_ptr<RootDir>> RootDir::Open(const std::string& path, bool force_fallback) {
  int fd = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open root", path);
  UniqueFd root(fd);
  bool use = false;
  if (!force_fallback) {
    int probe = SysOpenat2(root.get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_IN_ROOT);
    if (probe >= 0) {
      ::close(probe);
      use = true;
    }
  }
  return std::unique_ptr<RootDir>(new RootDir(std::move(root), path, use));
}

Result<UniqueFd> RootDir::OpenDir(std::string_view rel, bool follow) const {
  if (!openat2_) return WalkFallback(rel, follow);
  std::string p(rel.empty() ? "." : rel);
  uint64_t resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | (follow ? 0 : RESOLVE_NO_SYMLINKS);
  while (true) {
    int fd = SysOpenat2(root_.get(), p.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, resolve);
    if (fd >= 0) return UniqueFd(fd);
    if (errno == EINTR || errno == EAGAIN) continue;  // EAGAIN: a rename raced the lookup
    if (errno == ELOOP && !follow) return SymlinkRefused(rel);
    return ErrnoAt(errno, "open", rel);
  }
}

// Resolves like RESOLVE_IN_ROOT: a stack of open directories from the root
// down; ".." pops (never past the root); a symlink's target is spliced into
// the remaining components, restarting from the root when absolute.
Result<UniqueFd> RootDir::WalkFallback(std::string_view rel, bool follow) const {
  std::vector<UniqueFd> stack;
  int rootdup = ::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0);
  if (rootdup < 0) return ErrnoStatus("dup", path_);
  stack.emplace_back(rootdup);
  std::deque<std::string> todo;
  for (std::string& c : Split(rel)) todo.push_back(std::move(c));
  int links = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c == ".") continue;
    if (c == "..") {
      if (stack.size() > 1) stack.pop_back();
      continue;
    }
    int fd = ::openat(stack.back().get(), c.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoAt(errno, "open", rel);
    UniqueFd next(fd);
    struct stat st {};
    if (::fstat(next.get(), &st) != 0) return ErrnoAt(errno, "stat", rel);
    if (S_ISLNK(st.st_mode)) {
      if (!follow) return SymlinkRefused(rel);
      if (++links > kMaxSymlinks) return ErrnoAt(ELOOP, "open", rel);
      char target[4096];
      ssize_t n = ::readlinkat(stack.back().get(), c.c_str(), target, sizeof target - 1);
      if (n < 0) return ErrnoAt(errno, "readlink", rel);
      std::string_view t(target, static_cast<size_t>(n));
      std::vector<std::string> parts = Split(t);
      todo.insert(todo.begin(), parts.begin(), parts.end());
      if (!t.empty() && t[0] == '/') stack.resize(1);
      continue;
    }
    if (!S_ISDIR(st.st_mode)) return ErrnoAt(ENOTDIR, "open", rel);
    stack.push_back(std::move(next));
  }
  return std::move(stack.back());
}

Result<UniqueFd> RootDir::MakeDirs(std::string_view rel, bool follow, unsigned mode) const {
  std::string path(rel);
  int links = 0;
  // Each round creates one directory or follows one dangling symlink.
  for (int round = 0; round < 4096; ++round) {
    Result<UniqueFd> fd = OpenDir(path, follow);
    if (fd.ok() || fd.status().code() != Code::kNotFound) return fd;
    // Walk down from the root, creating the first missing component, then
    // retry the whole lookup (cheap: layers rarely lack parent entries).
    std::vector<std::string> parts = Split(path);
    std::string prefix;
    bool progressed = false;
    for (size_t i = 0; i < parts.size(); ++i) {
      std::string next = prefix.empty() ? parts[i] : prefix + "/" + parts[i];
      Result<UniqueFd> have = OpenDir(next, follow);
      if (have.ok()) {
        prefix = next;
        continue;
      }
      if (have.status().code() != Code::kNotFound) return have.status();
      Result<UniqueFd> parent = OpenDir(prefix, follow);
      if (!parent.ok()) return parent.status();
      if (parts[i] == "..") return have.status();  // ".." of an existing dir cannot be missing
      if (::mkdirat(parent->get(), parts[i].c_str(), mode) == 0) {
        progressed = true;
        break;
      }
      if (errno != EEXIST) return ErrnoAt(errno, "mkdir", next);
      // It exists but did not resolve: a dangling symlink. Create its target
      // instead (resolved in the root like any other path).
      struct stat st {};
      if (::fstatat(parent->get(), parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
          !S_ISLNK(st.st_mode) || !follow) {
        return ErrnoAt(ENOTDIR, "mkdir", next);
      }
      if (++links > kMaxSymlinks) return ErrnoAt(ELOOP, "mkdir", rel);
      char target[4096];
      ssize_t n = ::readlinkat(parent->get(), parts[i].c_str(), target, sizeof target - 1);
      if (n < 0) return ErrnoAt(errno, "readlink", next);
      std::string t(target, static_cast<size_t>(n));
      std::string rest;
      for (size_t k = i + 1; k < parts.size(); ++k) rest += "/" + parts[k];
      path = (t.size() && t[0] == '/') ? t + rest : (prefix.empty() ? t : prefix + "/" + t) + rest;
      progressed = true;
      break;
    }
    if (!progressed) return OpenDir(path, follow);
  }
  return ErrnoAt(ELOOP, "mkdir", rel);
}

}  // namespace hoist::layer
