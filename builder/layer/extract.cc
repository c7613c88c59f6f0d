#include "builder/layer/extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <unordered_set>

#include "builder/layer/locale.h"
#include "builder/layer/path.h"
#include "builder/layer/read_ahead.h"
#include "builder/layer/root_dir.h"
#include "builder/store/file_io.h"

namespace hoist::layer {
namespace {

using store::UniqueFd;

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueName = ".wh..wh..opq";
constexpr size_t kMaxWarnings = 100;

// Hashes what passes through: the compressed stream for the digest, the tar
// for the diff ID.
class HashingSource : public ByteSource {
 public:
  explicit HashingSource(ByteSource* in) : in_(in) {}
  Result<size_t> Read(char* buf, size_t n) override {
    Result<size_t> r = in_->Read(buf, n);
    if (r.ok()) h_.Update(buf, *r);
    return r;
  }
  const Digester& digester() const { return h_; }

 private:
  ByteSource* in_;
  Digester h_;
};

// Lexically cleans a tar name. "" is the root. Climbing above it is refused.
Result<std::string> CleanEntryPath(std::string_view name) {
  std::vector<std::string_view> parts;
  for (std::string_view c : SplitPath(name)) {
    if (c == ".") continue;
    if (c != "..") {
      parts.push_back(c);
    } else if (!parts.empty()) {
      parts.pop_back();
    } else {
      return Status(Code::kInvalidArgument,
                    "layer entry \"" + std::string(name) + "\" escapes the root");
    }
  }
  std::string out;
  for (std::string_view c : parts) {
    if (!out.empty()) out += '/';
    out += c;
  }
  return out;
}

std::pair<std::string, std::string> SplitParent(const std::string& p) {
  size_t s = p.rfind('/');
  if (s == std::string::npos) return {"", p};
  return {p.substr(0, s), p.substr(s + 1)};
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

// A path usable with *xattr(2) for `base` in the directory `dirfd` without
// following `base` itself (lsetxattr): procfs names the directory.
std::string ProcPath(int dirfd, const std::string& base) {
  return "/proc/self/fd/" + std::to_string(dirfd) + "/" + base;
}

class Applier {
 public:
  Applier(const RootDir& root, const ExtractOptions& o, ExtractReport* report)
      : root_(root), o_(o), r_(report), is_root_(::geteuid() == 0) {}

  Status Entry(struct archive* a, struct archive_entry* e) {
    ++r_->entries;
    const char* raw = archive_entry_pathname(e);
    if (!raw) return Status(Code::kInvalidArgument, "layer entry without a name");
    Result<std::string> path = CleanEntryPath(raw);
    if (!path.ok()) return path.status();
    if (path->empty()) {  // "./": the root itself keeps its own metadata
      ++r_->skipped;
      return Status::Ok();
    }
    auto [parent, base] = SplitParent(*path);

    if (o_.whiteouts == Whiteouts::kApply &&
        base.compare(0, kWhiteoutPrefix.size(), kWhiteoutPrefix) == 0) {
      return Whiteout(parent, base, raw);
    }
    Result<UniqueFd> pfd = root_.MakeDirs(parent, o_.follow_symlinks);
    if (!pfd.ok()) return Named(pfd.status(), raw);
    int dirfd = pfd->get();

    if (const char* link = archive_entry_hardlink(e)) {
      HOIST_RETURN_IF_ERROR(HardLink(dirfd, parent, base, link, raw));
      MarkUnpacked(*path);
      return Status::Ok();
    }

    mode_t type = archive_entry_filetype(e);
    struct stat old {};
    bool exists = ::fstatat(dirfd, base.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0;
    // Replace whatever is there, except that a directory merges into a
    // directory (image-spec: "Changeset over existing files").
    if (exists && !(S_ISDIR(old.st_mode) && type == AE_IFDIR)) {
      HOIST_RETURN_IF_ERROR(Writable(dirfd, parent, [&] { return RemoveAll(dirfd, base); }));
      exists = false;
    }
    Status s;
    switch (type) {
      case AE_IFDIR:
        s = Dir(dirfd, parent, base, exists, e);
        break;
      case AE_IFREG:
        s = File(a, dirfd, parent, base, e);
        break;
      case AE_IFLNK:
        s = Symlink(dirfd, parent, base, e);
        break;
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO:
        s = Special(dirfd, parent, base, type, e);
        break;
      default:
        ++r_->skipped;
        Warn("skipped \"" + *path + "\": unsupported file type");
        return Status::Ok();
    }
    if (!s.ok()) return Named(s, raw);
    MarkUnpacked(*path);
    return Status::Ok();
  }

  // Directory modes and times last: a read-only directory must still take
  // its children, and creating them would move its mtime.
  Status Finish() {
    for (auto it = made_writable_.rbegin(); it != made_writable_.rend(); ++it) {
      SetDirMeta(it->first, it->second, std::nullopt);
    }
    for (const auto& [rel, meta] : dirs_) SetDirMeta(rel, meta.first, meta.second);
    return Status::Ok();
  }

 private:
  Status Named(const Status& s, const char* name) {
    return Status(s.code(), "layer entry \"" + std::string(name) + "\": " + s.message());
  }

  void Warn(std::string w) {
    if (r_->warnings.size() < kMaxWarnings) r_->warnings.push_back(std::move(w));
  }

  // Paths this layer created, with their ancestors: what an opaque marker
  // keeps.
  void MarkUnpacked(const std::string& path) {
    std::string p = path;
    while (unpacked_.insert(p).second) {
      size_t s = p.rfind('/');
      if (s == std::string::npos) break;
      p.resize(s);
    }
  }

  // Runs `op` (a change inside dirfd); when it fails for lack of write
  // permission on a directory we own (non-root, a read-only lower dir),
  // grants u+rwx, retries, and restores the mode in Finish.
  Status Writable(int dirfd, const std::string& rel, const std::function<Status()>& op) {
    Status s = op();
    if (s.ok() || is_root_ || errno != EACCES) return s;
    struct stat st {};
    std::string self = "/proc/self/fd/" + std::to_string(dirfd);
    if (::stat(self.c_str(), &st) != 0 || st.st_uid != ::geteuid()) return s;
    if (::chmod(self.c_str(), (st.st_mode & 07777) | 0700) != 0) return s;
    made_writable_.emplace_back(rel, st.st_mode & 07777);
    return op();
  }

  static Status Errno(std::string_view op) { return ErrnoStatus(op, ""); }

  Status RemoveAll(int dirfd, const std::string& name) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return errno == ENOENT ? Status::Ok() : Errno("stat");
    }
    if (S_ISDIR(st.st_mode)) {
      int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == EACCES && !is_root_ && ::fchmodat(dirfd, name.c_str(), 0700, 0) == 0) {
        fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      }
      if (fd < 0) return Errno("open");
      UniqueFd d(fd);
      if (!is_root_ && (st.st_mode & 0700) != 0700) ::fchmod(d.get(), 0700);
      Result<std::vector<std::string>> names = List(d.get());
      if (!names.ok()) return names.status();
      for (const std::string& n : *names) HOIST_RETURN_IF_ERROR(RemoveAll(d.get(), n));
      if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) return Errno("rmdir");
      return Status::Ok();
    }
    if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) return Errno("unlink");
    return Status::Ok();
  }

  static Result<std::vector<std::string>> List(int dirfd) {
    int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Errno("open");
    DIR* dp = ::fdopendir(fd);
    if (!dp) {
      ::close(fd);
      return Errno("opendir");
    }
    std::vector<std::string> out;
    while (dirent* de = ::readdir(dp)) {
      std::string n = de->d_name;
      if (n != "." && n != "..") out.push_back(std::move(n));
    }
    ::closedir(dp);
    return out;
  }

  Status Whiteout(const std::string& parent, const std::string& base, const char* raw) {
    // Nothing to delete below a directory that does not exist.
    Result<UniqueFd> pfd = root_.OpenDir(parent, o_.follow_symlinks);
    if (!pfd.ok()) {
      if (pfd.status().code() == Code::kNotFound) return Status::Ok();
      return Named(pfd.status(), raw);
    }
    if (base == kOpaqueName) {
      ++r_->opaques;
      MarkUnpacked(parent.empty() ? std::string() : parent);
      return Named(Prune(pfd->get(), parent), raw);
    }
    std::string victim = base.substr(kWhiteoutPrefix.size());
    if (victim.empty() || victim == "." || victim == "..") {
      return Status(Code::kInvalidArgument,
                    "layer entry \"" + std::string(raw) + "\": bad whiteout");
    }
    ++r_->whiteouts;
    int dirfd = pfd->get();
    return Named(Writable(dirfd, parent, [&] { return RemoveAll(dirfd, victim); }), raw);
  }

  // Opaque directory: removes everything below `rel` that this layer did not
  // create, however the tar orders the marker and the new entries.
  Status Prune(int dirfd, const std::string& rel) {
    Result<std::vector<std::string>> names = List(dirfd);
    if (!names.ok()) return names.status();
    for (const std::string& n : *names) {
      std::string child = Join(rel, n);
      if (!unpacked_.count(child)) {
        HOIST_RETURN_IF_ERROR(Writable(dirfd, rel, [&] { return RemoveAll(dirfd, n); }));
        continue;
      }
      struct stat st {};
      if (::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        int fd = ::openat(dirfd, n.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return Errno("open");
        UniqueFd sub(fd);
        HOIST_RETURN_IF_ERROR(Prune(sub.get(), child));
      }
    }
    return Status::Ok();
  }

  Status HardLink(int dirfd, const std::string& parent, const std::string& base, const char* link,
                  const char* raw) {
    Result<std::string> target = CleanEntryPath(link);
    if (!target.ok()) {
      return Status(Code::kInvalidArgument, "layer entry \"" + std::string(raw) +
                                                "\": hard link target \"" + link +
                                                "\" escapes the root");
    }
    if (target->empty()) {
      return Status(Code::kInvalidArgument,
                    "layer entry \"" + std::string(raw) + "\": hard link to the root");
    }
    auto [tparent, tbase] = SplitParent(*target);
    Result<UniqueFd> tfd = root_.OpenDir(tparent, o_.follow_symlinks);
    if (!tfd.ok()) return Named(tfd.status(), raw);
    struct stat ts {
    }, old{};
    if (::fstatat(tfd->get(), tbase.c_str(), &ts, AT_SYMLINK_NOFOLLOW) != 0) {
      return Named(ErrnoStatus("hard link target", link), raw);
    }
    if (S_ISDIR(ts.st_mode)) {
      return Status(Code::kInvalidArgument,
                    "layer entry \"" + std::string(raw) + "\": hard link to a directory");
    }
    if (::fstatat(dirfd, base.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0) {
      if (old.st_ino == ts.st_ino && old.st_dev == ts.st_dev) return Status::Ok();
      HOIST_RETURN_IF_ERROR(Writable(dirfd, parent, [&] { return RemoveAll(dirfd, base); }));
    }
    // flags 0: link the target itself, even when it is a symlink.
    Status s = Writable(dirfd, parent, [&] {
      return ::linkat(tfd->get(), tbase.c_str(), dirfd, base.c_str(), 0) == 0 ? Status::Ok()
                                                                              : Errno("link");
    });
    if (!s.ok()) return Named(s, raw);
    ++r_->hardlinks;
    return Status::Ok();
  }

  Status Dir(int dirfd, const std::string& parent, const std::string& base, bool exists,
             struct archive_entry* e) {
    if (!exists) {
      HOIST_RETURN_IF_ERROR(Writable(dirfd, parent, [&] {
        return ::mkdirat(dirfd, base.c_str(), 0700) == 0 ? Status::Ok() : Errno("mkdir");
      }));
    }
    ++r_->dirs;
    int fd = ::openat(dirfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Errno("open");
    UniqueFd d(fd);
    HOIST_RETURN_IF_ERROR(Owner(d.get(), dirfd, base, e));
    ApplyXattrs(d.get(), dirfd, base, e);
    dirs_[Join(parent, base)] = {archive_entry_perm(e) & 07777, archive_entry_mtime(e)};
    return Status::Ok();
  }

  // A new, empty regular file (never following or reusing what is there).
  Result<UniqueFd> CreateFile(int dirfd, const std::string& parent, const std::string& base) {
    int fd = -1;
    HOIST_RETURN_IF_ERROR(Writable(dirfd, parent, [&] {
      fd =
          ::openat(dirfd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      return fd >= 0 ? Status::Ok() : Errno("create");
    }));
    return UniqueFd(fd);
  }

  Status File(struct archive* a, int dirfd, const std::string& parent, const std::string& base,
              struct archive_entry* e) {
    Result<UniqueFd> created = CreateFile(dirfd, parent, base);
    if (!created.ok()) return created.status();
    UniqueFd f = std::move(*created);
    ++r_->files;
    const void* buf = nullptr;
    size_t n = 0;
    la_int64_t off = 0;
    int64_t end = 0;
    int rc;
    // Blocks come with offsets: holes of sparse entries are skipped.
    while ((rc = archive_read_data_block(a, &buf, &n, &off)) == ARCHIVE_OK) {
      const char* p = static_cast<const char*>(buf);
      size_t left = n;
      int64_t at = off;
      while (left > 0) {
        ssize_t w = ::pwrite(f.get(), p, left, at);
        if (w < 0) {
          if (errno == EINTR) continue;
          return Errno("write");
        }
        p += w;
        left -= static_cast<size_t>(w);
        at += w;
      }
      end = std::max<int64_t>(end, at);
    }
    if (rc != ARCHIVE_EOF) return ArchiveError(a);
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > end &&
        ::ftruncate(f.get(), archive_entry_size(e)) != 0) {
      return Errno("truncate");
    }
    HOIST_RETURN_IF_ERROR(Owner(f.get(), dirfd, base, e));
    if (::fchmod(f.get(), archive_entry_perm(e) & 07777) != 0) return Errno("chmod");
    ApplyXattrs(f.get(), dirfd, base, e);
    struct timespec ts[2] = {{archive_entry_mtime(e), 0}, {archive_entry_mtime(e), 0}};
    if (::futimens(f.get(), ts) != 0) return Errno("utimes");
    return Status::Ok();
  }

  Status Symlink(int dirfd, const std::string& parent, const std::string& base,
                 struct archive_entry* e) {
    const char* target = archive_entry_symlink(e);
    if (!target) return Status(Code::kInvalidArgument, "symlink without a target");
    // Any target is fine: it is only ever resolved inside the root.
    HOIST_RETURN_IF_ERROR(Writable(dirfd, parent, [&] {
      return ::symlinkat(target, dirfd, base.c_str()) == 0 ? Status::Ok() : Errno("symlink");
    }));
    ++r_->symlinks;
    HOIST_RETURN_IF_ERROR(Owner(-1, dirfd, base, e));
    return Times(dirfd, base, e);
  }

  Status Special(int dirfd, const std::string& parent, const std::string& base, mode_t type,
                 struct archive_entry* e) {
    mode_t perm = archive_entry_perm(e) & 07777;
    if (type == AE_IFIFO) {
      HOIST_RETURN_IF_ERROR(Writable(dirfd, parent, [&] {
        return ::mkfifoat(dirfd, base.c_str(), 0600) == 0 ? Status::Ok() : Errno("mkfifo");
      }));
      ++r_->fifos;
    } else {
      ++r_->devices;
      dev_t dev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
      bool create = o_.devices == Devices::kCreate || (o_.devices == Devices::kAuto && is_root_);
      if (create) {
        Status s = Writable(dirfd, parent, [&] {
          return ::mknodat(dirfd, base.c_str(), type | 0600, dev) == 0 ? Status::Ok()
                                                                       : Errno("mknod");
        });
        if (s.ok()) {
          HOIST_RETURN_IF_ERROR(Owner(-1, dirfd, base, e));
          if (::fchmodat(dirfd, base.c_str(), perm, 0) != 0) return Errno("chmod");
          return Times(dirfd, base, e);
        }
        if (o_.devices == Devices::kCreate || (errno != EPERM && errno != EACCES)) return s;
      }
      return DevicePlaceholder(dirfd, parent, base, type, e);
    }
    HOIST_RETURN_IF_ERROR(Owner(-1, dirfd, base, e));
    if (::fchmodat(dirfd, base.c_str(), perm, 0) != 0) return Errno("chmod");
    return Times(dirfd, base, e);
  }

  // A device we may not create: an empty file with the node's identity in
  // an xattr, so a snapshot of this root can write the device back.
  Status DevicePlaceholder(int dirfd, const std::string& parent, const std::string& base,
                           mode_t type, struct archive_entry* e) {
    Result<UniqueFd> created = CreateFile(dirfd, parent, base);
    if (!created.ok()) return created.status();
    UniqueFd f = std::move(*created);
    std::string v = std::string(type == AE_IFCHR ? "c " : "b ") +
                    std::to_string(archive_entry_rdevmajor(e)) + " " +
                    std::to_string(archive_entry_rdevminor(e));
    if (::fsetxattr(f.get(), std::string(kDeviceXattr).c_str(), v.data(), v.size(), 0) == 0) {
      ++r_->devices_recorded;
    } else {
      Warn("device " + base + " (" + v + ") could not be recorded: " + std::strerror(errno));
    }
    HOIST_RETURN_IF_ERROR(Owner(f.get(), dirfd, base, e));
    // No device permission bits on a stand-in: it must never be mistaken for
    // something a process can use.
    ::fchmod(f.get(), archive_entry_perm(e) & 0666);
    struct timespec ts[2] = {{archive_entry_mtime(e), 0}, {archive_entry_mtime(e), 0}};
    ::futimens(f.get(), ts);
    return Status::Ok();
  }

  Status Times(int dirfd, const std::string& base, struct archive_entry* e) {
    struct timespec ts[2] = {{archive_entry_mtime(e), 0}, {archive_entry_mtime(e), 0}};
    if (::utimensat(dirfd, base.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) return Errno("utimes");
    return Status::Ok();
  }

  // fd: the open node when there is one (files, dirs), else -1 (symlinks,
  // fifos, devices: addressed as dirfd/base without following).
  Status Owner(int fd, int dirfd, const std::string& base, struct archive_entry* e) {
    uid_t uid = static_cast<uid_t>(archive_entry_uid(e));
    gid_t gid = static_cast<gid_t>(archive_entry_gid(e));
    Ownership mode = o_.ownership;
    if (mode == Ownership::kIgnore) return Status::Ok();
    if (mode == Ownership::kAuto) mode = is_root_ ? Ownership::kChown : Ownership::kRecord;
    if (mode == Ownership::kChown) {
      int rc = fd >= 0 ? ::fchown(fd, uid, gid)
                       : ::fchownat(dirfd, base.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
      if (rc == 0) return Status::Ok();
      // EINVAL: an id unmapped in our user namespace.
      if (o_.ownership == Ownership::kChown || (errno != EPERM && errno != EINVAL)) {
        return Errno("chown");
      }
    }
    std::string name(kOwnerXattr);
    if (uid == 0 && gid == 0) {
      // The default owner: clear a record left by a lower layer.
      if (fd >= 0) ::fremovexattr(fd, name.c_str());
      return Status::Ok();
    }
    std::string v = std::to_string(uid) + ":" + std::to_string(gid);
    int rc = fd >= 0
                 ? ::fsetxattr(fd, name.c_str(), v.data(), v.size(), 0)
                 : ::lsetxattr(ProcPath(dirfd, base).c_str(), name.c_str(), v.data(), v.size(), 0);
    if (rc == 0) {
      ++r_->owners_recorded;
    } else {
      // user.* xattrs exist only on files and directories.
      ++r_->owners_unrecorded;
      Warn("owner " + v + " of " + base + " not recorded: " + std::strerror(errno));
    }
    return Status::Ok();
  }

  void ApplyXattrs(int fd, int dirfd, const std::string& base, struct archive_entry* e) {
    if (!o_.restore_xattrs || archive_entry_xattr_reset(e) == 0) return;
    const char* name;
    const void* value;
    size_t size;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
      int rc = fd >= 0 ? ::fsetxattr(fd, name, value, size, 0)
                       : ::lsetxattr(ProcPath(dirfd, base).c_str(), name, value, size, 0);
      if (rc != 0) {
        ++r_->xattrs_failed;
        Warn("xattr " + std::string(name) + " on " + base + ": " + std::strerror(errno));
      }
    }
  }

  void SetDirMeta(const std::string& rel, mode_t mode, std::optional<int64_t> mtime) {
    auto [parent, base] = SplitParent(rel);
    Result<UniqueFd> pfd = root_.OpenDir(parent, o_.follow_symlinks);
    if (!pfd.ok()) return;  // replaced or removed by a later entry
    struct stat st {};
    if (::fstatat(pfd->get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(st.st_mode)) {
      return;
    }
    ::fchmodat(pfd->get(), base.c_str(), mode, 0);
    if (mtime) {
      struct timespec ts[2] = {{*mtime, 0}, {*mtime, 0}};
      ::utimensat(pfd->get(), base.c_str(), ts, AT_SYMLINK_NOFOLLOW);
    }
  }

  static Status ArchiveError(struct archive* a) {
    const char* m = archive_error_string(a);
    return Status(Code::kInvalidArgument, std::string("bad layer tar: ") + (m ? m : "read error"));
  }

  const RootDir& root_;
  const ExtractOptions& o_;
  ExtractReport* r_;
  bool is_root_;
  std::unordered_set<std::string> unpacked_;
  std::map<std::string, std::pair<mode_t, int64_t>> dirs_;     // path -> mode, mtime
  std::vector<std::pair<std::string, mode_t>> made_writable_;  // path -> original mode
};

std::string ArchiveMessage(struct archive* a, const char* fallback) {
  const char* m = archive_error_string(a);
  return m ? m : fallback;
}

struct ReadCtx {
  ByteSource* src;
  std::vector<char> buf;
  Status error;
};

la_ssize_t ReadCb(struct archive*, void* ctx, const void** out) {
  auto* c = static_cast<ReadCtx*>(ctx);
  Result<size_t> n = c->src->Read(c->buf.data(), c->buf.size());
  if (!n.ok()) {
    c->error = n.status();
    return -1;
  }
  *out = c->buf.data();
  return static_cast<la_ssize_t>(*n);
}

}  // namespace

Result<ExtractReport> ApplyLayer(ByteSource& layer, const std::string& root,
                                 const ExtractOptions& options) {
  Result<std::unique_ptr<RootDir>> rd = RootDir::Open(root, options.force_fallback_resolver);
  if (!rd.ok()) return rd.status();
  ExtractReport report;
  HashingSource compressed(&layer);
  Result<std::unique_ptr<ByteSource>> plain = NewDecompressor(&compressed, &report.compression);
  if (!plain.ok()) return plain.status();
  HashingSource tar(plain->get());
  // Decompressing and hashing run on a thread of their own while this one
  // writes the files (issue 16: a cold build's base extraction).
  ReadAheadSource ahead(&tar);

  ScopedUtf8Locale utf8;
  struct archive* a = archive_read_new();
  std::unique_ptr<struct archive, int (*)(struct archive*)> guard(a, archive_read_free);
  archive_read_support_format_tar(a);
  archive_read_support_format_empty(a);
  // gzip and zstd were undone above (so the diff ID can be taken); other
  // compressions (ADD of a .tar.xz, .tar.bz2) are left to libarchive.
  archive_read_support_filter_all(a);
  ReadCtx ctx{&ahead, std::vector<char>(size_t{1} << 20), Status::Ok()};
  if (archive_read_open(a, &ctx, nullptr, ReadCb, nullptr) != ARCHIVE_OK) {
    if (!ctx.error.ok()) return ctx.error;
    return Status(Code::kInvalidArgument,
                  "not a tar layer: " + ArchiveMessage(a, "unknown format"));
  }
  Applier applier(**rd, options, &report);
  while (true) {
    struct archive_entry* e = nullptr;
    int rc = archive_read_next_header(a, &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      if (!ctx.error.ok()) return ctx.error;
      return Status(Code::kInvalidArgument, "bad layer tar: " + ArchiveMessage(a, "read error"));
    }
    Status s = applier.Entry(a, e);
    if (!s.ok()) return ctx.error.ok() ? s : ctx.error;
  }
  HOIST_RETURN_IF_ERROR(applier.Finish());
  bool filtered = archive_filter_count(a) > 1;
  // libarchive stops at the end-of-archive blocks; the digests cover all.
  std::vector<char>& buf = ctx.buf;
  while (true) {
    Result<size_t> n = ahead.Read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) break;
  }
  report.digest = compressed.digester().Current();
  report.compressed_size = compressed.digester().bytes();
  if (!filtered) {
    report.diff_id = tar.digester().Current();
    report.tar_size = tar.digester().bytes();
  }
  if (options.expected_digest && !(*options.expected_digest == *report.digest)) {
    return Status(Code::kDigestInvalid, "layer hashes to " + report.digest->str() + ", expected " +
                                            options.expected_digest->str());
  }
  if (options.expected_diff_id &&
      (!report.diff_id || !(*options.expected_diff_id == *report.diff_id))) {
    return Status(Code::kDigestInvalid, "layer diff ID is " +
                                            (report.diff_id ? report.diff_id->str() : "unknown") +
                                            ", expected " + options.expected_diff_id->str());
  }
  return report;
}

Result<ExtractReport> ApplyLayerFile(const std::string& layer_path, const std::string& root,
                                     const ExtractOptions& options) {
  Result<std::unique_ptr<store::FileSource>> f = store::OpenFileSource(layer_path);
  if (!f.ok()) return f.status();
  return ApplyLayer(**f, root, options);
}

}  // namespace hoist::layer
