#include "builder/engine/rootfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <utility>
#include <vector>

#include "builder/engine/paths.h"
#include "builder/layer/extract.h"
#include "builder/store/file_io.h"
#include "builder/transfer/layout.h"

namespace hoist::engine {
namespace {

using store::UniqueFd;

std::string UniqueName() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng(std::random_device{}());
  return std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(rng() % 1000000007);
}

bool Exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

void CopyXattrs(int from, int to) {
  char names[16384];
  ssize_t n = ::flistxattr(from, names, sizeof names);
  for (ssize_t off = 0; n > 0 && off < n;
       off += static_cast<ssize_t>(std::strlen(names + off)) + 1) {
    const char* name = names + off;
    char value[65536];
    ssize_t v = ::fgetxattr(from, name, value, sizeof value);
    if (v >= 0) ::fsetxattr(to, name, value, static_cast<size_t>(v), 0);
  }
}

// `size` bytes from `in` to `out` (copy_file_range: a reflink where the
// filesystem offers one; read and write where the kernel cannot copy
// between the two, e.g. out of an overlayfs mount before Linux 5.19).
Status CopyContent(int in, int out, off_t size, const std::string& where) {
  off_t left = size;
  while (left > 0) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, static_cast<size_t>(left), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EXDEV || errno == EOPNOTSUPP || errno == ENOSYS)) break;
    if (n <= 0) return ErrnoStatus("copy", where);
    left -= n;
  }
  std::vector<char> buf(left > 0 ? 128 * 1024 : 0);
  while (left > 0) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read", where);
    if (n == 0) return Status(Code::kIo, "copy " + where + ": file shrank while copied");
    HOIST_RETURN_IF_ERROR(store::WriteAll(out, buf.data(), static_cast<size_t>(n), where));
    left -= n;
  }
  return Status::Ok();
}

// Copies the regular file `name` of `src` into `dst` (content, mode,
// xattrs; the owner when root).
Status CopyFile(int src, int dst, const std::string& name, const struct stat& st,
                const std::string& where) {
  UniqueFd in(::openat(src, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in.valid()) return ErrnoStatus("open", where);
  UniqueFd out(::openat(dst, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        st.st_mode & 07777));
  if (!out.valid()) return ErrnoStatus("create", "copy of " + where);
  HOIST_RETURN_IF_ERROR(CopyContent(in.get(), out.get(), st.st_size, where));
  CopyXattrs(in.get(), out.get());
  if (::geteuid() == 0) ::fchown(out.get(), st.st_uid, st.st_gid);
  ::fchmod(out.get(), st.st_mode & 07777);
  return Status::Ok();
}

// How TreeCopy treats what is not a directory.
struct TreeCopy {
  bool copy = false;  // false: hard links; true: private copies (hard links among them kept)
  bool root = false;  // euid 0: owners are kept
  int top = -1;       // the copy's root directory
  const std::function<bool(const std::string&)>* excluded = nullptr;  // paths left out
  std::map<std::pair<dev_t, ino_t>, std::string>
      seen;  // copy: first copy of an inode (dst-relative)
};

Status CopyOther(int src, int dst, const std::string& name, const struct stat& st,
                 const std::string& where, const std::string& rel, TreeCopy& tc) {
  if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
    auto [it, fresh] = tc.seen.emplace(std::make_pair(st.st_dev, st.st_ino), rel);
    if (!fresh) {
      // Both paths are below the copy's root: link to the first copy.
      if (::linkat(tc.top, it->second.c_str(), dst, name.c_str(), 0) == 0) return Status::Ok();
    }
  }
  if (S_ISREG(st.st_mode)) {
    HOIST_RETURN_IF_ERROR(CopyFile(src, dst, name, st, where));
  } else if (S_ISLNK(st.st_mode)) {
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = ::readlinkat(src, name.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoStatus("readlink", where);
    target.resize(static_cast<size_t>(n));
    if (::symlinkat(target.c_str(), dst, name.c_str()) != 0) return ErrnoStatus("symlink", where);
    if (tc.root) ::fchownat(dst, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
  } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    if (::mknodat(dst, name.c_str(), st.st_mode, st.st_rdev) != 0)
      return ErrnoStatus("mknod", where);
    if (tc.root) ::fchownat(dst, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
  } else {
    return Status::Ok();  // sockets are not copied
  }
  timespec times[2] = {st.st_atim, st.st_mtim};
  ::utimensat(dst, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
  return Status::Ok();
}

// Copies the directory `src` (open) into the directory `dst` (open, empty).
Status LinkDir(int src, int dst, const std::string& where, const std::string& rel, TreeCopy& tc,
               int depth) {
  const bool root = tc.root;
  if (depth > 4096) return Status(Code::kInvalidArgument, where + ": directories nested too deep");
  int dup = ::dup(src);
  if (dup < 0) return ErrnoStatus("dup", where);
  DIR* d = ::fdopendir(dup);
  if (d == nullptr) {
    ::close(dup);
    return ErrnoStatus("opendir", where);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> closer(d, ::closedir);
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(src, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoStatus("stat", where + "/" + name);
    }
    std::string sub = rel.empty() ? name : rel + "/" + name;
    if (tc.excluded != nullptr && *tc.excluded && (*tc.excluded)(sub)) continue;
    if (!S_ISDIR(st.st_mode) && tc.copy) {
      HOIST_RETURN_IF_ERROR(CopyOther(src, dst, name, st, where + "/" + name, sub, tc));
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (::linkat(src, name.c_str(), dst, name.c_str(), 0) == 0) continue;
      // An inode at the filesystem's link limit, or on another filesystem,
      // gets a copy of its own.
      if (errno != EMLINK && errno != EXDEV) return ErrnoStatus("link", where + "/" + name);
      HOIST_RETURN_IF_ERROR(CopyOther(src, dst, name, st, where + "/" + name, sub, tc));
      continue;
    }
    if (::mkdirat(dst, name.c_str(), 0700) != 0) return ErrnoStatus("mkdir", where + "/" + name);
    UniqueFd s(::openat(src, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!s.valid()) return ErrnoStatus("open", where + "/" + name);
    UniqueFd t(::openat(dst, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!t.valid()) return ErrnoStatus("open", "copy of " + where + "/" + name);
    HOIST_RETURN_IF_ERROR(LinkDir(s.get(), t.get(), where + "/" + name, sub, tc, depth + 1));
    CopyXattrs(s.get(), t.get());
    if (root) ::fchown(t.get(), st.st_uid, st.st_gid);
    ::fchmod(t.get(), st.st_mode & 07777);
    if (tc.copy) {
      timespec times[2] = {st.st_atim, st.st_mtim};
      ::futimens(t.get(), times);
    }
  }
  return Status::Ok();
}

}  // namespace

Digest ChainId(const std::vector<Digest>& diff_ids) {
  Digest chain = diff_ids.at(0);
  for (size_t i = 1; i < diff_ids.size(); ++i) {
    chain = DigestOf(chain.str() + " " + diff_ids[i].str());
  }
  return chain;
}

namespace {

Status CopyTreeWith(const std::string& src, const std::string& dst, bool copy,
                    const std::function<bool(const std::string&)>* excluded) {
  UniqueFd s(::open(src.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!s.valid()) return ErrnoStatus("open", src);
  struct stat st;
  if (::fstat(s.get(), &st) != 0) return ErrnoStatus("stat", src);
  if (::mkdir(dst.c_str(), 0700) != 0) return ErrnoStatus("mkdir", dst);
  UniqueFd t(::open(dst.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!t.valid()) return ErrnoStatus("open", dst);
  TreeCopy tc;
  tc.copy = copy;
  tc.root = ::geteuid() == 0;
  tc.top = t.get();
  tc.excluded = excluded;
  HOIST_RETURN_IF_ERROR(LinkDir(s.get(), t.get(), src, "", tc, 0));
  CopyXattrs(s.get(), t.get());
  if (tc.root) ::fchown(t.get(), st.st_uid, st.st_gid);
  ::fchmod(t.get(), st.st_mode & 07777);
  if (copy) {
    timespec times[2] = {st.st_atim, st.st_mtim};
    ::futimens(t.get(), times);
  }
  return Status::Ok();
}

}  // namespace

Status LinkTree(const std::string& src, const std::string& dst) {
  return CopyTreeWith(src, dst, false, nullptr);
}

Status CopyTree(const std::string& src, const std::string& dst, const TreeCopyOptions& options) {
  return CopyTreeWith(src, dst, options.copy, &options.excluded);
}

Status CopyFileTo(const std::string& from, const std::string& to) {
  struct stat st;
  if (::stat(from.c_str(), &st) != 0) return ErrnoStatus("stat", from);
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return ErrnoStatus("open", from);
  UniqueFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777));
  if (!out.valid()) return ErrnoStatus("create", to);
  return CopyContent(in.get(), out.get(), st.st_size, from);
}

std::mutex* RootfsCache::ChainMutex(const std::string& hex) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<std::mutex>& m = chain_mu_[hex];
  if (!m) m = std::make_unique<std::mutex>();
  return m.get();
}

RootfsCache::Stats RootfsCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

bool RootfsCache::Extracted(const std::vector<LayerRef>& layers) const {
  if (layers.empty()) return true;
  std::vector<Digest> diff_ids;
  for (const LayerRef& l : layers) diff_ids.push_back(l.diff_id);
  return Exists(paths::Rootfs(store_.root(), ChainId(diff_ids)));
}

Result<std::string> RootfsCache::Materialize(const std::vector<LayerRef>& layers) {
  if (layers.empty()) return std::string();
  const std::string& root = store_.root();
  std::vector<Digest> diff_ids;
  for (const LayerRef& l : layers) diff_ids.push_back(l.diff_id);
  Digest chain = ChainId(diff_ids);
  std::string final_dir = paths::Rootfs(root, chain);
  std::lock_guard<std::mutex> chain_lock(*ChainMutex(chain.hex()));
  if (Exists(final_dir)) {
    ::utimensat(AT_FDCWD, final_dir.c_str(), nullptr, 0);  // last use, for LRU eviction
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.reused;
    return final_dir;
  }
  // The longest prefix already extracted.
  size_t have = layers.size() - 1;
  std::string base;
  for (; have > 0; --have) {
    std::vector<Digest> prefix(diff_ids.begin(), diff_ids.begin() + static_cast<long>(have));
    std::string dir = paths::Rootfs(root, ChainId(prefix));
    if (Exists(dir)) {
      base = dir;
      break;
    }
  }
  HOIST_RETURN_IF_ERROR(store::MakeDirs(paths::RootfsDir(root)));
  std::string staging = paths::RootfsDir(root) + "/.tmp-" + UniqueName();
  Status st = base.empty() ? (::mkdir(staging.c_str(), 0755) == 0 ? Status::Ok()
                                                                  : ErrnoStatus("mkdir", staging))
                           : LinkTree(base, staging);
  uint64_t bytes = 0;
  int applied = 0;
  for (size_t i = have; st.ok() && i < layers.size(); ++i) {
    const LayerRef& l = layers[i];
    layer::ExtractOptions eo;
    eo.expected_digest = l.digest;
    eo.expected_diff_id = l.diff_id;
    Result<layer::ExtractReport> r = layer::ApplyLayerFile(store_.Path(l.digest), staging, eo);
    if (!r.ok()) {
      st = Status(r.status().code(), "layer " + l.digest.str() + " (" + std::to_string(i + 1) +
                                         " of " + std::to_string(layers.size()) +
                                         "): " + r.status().message());
      break;
    }
    bytes += r->tar_size;
    ++applied;
  }
  if (st.ok()) {
    nlohmann::json meta = {{"bytes", bytes}, {"chain", chain.str()}};
    st = transfer::WriteFileAtomic(final_dir + ".json", meta.dump() + "\n");
  }
  if (st.ok() && ::rename(staging.c_str(), final_dir.c_str()) != 0) {
    // Another process extracted the same chain first: use theirs.
    if (errno != EEXIST && errno != ENOTEMPTY) st = ErrnoStatus("rename", staging);
  }
  if (Exists(staging)) (void)store::RemoveTree(staging);
  if (!st.ok()) return st;
  std::lock_guard<std::mutex> lock(mu_);
  stats_.layers_applied += applied;
  return final_dir;
}

}  // namespace hoist::engine
