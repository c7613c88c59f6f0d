#include "builder/sandbox/owner_monitor.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

#include "builder/layer/extract.h"
#include "builder/layer/root_dir.h"
#include "builder/sandbox/paths.h"

namespace hoist::sandbox {
namespace {

constexpr size_t kMaxLost = 20;
constexpr int kMaxLinks = 40;
constexpr uint32_t kUnchanged = 0xffffffffu;

// The kernel's notification structs may be larger than this build's.
struct Sizes {
  size_t notif = sizeof(seccomp_notif), resp = sizeof(seccomp_notif_resp);
};
const Sizes& NotifSizes() {
  static const Sizes sizes = [] {
    Sizes s;
    seccomp_notif_sizes k{};
    if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &k) == 0) {
      s.notif = std::max<size_t>(s.notif, k.seccomp_notif);
      s.resp = std::max<size_t>(s.resp, k.seccomp_notif_resp);
    }
    return s;
  }();
  return sizes;
}

// Reads a NUL-terminated string at `addr` in process `pid`, page by page
// (a string may end just before an unmapped page).
std::optional<std::string> ReadString(pid_t pid, uint64_t addr) {
  std::string out;
  char buf[4096];
  while (out.size() < 4096) {
    size_t chunk = 4096 - (addr % 4096);
    iovec local{buf, chunk};
    iovec remote{reinterpret_cast<void*>(addr), chunk};
    ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n <= 0) return std::nullopt;
    size_t len = ::strnlen(buf, static_cast<size_t>(n));
    out.append(buf, len);
    if (len < static_cast<size_t>(n)) return out;
    addr += static_cast<uint64_t>(n);
  }
  return std::nullopt;  // longer than PATH_MAX
}

std::optional<std::string> ReadLink(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof buf) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

bool ParseOwner(std::string_view text, uint32_t* uid, uint32_t* gid) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  const char* b = text.data();
  auto [e1, r1] = std::from_chars(b, b + colon, *uid);
  auto [e2, r2] = std::from_chars(b + colon + 1, b + text.size(), *gid);
  return r1 == std::errc() && r2 == std::errc() && e1 == b + colon && e2 == b + text.size() &&
         colon > 0 && colon + 1 < text.size();
}

struct OwnerMonitor::Call {
  pid_t pid = 0;
  std::string path;  // absolute: a container path (host path under proot)
  bool follow = true;
  uint32_t uid = kUnchanged, gid = kUnchanged;
};

OwnerMonitor::OwnerMonitor(Options options) : o_(std::move(options)) {
  for (std::string& m : o_.mounts) m = Lexical(m);
}

void OwnerMonitor::Lost(const std::string& path) {
  ++report_.lost;
  if (report_.lost_paths.size() < kMaxLost) report_.lost_paths.push_back("/" + Lexical(path));
}

void OwnerMonitor::Handle(int listener) {
  const Sizes& sizes = NotifSizes();
  std::vector<char> req_buf(sizes.notif, 0), resp_buf(sizes.resp, 0);
  auto* req = reinterpret_cast<seccomp_notif*>(req_buf.data());
  auto* resp = reinterpret_cast<seccomp_notif_resp*>(resp_buf.data());
  if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) return;  // the caller died
  resp->id = req->id;
  resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  const seccomp_data& d = req->data;
  const std::string proc = "/proc/" + std::to_string(req->pid);
  std::optional<Call> call;

  auto from_fd = [&](uint64_t fd) -> std::optional<std::string> {
    return ReadLink(proc + "/fd/" + std::to_string(static_cast<int>(fd)));
  };
  auto at = [&](int64_t dirfd, uint64_t addr) -> std::optional<std::string> {
    std::optional<std::string> p = ReadString(static_cast<pid_t>(req->pid), addr);
    if (!p || p->empty() || (*p)[0] == '/') return p;
    std::optional<std::string> base = static_cast<int>(dirfd) == AT_FDCWD
                                          ? ReadLink(proc + "/cwd")
                                          : from_fd(static_cast<uint64_t>(dirfd));
    if (!base) return std::nullopt;
    return *base + "/" + *p;
  };
  auto make = [&](std::optional<std::string> path, bool follow, uint64_t uid, uint64_t gid) {
    if (!path) return;
    call = Call{static_cast<pid_t>(req->pid), std::move(*path), follow, static_cast<uint32_t>(uid),
                static_cast<uint32_t>(gid)};
  };

  switch (d.nr) {
#ifdef __NR_chown
    case __NR_chown:
      make(at(AT_FDCWD, d.args[0]), true, d.args[1], d.args[2]);
      break;
#endif
#ifdef __NR_lchown
    case __NR_lchown:
      make(at(AT_FDCWD, d.args[0]), false, d.args[1], d.args[2]);
      break;
#endif
    case __NR_fchown:
      make(from_fd(d.args[0]), true, d.args[1], d.args[2]);
      break;
    case __NR_fchownat: {
      int flags = static_cast<int>(d.args[4]);
      std::optional<std::string> p = ReadString(static_cast<pid_t>(req->pid), d.args[1]);
      if (p && p->empty() && (flags & AT_EMPTY_PATH)) {
        make(static_cast<int>(d.args[0]) == AT_FDCWD ? ReadLink(proc + "/cwd") : from_fd(d.args[0]),
             true, d.args[2], d.args[3]);
      } else {
        make(at(static_cast<int64_t>(d.args[0]), d.args[1]), !(flags & AT_SYMLINK_NOFOLLOW),
             d.args[2], d.args[3]);
      }
      break;
    }
    case __NR_exit_group:
      if (on_exit_group)
        on_exit_group(static_cast<pid_t>(req->pid), static_cast<int>(d.args[0] & 0xff));
      break;
    default:
      break;
  }
  // The process may have died (and its pid been reused) while we read it.
  if (call && ::ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) == 0 && Record(*call) &&
      o_.answer_chown) {
    resp->flags = 0;
    resp->val = 0;
    resp->error = 0;
  }
  ::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
}

bool OwnerMonitor::Record(const Call& call) {
  std::string rel;
  if (o_.host_paths) {
    if (!Under(call.path, o_.rootfs)) return false;  // a bind from the host
    rel = call.path.substr(o_.rootfs.size());
  } else {
    rel = call.path;
  }
  rel = Lexical(rel);
  for (const std::string& m : o_.mounts) {
    if (Under(rel, m)) return true;  // not in the root: nothing to record
  }
  Result<std::unique_ptr<layer::RootDir>> root = layer::RootDir::Open(o_.rootfs);
  if (!root.ok()) return false;
  // Resolve inside the root; a final symlink is followed only for chown.
  std::string path = rel;
  for (int links = 0;; ++links) {
    if (links > kMaxLinks) return false;
    size_t slash = path.rfind('/');
    std::string parent = slash == std::string::npos ? "" : path.substr(0, slash);
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    // The root, "." or "..": the directory itself, through its descriptor.
    const bool self = base.empty() || base == "." || base == "..";
    Result<store::UniqueFd> dir = (*root)->OpenDir(self ? path : parent, true);
    if (!dir.ok()) return false;
    std::string target = "/proc/self/fd/" + std::to_string(dir->get());
    if (!self) target += "/" + base;
    struct stat st {};
    if ((self ? ::stat(target.c_str(), &st) : ::lstat(target.c_str(), &st)) != 0) return false;
    if (S_ISLNK(st.st_mode)) {
      if (!call.follow) {
        Lost(path);  // user.* xattrs cannot be set on a symlink
        return true;
      }
      std::optional<std::string> to = ReadLink(target);
      if (!to) return false;
      path = (*to)[0] == '/' ? *to : parent + "/" + *to;
      continue;
    }
    // The current owner: recorded, else the host owner as the container sees it.
    uint32_t uid = o_.ids.ContainerUid(st.st_uid).value_or(0);
    uint32_t gid = o_.ids.ContainerGid(st.st_gid).value_or(0);
    const std::string name(layer::kOwnerXattr);
    char buf[64];
    // lgetxattr & co. on "/proc/self/fd/N" itself would address the link.
    ssize_t n = self ? ::getxattr(target.c_str(), name.c_str(), buf, sizeof buf)
                     : ::lgetxattr(target.c_str(), name.c_str(), buf, sizeof buf);
    if (n > 0) ParseOwner(std::string_view(buf, static_cast<size_t>(n)), &uid, &gid);
    if (call.uid != kUnchanged) {
      uid = o_.ids_in_calls_are_host ? o_.ids.ContainerUid(call.uid).value_or(call.uid) : call.uid;
    }
    if (call.gid != kUnchanged) {
      gid = o_.ids_in_calls_are_host ? o_.ids.ContainerGid(call.gid).value_or(call.gid) : call.gid;
    }
    int rc;
    if (uid == 0 && gid == 0) {
      rc = self ? ::removexattr(target.c_str(), name.c_str())
                : ::lremovexattr(target.c_str(), name.c_str());
      if (rc != 0 && errno == ENODATA) rc = 0;
    } else {
      std::string v = std::to_string(uid) + ":" + std::to_string(gid);
      rc = self ? ::setxattr(target.c_str(), name.c_str(), v.data(), v.size(), 0)
                : ::lsetxattr(target.c_str(), name.c_str(), v.data(), v.size(), 0);
    }
    if (rc != 0) {
      Lost(path);
    } else {
      ++report_.recorded;
    }
    return true;
  }
}

}  // namespace hoist::sandbox
