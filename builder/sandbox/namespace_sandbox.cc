// The userns and root isolations (sandbox.h).
//
// Processes: the caller clones PID 1 of new namespaces; PID 1 waits for the
// caller to write its id maps, sets up the mount namespace, pivot_roots into
// the root and forks the step's process (PID 2), which drops to the step's
// user and executes the command. PID 1 reaps whatever ends up its child;
// when the step's process exits it hands the wait status to the caller and
// exits, and the kernel kills everything else in the PID namespace. A
// timeout or cancellation SIGKILLs PID 1, with the same effect.
//
// PID 1 and the step's process run the code in this file between clone and
// execve: system calls only, on data the caller prepared (child.h).
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <net/if.h>
#include <pwd.h>
#include <sched.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>

#include "builder/sandbox/child.h"
#include "builder/sandbox/isolations.h"
#include "builder/sandbox/mountpoints.h"
#include "builder/sandbox/owner_monitor.h"
#include "builder/sandbox/supervise.h"
#include "builder/store/file_io.h"
#include "common/self_exe.h"

extern char** environ;

namespace hoist::sandbox {
namespace {

using child::MessageKind;
using store::UniqueFd;

constexpr int kControlDeadlineMs = 30000;

enum class OpKind { kProc, kDev, kSys, kBind, kBindReadOnly, kTmpfs };

struct MountOp {
  OpKind kind;
  const char* source;  // host path (binds)
  const char* rel;     // target, relative to the root, symlinks resolved
  const char* data;    // tmpfs options
  bool dir;            // the target is a directory
};

// Everything PID 1 and the step's process need, prepared by the caller.
struct Plan {
  bool user_namespace = false;
  bool network_namespace = false;
  const char* rootfs = nullptr;
  const char* hostname = nullptr;
  const MountOp* ops = nullptr;
  size_t nops = 0;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;
  size_t ngroups = 0;
  bool set_groups = true;  // false: setgroups is denied (single-id map)
  bool filter = false;
  child::FilterSpec filter_spec;
  int ctl = -1, out_w = -1, status_w = -1;
};

// ---- between clone and execve: system calls only ----------------------

// buf = "/proc/self/fd/<fd>" + suffix ("" or "/name").
void FdPath(char* buf, size_t cap, int fd, const char* suffix) {
  char digits[16];
  int n = 0;
  unsigned v = static_cast<unsigned>(fd);
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  size_t len = 0;
  for (const char* p = "/proc/self/fd/"; *p != '\0' && len + 1 < cap; ++p) buf[len++] = *p;
  while (n > 0 && len + 1 < cap) buf[len++] = digits[--n];
  for (const char* p = suffix; *p != '\0' && len + 1 < cap; ++p) buf[len++] = *p;
  buf[len] = '\0';
}

[[noreturn]] void Fail(const Plan& p, const char* step, const char* detail = nullptr) {
  child::Send(p.ctl, MessageKind::kSetupError, errno, step, detail);
  ::_exit(127);
}

unsigned long LockedFlags(const char* path) {
  struct statvfs sv {};
  if (::statvfs(path, &sv) != 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

// Remounts the mount at `rel` read-only, keeping the flags a user namespace
// may not drop.
int RemountReadOnly(int rootfd, const char* rel, const char* source) {
  int fd = ::openat(rootfd, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  char path[64];
  FdPath(path, sizeof path, fd, "");
  int rc = ::mount(nullptr, path, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | LockedFlags(source),
                   nullptr);
  ::close(fd);
  return rc;
}

void SetupDev(const Plan& p, int rootfd, const char* rel) {
  int dev = ::openat(rootfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dev < 0) Fail(p, "open /dev");
  // Targets of this step's mounts below /dev (a heredoc's /dev/pipes):
  // made in the fresh /dev for this step only, as BuildKit does. (No
  // allocation here: this runs in the cloned child.)
  const size_t dev_len = std::strlen(rel);
  for (size_t i = 0; i < p.nops; ++i) {
    const char* t = p.ops[i].rel;
    if (std::strncmp(t, rel, dev_len) != 0 || t[dev_len] != '/') continue;
    char below[PATH_MAX];
    std::strncpy(below, t + dev_len + 1, sizeof below - 1);
    below[sizeof below - 1] = '\0';
    for (char* c = below; *c != '\0'; ++c) {
      if (*c != '/') continue;
      *c = '\0';
      ::mkdirat(dev, below, 0755);
      *c = '/';
    }
    if (p.ops[i].dir) {
      ::mkdirat(dev, below, 0755);
    } else {
      int f = ::openat(dev, below, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (f >= 0) ::close(f);
    }
  }
  static const char* const kNodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
  for (const char* name : kNodes) {
    int f = ::openat(dev, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (f < 0) Fail(p, "create /dev/", name);
    ::close(f);
    char src[32] = "/dev/";
    std::strncat(src, name, sizeof src - 6);
    char slash_name[32] = "/";
    std::strncat(slash_name, name, sizeof slash_name - 2);
    char target[64];
    FdPath(target, sizeof target, dev, slash_name);
    if (::mount(src, target, nullptr, MS_BIND, nullptr) != 0 && std::strcmp(name, "tty") != 0) {
      Fail(p, "bind /dev/", name);
    }
  }
  char target[64];
  ::mkdirat(dev, "pts", 0755);
  FdPath(target, sizeof target, dev, "/pts");
  // Best effort: a build rarely needs a terminal.
  if (::mount("devpts", target, "devpts", MS_NOSUID | MS_NOEXEC,
              "newinstance,ptmxmode=0666,mode=0620") == 0) {
    ::symlinkat("pts/ptmx", dev, "ptmx");
  }
  ::mkdirat(dev, "shm", 01777);
  FdPath(target, sizeof target, dev, "/shm");
  if (::mount("shm", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") !=
      0) {
    Fail(p, "mount /dev/shm");
  }
  ::symlinkat("/proc/self/fd", dev, "fd");
  ::symlinkat("/proc/self/fd/0", dev, "stdin");
  ::symlinkat("/proc/self/fd/1", dev, "stdout");
  ::symlinkat("/proc/self/fd/2", dev, "stderr");
  ::close(dev);
}

void DoMount(const Plan& p, int rootfd, const MountOp& op) {
  int fd = ::openat(rootfd, op.rel, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) Fail(p, "open mountpoint /", op.rel);
  char target[64];
  FdPath(target, sizeof target, fd, "");
  switch (op.kind) {
    case OpKind::kProc:
      if (::mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
        Fail(p, "mount /proc");
      }
      break;
    case OpKind::kDev:
      if (::mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") !=
          0) {
        Fail(p, "mount /dev");
      }
      SetupDev(p, rootfd, op.rel);
      break;
    case OpKind::kSys:
      // sysfs needs a network namespace of our own; else the host's, read-only.
      if (::mount("sysfs", target, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  nullptr) != 0 &&
          ::mount("/sys", target, nullptr, MS_BIND | MS_REC, nullptr) == 0) {
        RemountReadOnly(rootfd, op.rel, "/sys");
      }
      break;
    case OpKind::kBind:
    case OpKind::kBindReadOnly:
      if (::mount(op.source, target, nullptr, MS_BIND, nullptr) != 0) Fail(p, "bind", op.source);
      if (op.kind == OpKind::kBindReadOnly && RemountReadOnly(rootfd, op.rel, op.source) != 0) {
        Fail(p, "remount read-only /", op.rel);
      }
      break;
    case OpKind::kTmpfs:
      if (::mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, op.data) != 0) {
        Fail(p, "mount tmpfs on /", op.rel);
      }
      break;
  }
  ::close(fd);
}

void LoopbackUp(const Plan& p) {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) Fail(p, "socket for lo");
  ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::memcpy(ifr.ifr_name, "lo", 3);
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) Fail(p, "get lo flags");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0) Fail(p, "bring lo up");
  ::close(s);
}

[[noreturn]] void StepProcess(const Plan& p) {
  child::BecomeStep(p.ctl, p.out_w);
  if (p.filter) child::SendFilter(p.ctl, p.filter_spec, false);
  if (p.set_groups && ::setgroups(p.ngroups, p.groups) != 0) Fail(p, "setgroups");
  if (::setresgid(p.gid, p.gid, p.gid) != 0) Fail(p, "setgid");
  if (::setresuid(p.uid, p.uid, p.uid) != 0) Fail(p, "setuid");
  if (::chdir(p.cwd) != 0) Fail(p, "working directory", p.cwd);
  int err = child::Exec(p.argv[0], p.argv, p.envp);
  child::Send(p.ctl, MessageKind::kExecError, err, p.argv[0]);
  ::_exit(err == ENOENT ? 127 : 126);
}

[[noreturn]] void Pid1(const Plan& p) {
  char go = 0;
  if (::recv(p.ctl, &go, 1, 0) != 1) ::_exit(1);  // the caller gave up
  if (p.hostname != nullptr && ::sethostname(p.hostname, std::strlen(p.hostname)) != 0) {
    Fail(p, "sethostname");
  }
  if (p.network_namespace) LoopbackUp(p);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) Fail(p, "make / private");
  if (::mount(p.rootfs, p.rootfs, nullptr, MS_BIND | MS_REC, nullptr) != 0)
    Fail(p, "bind the root");
  int rootfd = ::open(p.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) Fail(p, "open the root");
  for (size_t i = 0; i < p.nops; ++i) DoMount(p, rootfd, p.ops[i]);
  if (::fchdir(rootfd) != 0) Fail(p, "chdir to the root");
  if (::syscall(SYS_pivot_root, ".", ".") != 0) Fail(p, "pivot_root");
  if (::umount2(".", MNT_DETACH) != 0) Fail(p, "detach the old root");
  if (::chdir("/") != 0) Fail(p, "chdir /");
  ::close(rootfd);
  pid_t step = child::RawFork(0);
  if (step < 0) Fail(p, "fork");
  if (step == 0) StepProcess(p);
  ::close(p.out_w);
  ::close(p.ctl);
  int status = 0;
  while (true) {
    int st = 0;
    pid_t w = ::waitpid(-1, &st, 0);
    if (w == step) {
      status = st;
      break;
    }
    if (w < 0 && errno != EINTR) break;
  }
  child::WriteText(p.status_w, reinterpret_cast<const char*>(&status), sizeof status);
  ::_exit(0);
}

// ---- the caller's side ------------------------------------------------

std::string ReadSmallFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string FindProgram(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"}) {
    std::string p = std::string(dir) + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

Status WriteProcFile(pid_t pid, const char* name, const std::string& text) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", path);
  UniqueFd f(fd);
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return ErrnoStatus("write " + text.substr(0, text.find('\n')) + " to", path);
  }
  return Status::Ok();
}

// Runs newuidmap/newgidmap; its output is the error message.
Status RunIdMapper(const std::string& program, pid_t pid, const std::vector<IdRange>& ranges) {
  std::vector<std::string> args = {program, std::to_string(pid)};
  for (const IdRange& r : ranges) {
    args.push_back(std::to_string(r.inside));
    args.push_back(std::to_string(r.outside));
    args.push_back(std::to_string(r.count));
  }
  std::vector<char*> argv = child::CStrings(args);
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return ErrnoStatus("pipe", program);
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 2);
  pid_t child = 0;
  int rc = ::posix_spawn(&child, program.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    errno = rc;
    return ErrnoStatus("run", program);
  }
  wr.Reset();
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(rd.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  int st = 0;
  while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return Status::Ok();
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return Status(Code::kIo, program + " failed: " + out);
}

// How the user namespace's maps are written.
struct Mapping {
  enum class Kind { kNone, kIdentity, kSubordinate, kSingle } kind = Kind::kNone;
  IdMap ids;
  std::string newuidmap, newgidmap;
};

// The ids this process's user namespace has, each mapped to itself (on
// the host: every id; inside `hoist`'s own namespace, see
// ReexecInUserNamespace: the ids its map grants). A nested map may only
// use those.
std::vector<IdRange> OwnIds(const char* file) {
  std::vector<IdRange> out;
  std::istringstream in(ReadSmallFile(std::string("/proc/self/") + file));
  uint64_t inside = 0, outside = 0, count = 0;
  while (in >> inside >> outside >> count) {
    if (count == 0 || inside > 0xFFFFFFFFu) continue;
    out.push_back({static_cast<uint32_t>(inside), static_cast<uint32_t>(inside),
                   static_cast<uint32_t>(std::min<uint64_t>(count, 0xFFFFFFFFu))});
  }
  return out;
}

Mapping ChooseMapping(bool user_namespace) {
  Mapping m;
  if (!user_namespace || ::geteuid() == 0) {
    m.kind = user_namespace ? Mapping::Kind::kIdentity : Mapping::Kind::kNone;
    m.ids = IdMap::Identity();
    if (user_namespace) {
      std::vector<IdRange> uids = OwnIds("uid_map"), gids = OwnIds("gid_map");
      if (!uids.empty() && !gids.empty()) {
        m.ids.uids = uids;
        m.ids.gids = gids;
      }
    }
    return m;
  }
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  m.kind = Mapping::Kind::kSingle;
  m.ids = IdMap::SingleRoot(uid, gid);
  std::string user, group;
  char buf[4096];
  passwd pw{};
  passwd* pwp = nullptr;
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &pwp) == 0 && pwp != nullptr) user = pw.pw_name;
  std::optional<IdRange> su = FindSubordinate(ReadSmallFile("/etc/subuid"), user, uid);
  std::optional<IdRange> sg = FindSubordinate(ReadSmallFile("/etc/subgid"), user, uid);
  m.newuidmap = FindProgram("newuidmap");
  m.newgidmap = FindProgram("newgidmap");
  if (su && sg && !m.newuidmap.empty() && !m.newgidmap.empty()) {
    m.kind = Mapping::Kind::kSubordinate;
    m.ids.uids.push_back(*su);
    m.ids.gids.push_back(*sg);
  }
  return m;
}

Status WriteMaps(const Mapping& m, pid_t pid) {
  switch (m.kind) {
    case Mapping::Kind::kNone:
      return Status::Ok();
    case Mapping::Kind::kIdentity:
      HOIST_RETURN_IF_ERROR(WriteProcFile(pid, "uid_map", MapText(m.ids.uids)));
      return WriteProcFile(pid, "gid_map", MapText(m.ids.gids));
    case Mapping::Kind::kSubordinate:
      HOIST_RETURN_IF_ERROR(RunIdMapper(m.newuidmap, pid, m.ids.uids));
      return RunIdMapper(m.newgidmap, pid, m.ids.gids);
    case Mapping::Kind::kSingle:
      HOIST_RETURN_IF_ERROR(WriteProcFile(pid, "setgroups", "deny"));
      HOIST_RETURN_IF_ERROR(WriteProcFile(pid, "uid_map", MapText(m.ids.uids)));
      return WriteProcFile(pid, "gid_map", MapText(m.ids.gids));
  }
  return Status::Ok();
}

unsigned long CloneFlags(bool user_namespace, bool network_namespace) {
  unsigned long f = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
  if (user_namespace) f |= CLONE_NEWUSER;
  if (network_namespace) f |= CLONE_NEWNET;
  return f;
}

void KillAndReap(pid_t pid) {
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

class NamespaceSandbox : public Sandbox {
 public:
  explicit NamespaceSandbox(bool user_namespace)
      : user_namespace_(user_namespace), mapping_(ChooseMapping(user_namespace)) {}

  Isolation isolation() const override {
    return user_namespace_ ? Isolation::kUserns : Isolation::kRoot;
  }
  const IdMap& ids() const override { return mapping_.ids; }
  Result<RunResult> Run(const RunSpec& spec) override;
  Status RemoveTree(const std::string& path) override;

 private:
  Status CheckIds(const RunSpec& spec) const;

  bool user_namespace_;
  Mapping mapping_;
};

Status NamespaceSandbox::CheckIds(const RunSpec& spec) const {
  auto unmapped = [&](const char* what, uint32_t id) {
    std::string why = mapping_.kind == Mapping::Kind::kSingle
                          ? " (only root is: grant this user a range in /etc/subuid and "
                            "/etc/subgid and install uidmap)"
                          : "";
    return Status(Code::kInvalidArgument, std::string(what) + " " + std::to_string(id) +
                                              " is not mapped in the user namespace" + why);
  };
  if (!mapping_.ids.HostUid(spec.uid)) return unmapped("user", spec.uid);
  if (!mapping_.ids.HostGid(spec.gid)) return unmapped("group", spec.gid);
  for (uint32_t g : spec.groups) {
    if (!mapping_.ids.HostGid(g) && mapping_.kind != Mapping::Kind::kSingle) {
      return unmapped("group", g);
    }
  }
  return Status::Ok();
}

Result<RunResult> NamespaceSandbox::Run(const RunSpec& spec) {
  Result<std::string> rootfs = CheckSpec(spec);
  if (!rootfs.ok()) return rootfs.status();
  HOIST_RETURN_IF_ERROR(CheckIds(spec));
  Result<std::unique_ptr<Mountpoints>> mp = Mountpoints::Open(*rootfs);
  if (!mp.ok()) return mp.status();
  Result<std::unique_ptr<EtcFiles>> etc = EtcFiles::Make(spec);
  if (!etc.ok()) return etc.status();

  // Strings the child reads: stable addresses for the whole run.
  std::deque<std::string> strings;
  auto keep = [&](std::string s) { return strings.emplace_back(std::move(s)).c_str(); };
  std::vector<MountOp> ops;
  std::vector<std::string> mounted;  // container paths, for the owner monitor
  auto add = [&](OpKind kind, const std::string& source, std::string_view target, bool dir,
                 const std::string& data = "") -> Status {
    Result<std::string> rel = (*mp)->Ensure(target, dir);
    if (!rel.ok()) return rel.status();
    ops.push_back({kind, keep(source), keep(*rel), keep(data), dir});
    mounted.emplace_back(target);
    return Status::Ok();
  };
  HOIST_RETURN_IF_ERROR(add(OpKind::kProc, "", "/proc", true));
  HOIST_RETURN_IF_ERROR(add(OpKind::kDev, "", "/dev", true));
  if (Result<std::string> sys = (*mp)->Resolve("/sys", true); sys.ok()) {
    ops.push_back({OpKind::kSys, "", keep(*sys), "", true});
    mounted.emplace_back("/sys");
  }
  HOIST_RETURN_IF_ERROR(add(OpKind::kBind, (*etc)->hosts(), "/etc/hosts", false));
  HOIST_RETURN_IF_ERROR(add(OpKind::kBind, (*etc)->resolv_conf(), "/etc/resolv.conf", false));
  for (const Mount& m : spec.mounts) {
    if (m.type == Mount::Type::kTmpfs) {
      std::string data = "mode=1777";
      if (m.tmpfs_size > 0) data += ",size=" + std::to_string(m.tmpfs_size);
      HOIST_RETURN_IF_ERROR(add(OpKind::kTmpfs, "", m.target, true, data));
      continue;
    }
    struct stat st {};
    if (::stat(m.source.c_str(), &st) != 0) return ErrnoStatus("mount source", m.source);
    HOIST_RETURN_IF_ERROR(add(m.read_only ? OpKind::kBindReadOnly : OpKind::kBind, m.source,
                              m.target, S_ISDIR(st.st_mode)));
  }

  std::vector<std::string> argv_s = spec.argv, env_s = spec.env;
  std::vector<char*> argv = child::CStrings(argv_s), envp = child::CStrings(env_s);
  std::vector<gid_t> groups(spec.groups.begin(), spec.groups.end());
  const bool watch_chown = mapping_.kind == Mapping::Kind::kSingle;

  int sp[2], outp[2], stp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
    return ErrnoStatus("socketpair", "sandbox");
  }
  UniqueFd ctl(sp[0]), ctl_child(sp[1]);
  if (::pipe2(outp, O_CLOEXEC) != 0) return ErrnoStatus("pipe", "sandbox output");
  UniqueFd out_r(outp[0]), out_w(outp[1]);
  if (::pipe2(stp, O_CLOEXEC) != 0) return ErrnoStatus("pipe", "sandbox status");
  UniqueFd st_r(stp[0]), st_w(stp[1]);

  Plan plan;
  plan.user_namespace = user_namespace_;
  plan.network_namespace = spec.network == RunSpec::Network::kNone;
  plan.rootfs = rootfs->c_str();
  plan.hostname = spec.hostname.empty() ? nullptr : spec.hostname.c_str();
  plan.ops = ops.data();
  plan.nops = ops.size();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.cwd = spec.cwd.c_str();
  plan.uid = spec.uid;
  plan.gid = spec.gid;
  plan.groups = groups.data();
  plan.ngroups = groups.size();
  plan.set_groups = mapping_.kind != Mapping::Kind::kSingle;
  plan.filter = watch_chown;
  plan.filter_spec.chown = true;
  plan.ctl = ctl_child.get();
  plan.out_w = out_w.get();
  plan.status_w = st_w.get();

  pid_t pid = child::RawFork(CloneFlags(user_namespace_, plan.network_namespace));
  if (pid < 0) return ErrnoStatus("clone", "sandbox namespaces");
  if (pid == 0) Pid1(plan);
  ctl_child.Reset();
  out_w.Reset();
  st_w.Reset();

  if (Status s = WriteMaps(mapping_, pid); !s.ok()) {
    KillAndReap(pid);
    return Status(Code::kIo, "sandbox: writing the user namespace's id maps: " + s.message());
  }
  char go = 1;
  if (::send(ctl.get(), &go, 1, MSG_NOSIGNAL) != 1) {
    KillAndReap(pid);
    return ErrnoStatus("start", "sandbox");
  }
  Result<child::ControlReport> report = child::ReadControl(ctl.get(), kControlDeadlineMs);
  if (!report.ok() || report->setup_failed) {
    KillAndReap(pid);
    if (!report.ok()) return report.status();
    Code code = report->err == ENOENT ? Code::kNotFound : Code::kIo;
    return Status(code, "sandbox: " + child::Describe(*report));
  }

  RunResult result;
  OutputLines lines(spec.on_output);
  if (report->exec_failed) ExecFailed(spec.argv[0], report->err, lines, &result);
  OwnerMonitor::Options mo;
  mo.rootfs = *rootfs;
  mo.mounts = mounted;
  mo.ids = mapping_.ids;
  OwnerMonitor monitor(std::move(mo));
  SuperviseHooks hooks;
  hooks.kill = [pid] { ::kill(pid, SIGKILL); };
  hooks.on_notification = [&monitor](int fd) { monitor.Handle(fd); };
  SuperviseOutcome o = Supervise(spec, pid, out_r.Release(), report->listener, lines, hooks);

  int status = 0;
  bool have_status = ::read(st_r.get(), &status, sizeof status) == sizeof status;
  if (!report->exec_failed) {
    if (have_status) {
      SetExit(status, &result);
    } else {
      SetExit(o.wait_status, &result);  // PID 1 itself was killed
    }
  }
  result.timed_out = o.timed_out;
  result.cancelled = o.cancelled;
  result.tail = lines.Tail();
  result.owners = monitor.report();
  result.owners.unwatched = watch_chown && report->listener < 0;
  return result;
}

Status NamespaceSandbox::RemoveTree(const std::string& path) {
  if (mapping_.kind != Mapping::Kind::kSubordinate) return Sandbox::RemoveTree(path);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return Status::Ok();
  // Root of a user namespace with the step's maps may delete files of any
  // mapped id: rm -rf runs there (the host's rm; nothing else changes).
  std::string rm = FindProgram("rm");
  if (rm.empty()) return Sandbox::RemoveTree(path);
  std::vector<std::string> args = {rm, "-rf", "--", path};
  std::vector<char*> argv = child::CStrings(args);
  char* envp[] = {nullptr};
  int go[2];
  if (::pipe2(go, O_CLOEXEC) != 0) return ErrnoStatus("pipe", "remove " + path);
  UniqueFd go_r(go[0]), go_w(go[1]);
  pid_t pid = child::RawFork(CLONE_NEWUSER);
  if (pid < 0) return ErrnoStatus("clone", "remove " + path);
  if (pid == 0) {
    char c = 0;
    if (::read(go_r.get(), &c, 1) != 1) ::_exit(1);
    if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) ::_exit(1);
    ::execve(argv[0], argv.data(), envp);
    ::_exit(127);
  }
  go_r.Reset();
  Status maps = WriteMaps(mapping_, pid);
  if (maps.ok()) {
    char c = 1;
    if (::write(go_w.get(), &c, 1) != 1) maps = ErrnoStatus("start", "remove " + path);
  }
  go_w.Reset();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!maps.ok()) return maps;
  if (::lstat(path.c_str(), &st) == 0) {
    return Status(Code::kIo, "remove " + path + ": rm in the user namespace left it (status " +
                                 std::to_string(status) + ")");
  }
  return Status::Ok();
}

volatile sig_atomic_t g_reexec_child = 0;

void ForwardSignal(int sig) {
  if (g_reexec_child > 0) ::kill(g_reexec_child, sig);
}

}  // namespace

void ReexecInUserNamespace(char** argv) {
  if (::geteuid() == 0) return;
  const char* inside = std::getenv("HOIST_USERNS");
  const char* off = std::getenv("HOIST_NO_UNSHARE");
  if ((inside != nullptr && *inside != '\0') || (off != nullptr && std::strcmp(off, "1") == 0)) {
    return;
  }
  Mapping m = ChooseMapping(true);
  if (m.kind != Mapping::Kind::kSubordinate) return;
  Result<std::string> exe = SelfExe();
  if (!exe.ok()) return;
  int go[2];
  if (::pipe2(go, O_CLOEXEC) != 0) return;
  UniqueFd go_r(go[0]), go_w(go[1]);
  ::setenv("HOIST_USERNS", "1", 1);
  pid_t pid = child::RawFork(CLONE_NEWUSER);
  if (pid < 0) {
    ::unsetenv("HOIST_USERNS");
    return;  // no user namespaces here: go on as the caller
  }
  if (pid == 0) {
    char c = 0;
    if (::read(go_r.get(), &c, 1) != 1) ::_exit(1);
    if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) ::_exit(1);
    ::setgroups(0, nullptr);
    ::execv(exe->c_str(), argv);
    ::_exit(127);
  }
  go_r.Reset();
  if (!WriteMaps(m, pid).ok()) {
    KillAndReap(pid);
    ::unsetenv("HOIST_USERNS");
    return;
  }
  g_reexec_child = pid;
  // Ctrl-C reaches the whole foreground group; TERM and HUP are passed on.
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGQUIT, SIG_IGN);
  ::signal(SIGTERM, ForwardSignal);
  ::signal(SIGHUP, ForwardSignal);
  char c = 1;
  if (::write(go_w.get(), &c, 1) != 1) {
    KillAndReap(pid);
    ::_exit(1);
  }
  go_w.Reset();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
  ::_exit(128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
}

std::unique_ptr<Sandbox> NewNamespaceSandbox(bool user_namespace) {
  return std::make_unique<NamespaceSandbox>(user_namespace);
}

namespace {

// PID 1 of the probe: can it mount a tmpfs and a fresh /proc?
[[noreturn]] void ProbeChild(int ctl) {
  Plan p;
  p.ctl = ctl;
  char go = 0;
  if (::recv(ctl, &go, 1, 0) != 1) ::_exit(1);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) Fail(p, "make / private");
  const char* dir = nullptr;
  for (const char* d : {"/tmp", "/mnt", "/dev", "/run"}) {
    struct stat st {};
    if (::stat(d, &st) == 0 && S_ISDIR(st.st_mode)) {
      dir = d;
      break;
    }
  }
  if (dir == nullptr) Fail(p, "find a directory to mount on");
  if (::mount("tmpfs", dir, "tmpfs", 0, "size=64k") != 0) Fail(p, "mount tmpfs on", dir);
  char proc[64];
  std::strncpy(proc, dir, sizeof proc - 8);
  std::strncat(proc, "/proc", 6);
  if (::mkdir(proc, 0755) != 0) Fail(p, "mkdir", proc);
  if (::mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    Fail(p, "mount proc");
  }
  ::_exit(0);
}

std::string SysctlNote() {
  std::string note;
  auto read = [](const char* path) {
    std::string v = ReadSmallFile(path);
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
    return v;
  };
  if (read("/proc/sys/kernel/unprivileged_userns_clone") == "0") {
    note += "; sysctl kernel.unprivileged_userns_clone=0";
  }
  if (read("/proc/sys/user/max_user_namespaces") == "0") {
    note += "; sysctl user.max_user_namespaces=0";
  }
  if (read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1") {
    note +=
        "; AppArmor restricts unprivileged user namespaces "
        "(kernel.apparmor_restrict_unprivileged_userns=1)";
  }
  return note;
}

}  // namespace

Status ProbeNamespaces(bool user_namespace) {
  if (!user_namespace && ::geteuid() != 0) {
    return Status(Code::kUnsupported, "the root isolation needs root (euid 0)");
  }
  const char* what = user_namespace ? "user namespaces" : "namespaces";
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
    return ErrnoStatus("socketpair", "namespace probe");
  }
  UniqueFd ctl(sp[0]), ctl_child(sp[1]);
  pid_t pid = child::RawFork(CloneFlags(user_namespace, false));
  if (pid < 0) {
    return Status(Code::kUnsupported, std::string(what) + " are not available (clone: " +
                                          std::strerror(errno) + SysctlNote() + ")");
  }
  if (pid == 0) ProbeChild(ctl_child.get());
  ctl_child.Reset();
  Mapping single;
  single.kind = Mapping::Kind::kSingle;
  single.ids = IdMap::SingleRoot(::geteuid(), ::getegid());
  if (user_namespace) {
    if (Status s = WriteMaps(single, pid); !s.ok()) {
      KillAndReap(pid);
      return Status(Code::kUnsupported,
                    std::string(what) + " are not usable (" + s.message() + SysctlNote() + ")");
    }
  }
  char go = 1;
  ::send(ctl.get(), &go, 1, MSG_NOSIGNAL);
  Result<child::ControlReport> r = child::ReadControl(ctl.get(), kControlDeadlineMs);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!r.ok()) return r.status();
  if (r->setup_failed || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    std::string why = r->setup_failed ? child::Describe(*r) : "the probe process failed";
    return Status(Code::kUnsupported, std::string(what) + " are not usable (" + why + SysctlNote() +
                                          "; seccomp may block mount)");
  }
  return Status::Ok();
}

}  // namespace hoist::sandbox
