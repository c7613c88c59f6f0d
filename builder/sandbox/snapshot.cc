#include "builder/sandbox/snapshot.h"

#include <dirent.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "builder/layer/extract.h"
#include "builder/sandbox/owner_monitor.h"
#include "builder/sandbox/paths.h"

namespace hoist::sandbox {
namespace {

constexpr uint32_t kOverflowId = 65534;

bool KeepXattr(std::string_view name) {
  auto starts = [&](std::string_view p) { return name.substr(0, p.size()) == p; };
  if (starts("user.hoist.") || starts("user.overlay.") || starts("trusted.overlay.")) return false;
  return starts("user.") || starts("trusted.") || name == "security.capability";
}

std::optional<std::string> GetXattr(const std::string& path, const std::string& name) {
  std::string value(256, '\0');
  for (int attempt = 0; attempt < 4; ++attempt) {
    ssize_t n = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (n >= 0) {
      value.resize(static_cast<size_t>(n));
      return value;
    }
    if (errno != ERANGE) return std::nullopt;
    ssize_t want = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    if (want < 0) return std::nullopt;
    value.assign(static_cast<size_t>(want) + 1, '\0');
  }
  return std::nullopt;
}

// All xattr names of `path` (none when the filesystem has none).
std::vector<std::string> ListXattrs(const std::string& path) {
  std::vector<char> buf(1024);
  for (int attempt = 0; attempt < 4; ++attempt) {
    ssize_t n = ::llistxattr(path.c_str(), buf.data(), buf.size());
    if (n >= 0) {
      std::vector<std::string> names;
      for (ssize_t i = 0; i < n;) {
        std::string name(buf.data() + i);
        i += static_cast<ssize_t>(name.size()) + 1;
        if (!name.empty()) names.push_back(std::move(name));
      }
      return names;
    }
    if (errno != ERANGE) return {};
    ssize_t want = ::llistxattr(path.c_str(), nullptr, 0);
    if (want < 0) return {};
    buf.resize(static_cast<size_t>(want) + 1);
  }
  return {};
}

FileState StateOf(const std::string& path, const struct stat& st, const IdMap& ids) {
  FileState f;
  f.mode = st.st_mode;
  f.size = S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
  f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  f.dev = st.st_dev;
  f.ino = st.st_ino;
  f.nlink = st.st_nlink;
  f.rdev = (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) ? st.st_rdev : 0;
  f.uid = ids.ContainerUid(st.st_uid).value_or(kOverflowId);
  f.gid = ids.ContainerGid(st.st_gid).value_or(kOverflowId);
  if (S_ISLNK(st.st_mode)) {
    std::string target(4096, '\0');
    ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    if (n >= 0) target.resize(static_cast<size_t>(n));
    f.link_target = n >= 0 ? target : "";
    return f;  // user xattrs cannot sit on symlinks
  }
  for (const std::string& name : ListXattrs(path)) {
    if (name == layer::kOwnerXattr) {
      std::optional<std::string> v = GetXattr(path, name);
      uint32_t uid = 0, gid = 0;
      if (v && f.uid == 0 && f.gid == 0 && ParseOwner(*v, &uid, &gid)) {
        f.uid = uid;
        f.gid = gid;
      }
    } else if (name == layer::kDeviceXattr) {
      f.device = GetXattr(path, name).value_or("");
    } else if (KeepXattr(name)) {
      if (std::optional<std::string> v = GetXattr(path, name)) f.xattrs.emplace_back(name, *v);
    }
  }
  std::sort(f.xattrs.begin(), f.xattrs.end());
  return f;
}

Status ScanDir(const std::string& root, const std::string& rel, dev_t dev, const IdMap& ids,
               TreeState* out) {
  const std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus("open directory", dir);
  std::vector<std::string> subdirs;
  Status status;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string child = rel.empty() ? std::string(name) : rel + "/" + std::string(name);
    std::string path = root + "/" + child;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // gone while we read
      status = ErrnoStatus("stat", path);
      break;
    }
    out->emplace(child, StateOf(path, st, ids));
    if (S_ISDIR(st.st_mode) && st.st_dev == dev) subdirs.push_back(std::move(child));
  }
  ::closedir(d);
  HOIST_RETURN_IF_ERROR(status);
  for (const std::string& s : subdirs) HOIST_RETURN_IF_ERROR(ScanDir(root, s, dev, ids, out));
  return Status::Ok();
}

bool Changed(const FileState& b, const FileState& a) {
  if ((b.mode & S_IFMT) != (a.mode & S_IFMT) || b.mode != a.mode || b.uid != a.uid ||
      b.gid != a.gid || b.ino != a.ino || b.dev != a.dev || b.link_target != a.link_target ||
      b.rdev != a.rdev || b.device != a.device || b.xattrs != a.xattrs) {
    return true;
  }
  if (S_ISDIR(a.mode)) return b.mtime_ns != a.mtime_ns;
  return b.size != a.size || b.mtime_ns != a.mtime_ns || b.nlink != a.nlink;
}

std::string Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

// Device entry for a placeholder ("c 1 3"); false when the value is not one.
bool ParseDevice(const std::string& v, layer::EntryType* type, uint32_t* major, uint32_t* minor) {
  char kind = 0;
  unsigned ma = 0, mi = 0;
  if (std::sscanf(v.c_str(), "%c %u %u", &kind, &ma, &mi) != 3) return false;
  if (kind != 'c' && kind != 'b') return false;
  *type = kind == 'c' ? layer::EntryType::kCharDevice : layer::EntryType::kBlockDevice;
  *major = ma;
  *minor = mi;
  return true;
}

// The entry for `path` in the state `f`; false for what layers do not hold.
bool MakeEntry(const std::string& path, const FileState& f, const std::string& root,
               layer::Entry* e) {
  const uint32_t perm = f.mode & 07777;
  layer::EntryType dtype{};
  uint32_t ma = 0, mi = 0;
  if (S_ISDIR(f.mode)) {
    *e = layer::Entry::Dir(path, perm);
  } else if (S_ISREG(f.mode) && !f.device.empty() && ParseDevice(f.device, &dtype, &ma, &mi)) {
    *e = layer::Entry::Device(path, dtype, ma, mi, perm);
  } else if (S_ISREG(f.mode)) {
    *e = layer::Entry::HostFile(path, root + "/" + path, f.size, perm);
  } else if (S_ISLNK(f.mode)) {
    *e = layer::Entry::Symlink(path, f.link_target);
  } else if (S_ISCHR(f.mode) || S_ISBLK(f.mode)) {
    *e = layer::Entry::Device(
        path, S_ISCHR(f.mode) ? layer::EntryType::kCharDevice : layer::EntryType::kBlockDevice,
        major(f.rdev), minor(f.rdev), perm);
  } else if (S_ISFIFO(f.mode)) {
    *e = layer::Entry::Fifo(path, perm);
  } else {
    return false;  // sockets
  }
  e->mode = perm;
  e->uid = f.uid;
  e->gid = f.gid;
  e->mtime = f.mtime_ns / 1000000000;
  e->xattrs = f.xattrs;
  return true;
}

class WalkSnapshotter : public Snapshotter {
 public:
  WalkSnapshotter(std::string root, IdMap ids) : root_(std::move(root)), ids_(std::move(ids)) {}
  std::string_view Name() const override { return "walk"; }
  const std::string& root() const override { return root_; }
  Status Begin() override {
    Result<TreeState> s = ScanTree(root_, ids_);
    if (!s.ok()) return s.status();
    before_ = std::move(*s);
    begun_ = true;
    return Status::Ok();
  }
  Result<std::vector<layer::Entry>> End() override {
    if (!begun_) return Status(Code::kInternal, "snapshot: End without Begin");
    Result<TreeState> after = ScanTree(root_, ids_);
    if (!after.ok()) return after.status();
    begun_ = false;
    return DiffTrees(before_, *after, root_);
  }

 private:
  std::string root_;
  IdMap ids_;
  TreeState before_;
  bool begun_ = false;
};

bool g_mount_namespace = false;

// An overlayfs whiteout: a character device 0/0.
bool IsWhiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && st.st_rdev == 0;
}

// Whether this process is in a user namespace other than the initial one
// (overlayfs then needs "userxattr" and keeps its markers in user.overlay.*).
bool InUserNamespace() {
  std::FILE* f = std::fopen("/proc/self/uid_map", "re");
  if (f == nullptr) return false;
  unsigned long inside = 0, outside = 0, count = 0;
  bool initial = std::fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3 && inside == 0 &&
                 outside == 0 && count == 4294967295ul;
  std::fclose(f);
  return !initial;
}

class OverlaySnapshotter : public Snapshotter {
 public:
  OverlaySnapshotter(std::vector<std::string> lowers, std::string dir, IdMap ids)
      : lowers_(std::move(lowers)),
        upper_(dir + "/upper"),
        work_(dir + "/work"),
        merged_(dir + "/merged"),
        dir_(std::move(dir)),
        ids_(std::move(ids)),
        userxattr_(InUserNamespace()) {}
  ~OverlaySnapshotter() override {
    if (mounted_) ::umount2(merged_.c_str(), MNT_DETACH);
  }
  std::string_view Name() const override { return "overlay"; }
  const std::string& root() const override { return merged_; }

  Status Begin() override {
    if (!g_mount_namespace) {
      return Status(Code::kUnsupported, "overlay: hoist has no mount namespace of its own");
    }
    if (lowers_.empty()) return Status(Code::kInvalidArgument, "overlay: no lower directory");
    for (const std::string& d : {dir_, upper_, work_, merged_}) {
      if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoStatus("mkdir", d);
    }
    std::string opts = "lowerdir=";
    for (size_t i = 0; i < lowers_.size(); ++i) {
      for (char c : lowers_[i]) {
        if (c == ':' || c == ',' || c == '\\') {
          return Status(Code::kUnsupported, "overlay: a lower path holds ':' or ','");
        }
      }
      opts += (i ? ":" : "") + lowers_[i];
    }
    // volatile: the upper directory is this build's scratch, read right after
    // the step; without it every unmount syncs the whole filesystem.
    opts += ",upperdir=" + upper_ + ",workdir=" + work_ + ",index=off,volatile";
    // A renamed lower directory is copied, not redirected (userxattr implies it).
    opts += userxattr_ ? ",userxattr" : ",redirect_dir=off";
    if (opts.size() > 4000)
      return Status(Code::kUnsupported, "overlay: too many lower directories");
    if (::mount("overlay", merged_.c_str(), "overlay", 0, opts.c_str()) != 0) {
      return Status(Code::kUnsupported,
                    std::string("overlay: mount refused: ") + std::strerror(errno));
    }
    mounted_ = true;
    // The merged root's own metadata is the top lower's.
    return Status::Ok();
  }

  Result<std::vector<layer::Entry>> End() override {
    if (!mounted_) return Status(Code::kInternal, "snapshot: End without Begin");
    if (::umount2(merged_.c_str(), 0) != 0 && ::umount2(merged_.c_str(), MNT_DETACH) != 0) {
      return ErrnoStatus("unmount", merged_);
    }
    mounted_ = false;
    Result<TreeState> up = ScanTree(upper_, ids_);
    if (!up.ok()) return up.status();
    TreeState before, after;
    for (auto& [path, a] : *up) {
      if (path.empty()) continue;
      std::optional<FileState> b = LowerState(path);
      const std::string host = upper_ + "/" + path;
      if (S_ISCHR(a.mode) && a.rdev == 0) {  // an overlayfs whiteout
        if (b) before.emplace(path, *b);     // deleted: in before, not after
        continue;
      }
      FileState now = a;
      if (b) {
        // A copy-up is a new inode of the same file (with one link where
        // the lower had several): compare the rest. Unchanged files leave
        // the diff; directories stay (parents of changes), as the same one
        // unless overlayfs made them opaque.
        if (!S_ISDIR(now.mode)) {
          FileState same = now;
          same.ino = b->ino;
          same.dev = b->dev;
          if (same.nlink == 1 && b->nlink > 1) same.nlink = b->nlink;
          if (!Changed(*b, same)) continue;
        } else if (!Opaque(host)) {
          now.ino = b->ino;
          now.dev = b->dev;
        }
        before.emplace(path, *b);
      }
      after.emplace(path, std::move(now));
    }
    // Parents of every change are in the upper directory (overlayfs copies
    // them up); the root itself is not part of a layer.
    return DiffTrees(before, after, upper_);
  }

 private:
  bool Opaque(const std::string& path) const {
    if (no_xattrs_) return false;
    std::optional<std::string> v =
        GetXattr(path, userxattr_ ? "user.overlay.opaque" : "trusted.overlay.opaque");
    // A filesystem that refuses xattrs is asked once, not once per path.
    if (!v && errno == ENOTSUP) no_xattrs_ = true;
    return v && *v == "y";
  }
  // A lower directory's ancestor, looked up once per snapshot: the
  // thousands of paths a step changes share a few ancestors, and the lower
  // directories never change.
  enum class Ancestor { kMissing, kNotDir, kDir, kOpaqueDir };
  Ancestor AncestorOf(const std::string& anc) const {
    auto it = ancestors_.find(anc);
    if (it != ancestors_.end()) return it->second;
    struct stat st {};
    Ancestor a = ::lstat(anc.c_str(), &st) != 0 ? Ancestor::kMissing
                 : !S_ISDIR(st.st_mode)         ? Ancestor::kNotDir
                 : Opaque(anc)                  ? Ancestor::kOpaqueDir
                                                : Ancestor::kDir;
    ancestors_.emplace(anc, a);
    return a;
  }
  // `path`'s state in the lower directories as overlayfs merges them.
  std::optional<FileState> LowerState(const std::string& path) const {
    for (const std::string& lower : lowers_) {
      // An ancestor that is a whiteout or not a directory hides the path in
      // this and every lower layer; an opaque ancestor hides the lower ones.
      bool opaque_above = false;
      for (size_t slash = path.find('/'); slash != std::string::npos;
           slash = path.find('/', slash + 1)) {
        Ancestor a = AncestorOf(lower + "/" + path.substr(0, slash));
        if (a == Ancestor::kMissing) break;
        if (a == Ancestor::kNotDir) return std::nullopt;
        if (a == Ancestor::kOpaqueDir) opaque_above = true;
      }
      const std::string host = lower + "/" + path;
      struct stat st {};
      if (::lstat(host.c_str(), &st) == 0) {
        if (IsWhiteout(st)) return std::nullopt;
        return StateOf(host, st, ids_);
      }
      if (opaque_above) return std::nullopt;
    }
    return std::nullopt;
  }

  mutable std::unordered_map<std::string, Ancestor> ancestors_;
  mutable bool no_xattrs_ = false;  // the upper or a lower refused an xattr call (ENOTSUP)
  std::vector<std::string> lowers_;
  std::string upper_, work_, merged_, dir_;
  IdMap ids_;
  bool userxattr_;
  bool mounted_ = false;
};

}  // namespace

bool EnterMountNamespace() {
  if (g_mount_namespace) return true;
  if (::geteuid() != 0) return false;
  if (::unshare(CLONE_NEWNS) != 0) return false;
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
  g_mount_namespace = true;
  return true;
}

bool HaveMountNamespace() {
  return g_mount_namespace;
}

std::unique_ptr<Snapshotter> NewOverlaySnapshotter(std::vector<std::string> lowers, std::string dir,
                                                   IdMap ids) {
  return std::make_unique<OverlaySnapshotter>(std::move(lowers), std::move(dir), std::move(ids));
}

Result<TreeState> ScanTree(const std::string& root, const IdMap& ids) {
  struct stat st {};
  if (::lstat(root.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status(Code::kNotFound, "snapshot: root " + root + " not found");
    return ErrnoStatus("stat", root);
  }
  if (!S_ISDIR(st.st_mode)) return Status(Code::kInvalidArgument, root + " is not a directory");
  TreeState out;
  out.emplace("", StateOf(root, st, ids));
  HOIST_RETURN_IF_ERROR(ScanDir(root, "", st.st_dev, ids, &out));
  return out;
}

std::vector<layer::Entry> DiffTrees(const TreeState& before, const TreeState& after,
                                    const std::string& root) {
  // Directories replaced by another directory: opaque.
  std::set<std::string> replaced;
  for (const auto& [path, a] : after) {
    auto b = before.find(path);
    if (!path.empty() && b != before.end() && S_ISDIR(a.mode) && S_ISDIR(b->second.mode) &&
        (a.ino != b->second.ino || a.dev != b->second.dev)) {
      replaced.insert(path);
    }
  }
  auto below_replaced = [&](const std::string& path) {
    for (std::string p = Parent(path); !p.empty(); p = Parent(p)) {
      if (replaced.count(p)) return true;
    }
    return false;
  };

  std::map<std::string, layer::Entry> out;  // path -> entry (whiteouts and opaques kept apart)
  std::vector<layer::Entry> markers;
  // Deleted: the top-most path of each deleted tree, unless hidden anyway.
  for (const auto& [path, b] : before) {
    if (path.empty() || after.count(path)) continue;
    bool covered = false;
    for (std::string p = Parent(path); !p.empty() && !covered; p = Parent(p)) {
      auto a = after.find(p);
      covered = a == after.end() || !S_ISDIR(a->second.mode) || replaced.count(p) > 0;
    }
    if (!covered) markers.push_back(layer::Entry::Whiteout(path));
  }
  for (const std::string& dir : replaced) {
    if (!below_replaced(dir)) markers.push_back(layer::Entry::Opaque(dir));
  }
  // Added or changed, and the parents of each.
  std::set<std::string> wanted;
  for (const auto& [path, a] : after) {
    if (path.empty()) continue;
    auto b = before.find(path);
    if (b == before.end() || replaced.count(path) || below_replaced(path) ||
        Changed(b->second, a)) {
      wanted.insert(path);
    }
  }
  for (const layer::Entry& m : markers) {
    std::string p = Parent(m.path);
    if (m.type == layer::EntryType::kOpaqueWhiteout) p = m.path;
    for (; !p.empty(); p = Parent(p)) wanted.insert(p);
  }
  for (const std::string& path : std::set<std::string>(wanted)) {
    for (std::string p = Parent(path); !p.empty(); p = Parent(p)) wanted.insert(p);
  }
  // Hard links: the first path of an inode is the file, the rest link to it.
  std::map<std::pair<uint64_t, uint64_t>, std::string> first_path;
  for (const std::string& path : wanted) {
    const FileState& a = after.at(path);
    layer::Entry e;
    if (!MakeEntry(path, a, root, &e)) continue;
    if (e.type == layer::EntryType::kRegular && a.nlink > 1) {
      auto [it, inserted] = first_path.emplace(std::make_pair(a.dev, a.ino), path);
      if (!inserted) {
        layer::Entry link = layer::Entry::Hardlink(path, it->second);
        link.mode = e.mode;
        link.uid = e.uid;
        link.gid = e.gid;
        link.mtime = e.mtime;
        e = std::move(link);
      }
    }
    out.emplace(path, std::move(e));
  }
  std::vector<layer::Entry> entries;
  entries.reserve(out.size() + markers.size());
  for (auto& [path, e] : out) entries.push_back(std::move(e));
  for (layer::Entry& m : markers) entries.push_back(std::move(m));
  std::stable_sort(entries.begin(), entries.end(),
                   [](const layer::Entry& x, const layer::Entry& y) { return x.path < y.path; });
  return entries;
}

std::unique_ptr<Snapshotter> NewWalkSnapshotter(std::string root, IdMap ids) {
  return std::make_unique<WalkSnapshotter>(std::move(root), std::move(ids));
}

}  // namespace hoist::sandbox
