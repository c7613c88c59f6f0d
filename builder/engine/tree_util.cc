#include "builder/engine/tree_util.h"

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <deque>
#include <filesystem>

#include "builder/dockerfile/dockerignore.h"
#include "builder/layer/extract.h"
#include "builder/layer/path.h"
#include "builder/layer/root_dir.h"

namespace hoist::engine {
namespace {

constexpr int kMaxSymlinks = 40;  // as the kernel's MAXSYMLINKS
constexpr std::string_view kHoistXattrPrefix = "user.hoist.";

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

std::string Under(const std::string& root, const std::string& rel) {
  return rel.empty() ? root : root + "/" + rel;
}

Result<std::string> ReadLink(const std::string& path) {
  std::string buf(256, '\0');
  while (true) {
    ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
    if (n < 0) return ErrnoStatus("readlink", path);
    if (static_cast<size_t>(n) < buf.size()) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
}

Status TooManyLinks(std::string_view path) {
  return Status(Code::kInvalidArgument, "too many levels of symbolic links: /" + std::string(path));
}

}  // namespace

Result<InRoot> ResolveInRoot(const std::string& root, std::string_view path, bool follow_last) {
  std::deque<std::string> todo;
  for (std::string_view c : layer::SplitPath(path)) todo.emplace_back(c);
  std::vector<std::string> done;
  InRoot r;
  int links = 0;
  auto finish_missing = [&](bool not_dir) {
    for (const std::string& c : todo) {
      if (c == ".") continue;
      if (c == "..") {
        if (!done.empty()) done.pop_back();
        continue;
      }
      done.push_back(c);
    }
    r.rel = Join(done);
    r.not_dir = not_dir;
    return r;
  };
  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c == ".") continue;
    if (c == "..") {
      if (!done.empty()) done.pop_back();
      continue;
    }
    done.push_back(std::move(c));
    std::string host = Under(root, Join(done));
    struct stat st {};
    if (::lstat(host.c_str(), &st) != 0) {
      if (errno == ENOENT) return finish_missing(false);
      return ErrnoStatus("lstat", host);
    }
    if (S_ISLNK(st.st_mode) && (!todo.empty() || follow_last)) {
      if (++links > kMaxSymlinks) return TooManyLinks(path);
      Result<std::string> target = ReadLink(host);
      if (!target.ok()) return target.status();
      done.pop_back();
      if (!target->empty() && (*target)[0] == '/') done.clear();
      std::vector<std::string_view> parts = layer::SplitPath(*target);
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo.emplace_front(*it);
      continue;
    }
    if (!todo.empty() && !S_ISDIR(st.st_mode)) return finish_missing(true);
  }
  r.rel = Join(done);
  std::string host = Under(root, r.rel);
  if (::lstat(host.c_str(), &r.st) != 0) {
    if (errno != ENOENT) return ErrnoStatus("lstat", host);
    return r;
  }
  r.exists = true;
  return r;
}

Result<store::UniqueFd> OpenInRoot(const std::string& root, std::string_view path) {
  Result<std::unique_ptr<layer::RootDir>> rd = layer::RootDir::Open(root);
  if (!rd.ok()) return rd.status();
  std::string cur = dockerfile::CleanPath("/" + std::string(path)).substr(1);
  for (int links = 0; links <= kMaxSymlinks; ++links) {
    size_t slash = cur.rfind('/');
    std::string dir = slash == std::string::npos ? "" : cur.substr(0, slash);
    std::string base = slash == std::string::npos ? cur : cur.substr(slash + 1);
    if (base.empty()) return Status(Code::kInvalidArgument, "/" + cur + " is not a regular file");
    Result<store::UniqueFd> dfd = (*rd)->OpenDir(dir, /*follow_symlinks=*/true);
    if (!dfd.ok()) {
      if (dfd.status().code() == Code::kNotFound) {
        return Status(Code::kNotFound, "/" + cur + ": no such file");
      }
      return dfd.status();
    }
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    int fd = ::openat(dfd->get(), base.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
      store::UniqueFd file(fd);
      struct stat st {};
      if (::fstat(fd, &st) != 0) return ErrnoStatus("fstat", "/" + cur);
      if (!S_ISREG(st.st_mode)) {
        return Status(Code::kInvalidArgument, "/" + cur + " is not a regular file");
      }
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      return file;
    }
    if (errno == ENOENT) return Status(Code::kNotFound, "/" + cur + ": no such file");
    if (errno != ELOOP) return ErrnoStatus("open", "/" + cur);
    std::string target(4096, '\0');
    ssize_t n = ::readlinkat(dfd->get(), base.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoStatus("readlink", "/" + cur);
    target.resize(static_cast<size_t>(n));
    std::string next = target[0] == '/' ? target : dir + "/" + target;
    cur = dockerfile::CleanPath("/" + next).substr(1);
  }
  return TooManyLinks(path);
}

Owner RecordedOwner(const std::string& path, const struct stat& st) {
  char buf[64];
  ssize_t n =
      ::lgetxattr(path.c_str(), std::string(layer::kOwnerXattr).c_str(), buf, sizeof buf - 1);
  if (n > 0) {
    buf[n] = '\0';
    unsigned long uid = 0, gid = 0;
    if (std::sscanf(buf, "%lu:%lu", &uid, &gid) == 2) {
      return Owner{static_cast<uint32_t>(uid), static_cast<uint32_t>(gid)};
    }
  }
  if (::geteuid() == 0) return Owner{st.st_uid, st.st_gid};
  return Owner{};
}

std::vector<std::pair<std::string, std::string>> ReadXattrs(const std::string& path) {
  std::vector<std::pair<std::string, std::string>> out;
  ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
  if (n <= 0) return out;
  std::string names(static_cast<size_t>(n), '\0');
  n = ::llistxattr(path.c_str(), names.data(), names.size());
  if (n <= 0) return out;
  names.resize(static_cast<size_t>(n));
  for (size_t i = 0; i < names.size();) {
    std::string name(names.c_str() + i);
    i += name.size() + 1;
    if (name.empty() || name.rfind(kHoistXattrPrefix, 0) == 0) continue;
    ssize_t v = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    if (v < 0) continue;
    std::string value(static_cast<size_t>(v), '\0');
    v = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (v < 0) continue;
    value.resize(static_cast<size_t>(v));
    out.emplace_back(std::move(name), std::move(value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<Digest> HashFd(int fd, const std::string& what, uint64_t* bytes) {
  thread_local std::vector<char> buf(1 << 20);
  Digester h;
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", what);
    }
    if (n == 0) break;
    h.Update(buf.data(), static_cast<size_t>(n));
  }
  if (bytes != nullptr) *bytes = h.bytes();
  return h.Current();
}

Result<Digest> HashFile(const std::string& path, uint64_t* bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status(Code::kNotFound, path + ": no such file");
    return ErrnoStatus("open", path);
  }
  store::UniqueFd owned(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return HashFd(fd, path, bytes);
}

Result<std::string> MakeTempDir(const std::string& parent, std::string_view prefix) {
  HOIST_RETURN_IF_ERROR(store::MakeDirs(parent));
  std::string tmpl = parent + "/" + std::string(prefix) + "XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return ErrnoStatus("mkdtemp", tmpl);
  return tmpl;
}

void RemoveTree(const std::string& path) {
  (void)store::RemoveTree(path);
}

Result<std::pair<Digest, uint64_t>> SaveStream(ByteSource& in, const std::string& path,
                                               DigestAlgorithm a) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("create", path);
  store::UniqueFd out(fd);
  Digester h(a);
  std::vector<char> buf(1 << 20);
  while (true) {
    Result<size_t> n = in.Read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    h.Update(buf.data(), *n);
    HOIST_RETURN_IF_ERROR(store::WriteAll(fd, buf.data(), *n, path));
  }
  return std::make_pair(h.Current(), h.bytes());
}

}  // namespace hoist::engine
