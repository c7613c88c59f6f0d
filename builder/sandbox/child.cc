#include "builder/sandbox/child.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstring>

namespace hoist::sandbox::child {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_AARCH64;
#else
constexpr uint32_t kNativeArch = 0;  // no filter on other architectures
#endif

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Appends `s` to buf[*len..cap-1), always leaving it NUL-terminated.
void Append(char* buf, size_t cap, size_t* len, const char* s) {
  while (*s != '\0' && *len + 1 < cap) buf[(*len)++] = *s++;
  buf[*len] = '\0';
}

// A BPF program under construction, with forward jumps to two labels.
class Program {
 public:
  enum Label { kAllow, kNotify, kNone };
  void Load(uint32_t offset) { Add(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset), kNone, kNone); }
  // if (A == k) goto on_true; (else fall through, or goto on_false)
  void JumpIfEqual(uint32_t k, Label on_true, Label on_false = kNone) {
    Add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, 0, 0), on_true, on_false);
  }
  void JumpIfAtLeast(uint32_t k, Label on_true) {
    Add(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, k, 0, 0), on_true, kNone);
  }
  // if (A != k) skip the next instruction (a Return).
  void SkipUnlessEqual(uint32_t k) {
    Add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, 0, 1), kNone, kNone);
  }
  void Return(uint32_t action) { Add(BPF_STMT(BPF_RET | BPF_K, action), kNone, kNone); }
  bool full() const { return n_ + 2 >= kMax; }

  // Appends the two label targets and resolves the jumps to them.
  sock_fprog Finish() {
    size_t allow = n_;
    Return(SECCOMP_RET_ALLOW);
    size_t notify = n_;
    Return(SECCOMP_RET_USER_NOTIF);
    for (size_t i = 0; i < n_; ++i) {
      if (jt_[i] != kNone)
        insns_[i].jt = static_cast<uint8_t>((jt_[i] == kAllow ? allow : notify) - i - 1);
      if (jf_[i] != kNone)
        insns_[i].jf = static_cast<uint8_t>((jf_[i] == kAllow ? allow : notify) - i - 1);
    }
    return sock_fprog{static_cast<unsigned short>(n_), insns_};
  }

 private:
  static constexpr size_t kMax = 40;
  void Add(sock_filter f, Label jt, Label jf) {
    if (n_ >= kMax) return;
    insns_[n_] = f;
    jt_[n_] = jt;
    jf_[n_] = jf;
    ++n_;
  }
  sock_filter insns_[kMax];
  Label jt_[kMax], jf_[kMax];
  size_t n_ = 0;
};

}  // namespace

pid_t RawFork(unsigned long flags) {
  pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0));
  if (pid == 0) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  return pid;
}

void Send(int ctl, MessageKind kind, int err, const char* step, const char* detail) {
  Message m;
  std::memset(&m, 0, sizeof m);
  m.kind = kind;
  m.err = err;
  size_t len = 0;
  Append(m.what, sizeof m.what, &len, step);
  if (detail != nullptr) {
    Append(m.what, sizeof m.what, &len, " ");
    Append(m.what, sizeof m.what, &len, detail);
  }
  while (::send(ctl, &m, sizeof m, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

void SendFd(int ctl, int fd) {
  Message m;
  std::memset(&m, 0, sizeof m);
  m.kind = MessageKind::kListener;
  iovec iov{&m, sizeof m};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  std::memset(control, 0, sizeof control);
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  while (::sendmsg(ctl, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

int Exec(const char* file, char* const argv[], char* const envp[]) {
  if (file[0] == '\0') return ENOENT;
  for (const char* p = file; *p != '\0'; ++p) {
    if (*p == '/') {
      ::execve(file, argv, envp);
      return errno;
    }
  }
  const char* path = kDefaultPath;
  for (char* const* e = envp; *e != nullptr; ++e) {
    if (std::strncmp(*e, "PATH=", 5) == 0) path = *e + 5;
  }
  bool saw_eacces = false;
  char buf[4096];
  const char* dir = path;
  while (true) {
    const char* end = dir;
    while (*end != '\0' && *end != ':') ++end;
    size_t dlen = static_cast<size_t>(end - dir);
    size_t len = 0;
    if (dlen == 0) {
      Append(buf, sizeof buf, &len, ".");
    } else if (dlen < sizeof buf) {
      std::memcpy(buf, dir, dlen);
      len = dlen;
      buf[len] = '\0';
    }
    Append(buf, sizeof buf, &len, "/");
    Append(buf, sizeof buf, &len, file);
    ::execve(buf, argv, envp);
    int e = errno;
    if (e == EACCES) {
      saw_eacces = true;
    } else if (e != ENOENT && e != ENOTDIR && e != ESTALE && e != ENODEV && e != ETIMEDOUT) {
      return e;  // found, but it cannot run (e.g. ENOEXEC, E2BIG)
    }
    if (*end == '\0') break;
    dir = end + 1;
  }
  return saw_eacces ? EACCES : ENOENT;
}

int InstallFilter(const FilterSpec& spec, bool no_new_privs) {
  if (kNativeArch == 0) return -ENOSYS;
  if (no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -errno;
  Program p;
  p.Load(offsetof(seccomp_data, arch));
  p.JumpIfEqual(kNativeArch, Program::kNone, Program::kAllow);
  p.Load(offsetof(seccomp_data, nr));
#if defined(__x86_64__)
  p.JumpIfAtLeast(0x40000000u, Program::kAllow);  // x32 calls
#endif
  if (spec.chown) {
#ifdef __NR_chown
    p.JumpIfEqual(__NR_chown, Program::kNotify);
#endif
#ifdef __NR_lchown
    p.JumpIfEqual(__NR_lchown, Program::kNotify);
#endif
    p.JumpIfEqual(__NR_fchown, Program::kNotify);
    p.JumpIfEqual(__NR_fchownat, Program::kNotify);
  }
  if (spec.exit_group) p.JumpIfEqual(__NR_exit_group, Program::kNotify);
  if (spec.deny_seccomp) {
    p.SkipUnlessEqual(__NR_seccomp);
    p.Return(SECCOMP_RET_ERRNO | ENOSYS);
    p.JumpIfEqual(__NR_prctl, Program::kNone, Program::kAllow);
    p.Load(offsetof(seccomp_data, args));  // low half of args[0] (little-endian)
    p.SkipUnlessEqual(PR_SET_SECCOMP);
    p.Return(SECCOMP_RET_ERRNO | EINVAL);
  }
  if (p.full()) return -E2BIG;
  sock_fprog prog = p.Finish();
  long fd =
      ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  if (fd < 0) return -errno;
  ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
  return static_cast<int>(fd);
}

void BecomeStep(int ctl, int out) {
  ::setsid();
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) {
    Send(ctl, MessageKind::kSetupError, errno, "stdio");
    ::_exit(127);
  }
  // Nothing else of the caller's reaches the command.
  if (::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < 4096; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
}

void SendFilter(int ctl, const FilterSpec& spec, bool no_new_privs) {
  int fd = InstallFilter(spec, no_new_privs);
  if (fd < 0) {
    Send(ctl, MessageKind::kNoListener, -fd, "seccomp");
    return;
  }
  SendFd(ctl, fd);
  ::close(fd);
}

bool WriteText(int fd, const char* text, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, text, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    text += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

Result<ControlReport> ReadControl(int ctl, int deadline_ms) {
  ControlReport r;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      if (r.listener >= 0) ::close(r.listener);
      return Status(Code::kIo, "sandbox: the step's process did not start in time");
    }
    pollfd pfd{ctl, POLLIN, 0};
    int pr = ::poll(&pfd, 1, static_cast<int>(left));
    if (pr < 0 && errno != EINTR) return ErrnoStatus("poll", "sandbox control socket");
    if (pr <= 0) continue;
    Message m;
    std::memset(&m, 0, sizeof m);
    iovec iov{&m, sizeof m};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("recvmsg", "sandbox control socket");
    }
    if (n == 0) return r;
    m.what[sizeof m.what - 1] = '\0';
    switch (m.kind) {
      case MessageKind::kListener: {
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        if (c != nullptr && c->cmsg_type == SCM_RIGHTS) {
          int fd = -1;
          std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
          if (r.listener >= 0) ::close(r.listener);
          r.listener = fd;
        }
        break;
      }
      case MessageKind::kNoListener:
        r.listener_refused = true;
        r.listener_errno = m.err;
        break;
      case MessageKind::kSetupError:
      case MessageKind::kExecError:
        if (!r.setup_failed && !r.exec_failed) {
          (m.kind == MessageKind::kSetupError ? r.setup_failed : r.exec_failed) = true;
          r.err = m.err;
          r.what = m.what;
        }
        break;
    }
  }
}

std::string Describe(const ControlReport& r) {
  std::string s = r.what;
  if (r.err != 0) s += std::string(s.empty() ? "" : ": ") + std::strerror(r.err);
  return s;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace hoist::sandbox::child
