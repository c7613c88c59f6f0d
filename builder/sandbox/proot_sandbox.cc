// The proot isolation (sandbox.h): Debian's proot, ptrace instead of
// namespaces.
//
// proot waits for every process of the step and then exits with the status
// of the last one, so the caller cannot take its exit status for the
// step's. Where seccomp user notification works, the step's processes run
// under a filter (child.h) that reports exit_group: when the step's own
// process (proot's only child) exits, its status is the step's, and the
// processes it left behind (every process proot traces) are killed. The same
// filter reports chown calls when the caller is not root, and proot's own
// seccomp acceleration is refused so that proot rewrites a call's path
// before the filter sees it (owner_monitor.h).
//
// Read-only bind mounts are private copies (proot cannot make a bind
// read-only): the step may write to them, and what it writes is discarded.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "builder/sandbox/child.h"
#include "builder/sandbox/isolations.h"
#include "builder/sandbox/mountpoints.h"
#include "builder/sandbox/owner_monitor.h"
#include "builder/sandbox/supervise.h"
#include "builder/store/file_io.h"

namespace hoist::sandbox {
namespace {

using child::MessageKind;
using store::UniqueFd;

constexpr int kControlDeadlineMs = 30000;
constexpr int kSweepRounds = 50;
constexpr auto kSignalLineWait = std::chrono::milliseconds(500);

struct ProotPlan {
  const char* proot = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  bool filter = false;
  child::FilterSpec filter_spec;
  bool no_new_privs = false;
  int ctl = -1, out_w = -1;
};

[[noreturn]] void ProotChild(const ProotPlan& p) {
  child::BecomeStep(p.ctl, p.out_w);
  if (p.filter) child::SendFilter(p.ctl, p.filter_spec, p.no_new_privs);
  ::execve(p.proot, p.argv, p.envp);
  child::Send(p.ctl, MessageKind::kSetupError, errno, "exec", p.proot);
  ::_exit(127);
}

// Field `name` of /proc/PID/status ("PPid", "TracerPid", "State").
std::optional<std::string> StatusField(pid_t pid, const std::string& name) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.compare(0, name.size() + 1, name + ":") == 0) {
      size_t i = name.size() + 1;
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      return line.substr(i);
    }
  }
  return std::nullopt;
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
      pids.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return pids;
}

// The step's own process: proot's only child.
std::optional<pid_t> FindChildOf(pid_t parent) {
  const std::string want = std::to_string(parent);
  for (pid_t pid : AllPids()) {
    if (StatusField(pid, "PPid") == want) return pid;
  }
  return std::nullopt;
}

// Kills every live process proot traces, then proot, which is stopped
// first so that it reports none of it.
void Sweep(pid_t proot) {
  ::kill(proot, SIGSTOP);  // it would report each death as a warning
  const std::string want = std::to_string(proot);
  for (int round = 0; round < kSweepRounds; ++round) {
    bool any = false;
    for (pid_t pid : AllPids()) {
      if (StatusField(pid, "TracerPid") != want) continue;
      std::optional<std::string> state = StatusField(pid, "State");
      if (state && !state->empty() && (*state)[0] == 'Z') continue;
      ::kill(pid, SIGKILL);
      any = true;
    }
    if (!any) break;
    ::usleep(2000);
  }
  ::kill(proot, SIGKILL);
}

// proot reports a command it cannot execute in its own words and status;
// look for it first as execvpe would: 0, or ENOENT / EACCES.
int FindCommand(Mountpoints& mp, const std::string& rootfs, const RunSpec& spec) {
  const std::string& file = spec.argv[0];
  auto check = [&](const std::string& path) {
    Result<std::string> rel = mp.Resolve(path, false);
    if (!rel.ok()) return rel.status().code() == Code::kInvalidArgument ? EACCES : ENOENT;
    struct stat st {};
    if (::stat((rootfs + "/" + *rel).c_str(), &st) != 0) return ENOENT;
    return S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0 ? 0 : EACCES;
  };
  if (file.find('/') != std::string::npos) {
    return check(file[0] == '/' ? file : spec.cwd + "/" + file);
  }
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const std::string& e : spec.env) {
    if (e.compare(0, 5, "PATH=") == 0) path = e.substr(5);
  }
  int best = ENOENT;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find(':', i);
    if (j == std::string::npos) j = path.size();
    std::string dir = j > i ? path.substr(i, j - i) : spec.cwd;
    int err = check((dir[0] == '/' ? dir : spec.cwd + "/" + dir) + "/" + file);
    if (err == 0) return 0;
    if (err == EACCES) best = EACCES;
    i = j + 1;
  }
  return best;
}

// proot extracts its loader to $PROOT_TMP_DIR (default /tmp; proot's
// environment is the step's) as "prooted-PID-XXXXXX" and removes it on
// exit, but not when it is killed.
void RemoveLoader(pid_t proot, const std::vector<std::string>& env) {
  std::string dir = "/tmp";
  for (const std::string& e : env) {
    if (e.compare(0, 14, "PROOT_TMP_DIR=") == 0) dir = e.substr(14);
  }
  const std::string prefix = "prooted-" + std::to_string(proot) + "-";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().filename().string().compare(0, prefix.size(), prefix) == 0) {
      std::filesystem::remove(e.path(), ec);
    }
  }
}

Status CopyTree(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::copy(
      from, to,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks, ec);
  if (ec) return Status(Code::kIo, "copy " + from + " for a read-only mount: " + ec.message());
  return Status::Ok();
}

class ProotSandbox : public Sandbox {
 public:
  explicit ProotSandbox(std::string proot)
      : proot_(std::move(proot)),
        ids_(::geteuid() == 0 ? IdMap::Identity() : IdMap::SingleRoot(::geteuid(), ::getegid())) {}
  Isolation isolation() const override { return Isolation::kProot; }
  const IdMap& ids() const override { return ids_; }
  Result<RunResult> Run(const RunSpec& spec) override;

 private:
  std::string proot_;
  IdMap ids_;
};

Result<RunResult> ProotSandbox::Run(const RunSpec& spec) {
  Result<std::string> rootfs = CheckSpec(spec);
  if (!rootfs.ok()) return rootfs.status();
  if (spec.network == RunSpec::Network::kNone) {
    return Status(Code::kUnsupported,
                  "proot cannot isolate the network: --network=none needs user namespaces or root");
  }
  Result<std::unique_ptr<Mountpoints>> mp = Mountpoints::Open(*rootfs);
  if (!mp.ok()) return mp.status();
  Result<std::string> cwd = (*mp)->Resolve(spec.cwd, true);
  if (!cwd.ok()) {
    return Status(cwd.status().code(),
                  "sandbox: working directory " + spec.cwd + ": " + cwd.status().message());
  }
  if (int command_error = FindCommand(**mp, *rootfs, spec); command_error != 0) {
    RunResult result;
    OutputLines lines(spec.on_output);
    ExecFailed(spec.argv[0], command_error, lines, &result);
    result.tail = lines.Tail();
    return result;
  }
  Result<std::unique_ptr<EtcFiles>> etc = EtcFiles::Make(spec);
  if (!etc.ok()) return etc.status();
  const std::string scratch = (*etc)->dir();

  std::vector<std::string> args = {proot_};
  if (spec.uid == 0 && spec.gid == 0) {
    args.push_back("-0");
  } else {
    args.push_back("-i");
    args.push_back(std::to_string(spec.uid) + ":" + std::to_string(spec.gid));
  }
  args.insert(args.end(), {"-r", *rootfs, "-w", spec.cwd});
  std::vector<std::string> mounts;  // container paths, for the owner monitor
  // proot would make missing targets itself and leave some behind: make
  // them here, so that they are removed afterwards.
  auto bind = [&](const std::string& host, const std::string& target) -> Status {
    struct stat st {};
    if (::stat(host.c_str(), &st) != 0) return ErrnoStatus("mount source", host);
    Result<std::string> made = (*mp)->Ensure(target, S_ISDIR(st.st_mode));
    if (!made.ok()) return made.status();
    args.push_back("-b");
    args.push_back(host + ":" + target);
    mounts.push_back(target);
    return Status::Ok();
  };
  for (const char* dev : {"null", "zero", "full", "random", "urandom", "tty", "pts"}) {
    std::string p = std::string("/dev/") + dev;
    if (::access(p.c_str(), F_OK) == 0) HOIST_RETURN_IF_ERROR(bind(p, p));
  }
  std::string shm = scratch + "/shm";
  if (::mkdir(shm.c_str(), 01777) != 0 || ::chmod(shm.c_str(), 01777) != 0) {
    return ErrnoStatus("mkdir", shm);
  }
  HOIST_RETURN_IF_ERROR(bind(shm, "/dev/shm"));
  HOIST_RETURN_IF_ERROR(bind("/proc", "/proc"));
  HOIST_RETURN_IF_ERROR(bind((*etc)->hosts(), "/etc/hosts"));
  HOIST_RETURN_IF_ERROR(bind((*etc)->resolv_conf(), "/etc/resolv.conf"));
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const Mount& m = spec.mounts[i];
    std::string source = m.source;
    if (m.type == Mount::Type::kTmpfs || m.read_only) {
      source = scratch + "/mount" + std::to_string(i);
      if (m.type == Mount::Type::kTmpfs) {
        if (::mkdir(source.c_str(), 01777) != 0) return ErrnoStatus("mkdir", source);
      } else {
        HOIST_RETURN_IF_ERROR(CopyTree(m.source, source));
      }
    }
    HOIST_RETURN_IF_ERROR(bind(source, m.target));
  }
  args.insert(args.end(), spec.argv.begin(), spec.argv.end());

  std::vector<std::string> env_s = spec.env;
  std::vector<char*> argv = child::CStrings(args), envp = child::CStrings(env_s);
  const bool root = ::geteuid() == 0;
  ProotPlan plan;
  plan.proot = proot_.c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.filter = true;
  plan.filter_spec.chown = !root;
  plan.filter_spec.exit_group = true;
  plan.filter_spec.deny_seccomp = true;
  plan.no_new_privs = !root;

  int sp[2], outp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
    return ErrnoStatus("socketpair", "sandbox");
  }
  UniqueFd ctl(sp[0]), ctl_child(sp[1]);
  if (::pipe2(outp, O_CLOEXEC) != 0) return ErrnoStatus("pipe", "sandbox output");
  UniqueFd out_r(outp[0]), out_w(outp[1]);
  plan.ctl = ctl_child.get();
  plan.out_w = out_w.get();

  pid_t pid = child::RawFork(0);
  if (pid < 0) return ErrnoStatus("fork", "proot");
  if (pid == 0) ProotChild(plan);
  ctl_child.Reset();
  out_w.Reset();

  Result<child::ControlReport> report = child::ReadControl(ctl.get(), kControlDeadlineMs);
  if (!report.ok() || report->setup_failed) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (!report.ok()) return report.status();
    return Status(Code::kIo, "sandbox: " + child::Describe(*report));
  }

  // The step's own process, its exit status, and a signal proot reports.
  std::optional<pid_t> main_pid;
  std::optional<int> main_status;
  std::optional<int> main_signal;
  auto find_main = [&] {
    if (!main_pid) main_pid = FindChildOf(pid);
  };
  // "proot info: pid 123: terminated with signal 9" (or "(null) info: ..."
  // when proot is being killed): proot's report, not the step's output.
  auto keep = [&](std::string_view line) {
    constexpr std::string_view kInfo = " info: pid ", kSignal = ": terminated with signal ";
    size_t info = line.find(kInfo), at = line.find(kSignal);
    if (info == std::string_view::npos || at == std::string_view::npos ||
        line.substr(0, info).find(' ') != std::string_view::npos) {
      return true;
    }
    pid_t who =
        static_cast<pid_t>(std::atol(std::string(line.substr(info + kInfo.size())).c_str()));
    find_main();  // a child's death must not pass for the step's
    if (!main_pid || *main_pid == who) {
      main_signal = std::atoi(std::string(line.substr(at + kSignal.size())).c_str());
    }
    return false;
  };
  OutputLines lines(spec.on_output, keep);

  OwnerMonitor::Options mo;
  mo.rootfs = *rootfs;
  mo.host_paths = true;
  mo.mounts = mounts;
  mo.ids = ids_;
  mo.answer_chown = false;
  mo.ids_in_calls_are_host = true;
  OwnerMonitor monitor(std::move(mo));
  monitor.on_exit_group = [&](pid_t who, int status) {
    if (main_pid ? *main_pid == who : StatusField(who, "PPid") == std::to_string(pid)) {
      main_pid = who;
      main_status = status;
    }
  };
  const bool watching = report->listener >= 0;
  SuperviseHooks hooks;
  hooks.kill = [pid] { Sweep(pid); };
  hooks.on_notification = [&monitor](int fd) { monitor.Handle(fd); };
  std::optional<std::chrono::steady_clock::time_point> main_gone;
  hooks.finished = [&] {
    if (!watching) return false;
    if (main_status || main_signal) return true;
    find_main();
    if (!main_pid) return false;
    // Gone (reaped by proot) or a zombie without an exit_group: a signal
    // killed it; proot prints which when it reaps it.
    std::optional<std::string> state = StatusField(*main_pid, "State");
    if (state && !state->empty() && (*state)[0] != 'Z') return false;
    auto now = std::chrono::steady_clock::now();
    if (!main_gone) main_gone = now;
    return now - *main_gone > kSignalLineWait;
  };
  SuperviseOutcome o = Supervise(spec, pid, out_r.Release(), report->listener, lines, hooks);

  RemoveLoader(pid, spec.env);

  RunResult result;
  if (o.timed_out || o.cancelled) {
    result.signal = SIGKILL;
    result.exit_code = 128 + SIGKILL;
  } else if (main_status) {
    result.exit_code = *main_status;
  } else if (main_signal) {
    result.signal = *main_signal;
    result.exit_code = 128 + *main_signal;
  } else {
    SetExit(o.wait_status, &result);  // proot's: the last process's status
  }
  result.timed_out = o.timed_out;
  result.cancelled = o.cancelled;
  result.tail = lines.Tail();
  result.owners = monitor.report();
  result.owners.unwatched = !root && !watching;
  return result;
}

}  // namespace

std::unique_ptr<Sandbox> NewProotSandbox(std::string proot_path) {
  return std::make_unique<ProotSandbox>(std::move(proot_path));
}

}  // namespace hoist::sandbox
