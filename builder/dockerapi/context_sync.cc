#include "builder/dockerapi/context_sync.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <unordered_set>

#include "builder/store/file_io.h"

namespace hoist::dockerapi {
namespace {

constexpr size_t kReadBuffer = 1 << 20;
constexpr const char* kTmpSuffix = ".hoist-sync-tmp";

struct Reader {
  ByteSource* src;
  std::vector<char> buf;
  Status error = Status::Ok();
  uint64_t total = 0;
};

la_ssize_t ReadCallback(struct archive* a, void* client, const void** out) {
  auto* r = static_cast<Reader*>(client);
  Result<size_t> n = r->src->Read(r->buf.data(), r->buf.size());
  if (!n.ok()) {
    r->error = n.status();
    archive_set_error(a, EIO, "%s", n.status().message().c_str());
    return -1;
  }
  r->total += *n;
  *out = r->buf.data();
  return static_cast<la_ssize_t>(*n);
}

Status Bad(const std::string& what) {
  return Status(Code::kInvalidArgument, what);
}

int64_t MtimeNs(const struct stat& st) {
  return int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
}

// Drives a MirrorWriter from a tar's entries.
class TarSyncer {
 public:
  explicit TarSyncer(MirrorWriter& m) : m_(m) {}

  Status Entry(struct archive* a, struct archive_entry* e) {
    std::optional<std::string> rel = MirrorWriter::Clean(archive_entry_pathname(e));
    if (!rel) {
      return Bad(std::string("unsafe path in the context: ") +
                 (archive_entry_pathname(e) ? archive_entry_pathname(e) : "(none)"));
    }
    if (rel->empty()) return Skip(a);
    const mode_t perm = archive_entry_perm(e) & 07777;
    if (const char* target = archive_entry_hardlink(e); target != nullptr) {
      std::optional<std::string> t = MirrorWriter::Clean(target);
      if (!t) return Bad("hard link outside the context: " + *rel);
      HOIST_RETURN_IF_ERROR(m_.Hardlink(*rel, *t));
      return Skip(a);
    }
    switch (archive_entry_filetype(e)) {
      case AE_IFDIR:
        HOIST_RETURN_IF_ERROR(m_.Directory(*rel, perm));
        return Skip(a);
      case AE_IFREG: {
        int64_t mtime = int64_t{archive_entry_mtime(e)} * 1000000000 + archive_entry_mtime_nsec(e);
        Result<bool> same = m_.Unchanged(*rel, archive_entry_size(e), mtime, perm);
        if (!same.ok()) return same.status();
        if (*same) return Skip(a);
        return WriteFile(a, e, *rel, perm, mtime);
      }
      case AE_IFLNK: {
        const char* target = archive_entry_symlink(e);
        if (target == nullptr) return Bad("symbolic link without a target: " + *rel);
        HOIST_RETURN_IF_ERROR(m_.Symlink(*rel, target));
        return Skip(a);
      }
      default:
        // Devices, fifos and sockets have no place in a build context.
        return Skip(a);
    }
  }

 private:
  static Status Skip(struct archive* a) {
    if (archive_read_data_skip(a) != ARCHIVE_OK) {
      return Bad(std::string("truncated or malformed context: ") + archive_error_string(a));
    }
    return Status::Ok();
  }

  Status WriteFile(struct archive* a, struct archive_entry* e, const std::string& rel, mode_t perm,
                   int64_t mtime) {
    Result<std::unique_ptr<MirrorWriter::File>> f = m_.Create(rel, perm, mtime);
    if (!f.ok()) return f.status();
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    int r;
    int64_t at = 0;
    while ((r = archive_read_data_block(a, &buf, &size, &offset)) == ARCHIVE_OK) {
      if (offset != at) {  // a sparse hole: zeros
        std::vector<char> zeros(static_cast<size_t>(offset - at), 0);
        HOIST_RETURN_IF_ERROR((*f)->Write(zeros.data(), zeros.size()));
      }
      HOIST_RETURN_IF_ERROR((*f)->Write(static_cast<const char*>(buf), size));
      at = offset + static_cast<int64_t>(size);
    }
    if (r != ARCHIVE_EOF) {
      return Bad(std::string("truncated or malformed context at ") + rel + ": " +
                 archive_error_string(a));
    }
    if (at < archive_entry_size(e)) {  // a trailing hole
      std::vector<char> zeros(static_cast<size_t>(archive_entry_size(e) - at), 0);
      HOIST_RETURN_IF_ERROR((*f)->Write(zeros.data(), zeros.size()));
    }
    return (*f)->Commit();
  }

  MirrorWriter& m_;
};

}  // namespace

std::optional<std::string> MirrorWriter::Clean(const char* raw) {
  if (raw == nullptr) return std::nullopt;
  std::string p = raw;
  if (!p.empty() && p[0] == '/') return std::nullopt;
  std::string out;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string part = p.substr(i, j - i);
    if (part == "..") return std::nullopt;
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out += part;
    }
    i = j + 1;
  }
  if (out.size() >= std::strlen(kTmpSuffix) &&
      out.compare(out.size() - std::strlen(kTmpSuffix), std::string::npos, kTmpSuffix) == 0) {
    return std::nullopt;  // the name this code writes through
  }
  return out;
}

MirrorWriter::MirrorWriter(std::string dir) : dir_(std::move(dir)) {}

Status MirrorWriter::Directory(const std::string& rel, mode_t perm) {
  parent_fd_.Reset();  // the tree changes
  HOIST_RETURN_IF_ERROR(Parents(rel));
  seen_.insert(rel);
  const std::string full = dir_ + "/" + rel;
  struct stat st {};
  bool exists = ::lstat(full.c_str(), &st) == 0;
  if (exists && !S_ISDIR(st.st_mode)) {
    HOIST_RETURN_IF_ERROR(store::RemoveTree(full));
    exists = false;
  }
  if (!exists && ::mkdir(full.c_str(), 0755) != 0) return ErrnoStatus("mkdir", full);
  dirs_.insert(rel);
  ::chmod(full.c_str(), perm | 0700);  // we must be able to write into it
  return Status::Ok();
}

Status MirrorWriter::Symlink(const std::string& rel, const std::string& target) {
  parent_fd_.Reset();  // the tree changes
  HOIST_RETURN_IF_ERROR(Parents(rel));
  seen_.insert(rel);
  const std::string full = dir_ + "/" + rel;
  struct stat st {};
  bool exists = ::lstat(full.c_str(), &st) == 0;
  if (exists && S_ISLNK(st.st_mode)) {
    std::string have(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = ::readlink(full.c_str(), have.data(), have.size());
    if (n >= 0 && std::string(have.data(), static_cast<size_t>(n)) == target) return Status::Ok();
  }
  if (exists) HOIST_RETURN_IF_ERROR(store::RemoveTree(full));
  if (::symlink(target.c_str(), full.c_str()) != 0) return ErrnoStatus("symlink", full);
  ++result_.written;
  return Status::Ok();
}

Status MirrorWriter::Hardlink(const std::string& rel, const std::string& target) {
  parent_fd_.Reset();  // the tree changes
  if (seen_.count(target) == 0) return Bad("hard link outside the context: " + rel);
  HOIST_RETURN_IF_ERROR(Parents(rel));
  seen_.insert(rel);
  const std::string full = dir_ + "/" + rel, tfull = dir_ + "/" + target;
  struct stat st {
  }, ts{};
  if (::lstat(tfull.c_str(), &ts) != 0 || !S_ISREG(ts.st_mode)) {
    return Bad("hard link to a non-file: " + rel);
  }
  bool exists = ::lstat(full.c_str(), &st) == 0;
  if (exists && st.st_ino == ts.st_ino && st.st_dev == ts.st_dev) return Status::Ok();
  if (exists) HOIST_RETURN_IF_ERROR(store::RemoveTree(full));
  if (::link(tfull.c_str(), full.c_str()) != 0) return ErrnoStatus("link", full);
  ++result_.written;
  return Status::Ok();
}

Result<bool> MirrorWriter::Unchanged(const std::string& rel, int64_t size, int64_t mtime_ns,
                                     mode_t perm) {
  HOIST_RETURN_IF_ERROR(Parents(rel));
  seen_.insert(rel);
  // A rebuild checks every file here: look them up from their directory
  // (entries come directory by directory), not through the whole path.
  size_t slash = rel.rfind('/');
  std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
  if (parent_fd_.get() < 0 || parent != parent_) {
    parent_fd_.Reset(
        ::open((dir_ + "/" + parent).c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    parent_ = parent;
  }
  struct stat st {};
  const char* name = rel.c_str() + (slash == std::string::npos ? 0 : slash + 1);
  missing_.clear();
  if (parent_fd_.get() < 0) return false;
  if (::fstatat(parent_fd_.get(), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) missing_ = rel;
    return false;
  }
  if (S_ISREG(st.st_mode) && st.st_size == size && MtimeNs(st) == mtime_ns &&
      (st.st_mode & 07777) == perm) {
    ++result_.kept;
    return true;
  }
  return false;
}

MirrorWriter::File::~File() {
  if (!committed_) ::unlink(path().c_str());
}

Status MirrorWriter::File::Write(const char* data, size_t n) {
  h_.Update(data, n);
  return store::WriteAll(fd_.get(), data, n, path());
}

Status MirrorWriter::File::Commit() {
  const std::string full = m_.dir_ + "/" + rel_;
  struct timespec times[2] = {{mtime_ns_ / 1000000000, mtime_ns_ % 1000000000},
                              {mtime_ns_ / 1000000000, mtime_ns_ % 1000000000}};
  if (::fchmod(fd_.get(), perm_) != 0) return ErrnoStatus("chmod", path());
  if (::futimens(fd_.get(), times) != 0) return ErrnoStatus("utimes", path());
  if (!tmp_.empty()) {
    struct stat st {};
    if (::lstat(full.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      m_.parent_fd_.Reset();  // the tree changes
      HOIST_RETURN_IF_ERROR(store::RemoveTree(full));
    }
    if (::rename(tmp_.c_str(), full.c_str()) != 0) return ErrnoStatus("rename", tmp_);
  }
  committed_ = true;
  ++m_.result_.written;
  m_.result_.bytes_written += h_.bytes();
  m_.result_.hashed.emplace_back(rel_, h_.Current());
  return Status::Ok();
}

Result<std::unique_ptr<MirrorWriter::File>> MirrorWriter::Create(const std::string& rel,
                                                                 mode_t perm, int64_t mtime_ns) {
  HOIST_RETURN_IF_ERROR(Parents(rel));
  seen_.insert(rel);
  if (!missing_.empty() && missing_ == rel && parent_fd_.get() >= 0) {
    // Unchanged just found no such name: create the file under it. Its
    // modification time is set by Commit only, so a file left half
    // written (a crash) never passes Unchanged and is written again.
    missing_.clear();
    const char* name = rel.c_str() + (rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/') + 1);
    store::UniqueFd fd(
        ::openat(parent_fd_.get(), name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() >= 0) {
      return std::unique_ptr<File>(new File(*this, rel, "", std::move(fd), perm, mtime_ns));
    }
  }
  const std::string tmp = dir_ + "/" + rel + kTmpSuffix;
  store::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) return ErrnoStatus("create", tmp);
  return std::unique_ptr<File>(new File(*this, rel, tmp, std::move(fd), perm, mtime_ns));
}

// Makes the missing parents of `rel`; a parent that is a symbolic link
// or a file is refused.
Status MirrorWriter::Parents(const std::string& rel) {
  size_t slash = rel.rfind('/');
  if (slash == std::string::npos) return Status::Ok();
  std::string parent = rel.substr(0, slash);
  if (dirs_.count(parent) > 0) return Status::Ok();
  HOIST_RETURN_IF_ERROR(Parents(parent));
  std::string full = dir_ + "/" + parent;
  struct stat st {};
  if (::lstat(full.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      if (seen_.count(parent) > 0) return Bad("a path goes through a non-directory: " + rel);
      HOIST_RETURN_IF_ERROR(store::RemoveTree(full));  // stale from an older context
      if (::mkdir(full.c_str(), 0755) != 0) return ErrnoStatus("mkdir", full);
    }
  } else if (::mkdir(full.c_str(), 0755) != 0) {
    return ErrnoStatus("mkdir", full);
  }
  dirs_.insert(parent);
  seen_.insert(parent);
  return Status::Ok();
}

Status MirrorWriter::Prune() {
  return PruneDir("", dir_);
}

Status MirrorWriter::PruneDir(const std::string& rel_dir, const std::string& full_dir) {
  DIR* d = ::opendir(full_dir.c_str());
  if (d == nullptr) return ErrnoStatus("opendir", full_dir);
  std::vector<std::pair<std::string, bool>> children;
  while (struct dirent* ent = ::readdir(d)) {
    std::string name = ent->d_name;
    if (name == "." || name == "..") continue;
    children.emplace_back(name, ent->d_type == DT_DIR);
  }
  ::closedir(d);
  for (const auto& [name, is_dir] : children) {
    std::string rel = rel_dir.empty() ? name : rel_dir + "/" + name;
    std::string full = full_dir + "/" + name;
    if (seen_.count(rel) == 0) {
      HOIST_RETURN_IF_ERROR(store::RemoveTree(full));
      ++result_.removed;
    } else if (is_dir) {
      HOIST_RETURN_IF_ERROR(PruneDir(rel, full));
    }
  }
  return Status::Ok();
}

Result<SyncResult> SyncTarToDir(ByteSource& tar, const std::string& dir) {
  HOIST_RETURN_IF_ERROR(store::MakeDirs(dir));
  Reader reader{&tar, std::vector<char>(kReadBuffer)};
  struct archive* a = archive_read_new();
  std::unique_ptr<struct archive, int (*)(struct archive*)> guard(a, archive_read_free);
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_empty(a);
  if (archive_read_open(a, &reader, nullptr, ReadCallback, nullptr) != ARCHIVE_OK) {
    if (!reader.error.ok()) return Bad("reading the context: " + reader.error.message());
    return Bad(std::string("not a tar archive: ") + archive_error_string(a));
  }
  MirrorWriter mirror(dir);
  TarSyncer sync(mirror);
  struct archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    Status st = sync.Entry(a, e);
    if (!st.ok()) {
      if (!reader.error.ok()) return Bad("reading the context: " + reader.error.message());
      return st;
    }
  }
  if (r != ARCHIVE_EOF) {
    if (!reader.error.ok()) return Bad("reading the context: " + reader.error.message());
    return Bad(std::string("truncated or malformed context: ") + archive_error_string(a));
  }
  HOIST_RETURN_IF_ERROR(mirror.Prune());
  return std::move(mirror.result());
}

void ContextMirror::RemoveIdle(const std::string& parent, int keep, const std::string& except) {
  std::vector<std::pair<int64_t, std::string>> locks;
  if (DIR* d = ::opendir(parent.c_str())) {
    while (struct dirent* ent = ::readdir(d)) {
      std::string name = ent->d_name;
      if (name.size() <= 5 || name.compare(name.size() - 5, 5, ".lock") != 0) continue;
      struct stat st {};
      if (::stat((parent + "/" + name).c_str(), &st) == 0) {
        locks.emplace_back(MtimeNs(st), name.substr(0, name.size() - 5));
      }
    }
    ::closedir(d);
  }
  std::sort(locks.begin(), locks.end());  // least recently used first
  for (size_t i = 0; i + static_cast<size_t>(keep) < locks.size(); ++i) {
    const std::string& other = locks[i].second;
    if (other == except) continue;
    std::string other_lock = parent + "/" + other + ".lock";
    int ofd = ::open(other_lock.c_str(), O_RDWR | O_CLOEXEC);
    if (ofd < 0) continue;
    if (::flock(ofd, LOCK_EX | LOCK_NB) == 0) {  // no build holds it
      store::RemoveTree(parent + "/" + other);
      ::unlink(other_lock.c_str());
    }
    ::close(ofd);
  }
}

Result<std::unique_ptr<ContextMirror>> ContextMirror::Acquire(const std::string& parent,
                                                              const std::string& key, int keep) {
  HOIST_RETURN_IF_ERROR(store::MakeDirs(parent));
  const std::string lock = parent + "/" + key + ".lock";
  int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open", lock);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    // Another build syncs this mirror now: this one gets a directory of
    // its own.
    std::string tmpl = parent + "/tmp-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return ErrnoStatus("mkdtemp", tmpl);
    return std::unique_ptr<ContextMirror>(new ContextMirror(tmpl, -1));
  }
  ::futimens(fd, nullptr);  // last use, for the bound below
  RemoveIdle(parent, keep, key);
  return std::unique_ptr<ContextMirror>(new ContextMirror(parent + "/" + key, fd));
}

ContextMirror::~ContextMirror() {
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);
  } else {
    store::RemoveTree(dir_);
  }
}

}  // namespace hoist::dockerapi
