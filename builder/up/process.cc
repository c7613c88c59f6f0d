#include "builder/up/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace hoist::up {
namespace {

// The environment with `extra` ("K=V") set over it.
std::vector<std::string> MergedEnv(const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    bool replaced = false;
    for (const std::string& x : extra)
      replaced = replaced || x.compare(0, key.size() + 1, key + "=") == 0;
    if (!replaced) out.push_back(kv);
  }
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

std::vector<char*> Pointers(std::vector<std::string>& v) {
  std::vector<char*> p;
  for (std::string& s : v) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

void WriteRaw(int fd, const char* s) {
  ssize_t r = ::write(fd, s, std::strlen(s));
  (void)r;
}

// Runs in the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void ExecChild(const SpawnOptions& o, char* const* argv, char* const* envp,
                            int null_fd) {
  if (o.new_session) ::setsid();
  if (o.new_process_group && !o.new_session) ::setpgid(0, 0);
  if (o.die_with_parent) ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  int out = o.output_fd >= 0 ? o.output_fd : null_fd;
  ::dup2(null_fd, 0);
  ::dup2(out, 1);
  ::dup2(out, 2);
  if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
    for (int fd = 3; fd < 4096; ++fd) ::close(fd);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::sigaction(sig, &dfl, nullptr);
  if (!o.cwd.empty() && ::chdir(o.cwd.c_str()) != 0) {
    WriteRaw(2, "hoist: cannot change to the working directory\n");
    ::_exit(127);
  }
  ::execvpe(argv[0], argv, envp);
  WriteRaw(2, "hoist: cannot execute ");
  WriteRaw(2, argv[0]);
  WriteRaw(2, "\n");
  ::_exit(127);
}

}  // namespace

Result<pid_t> Spawn(const SpawnOptions& o) {
  if (o.argv.empty()) return Status(Code::kInvalidArgument, "nothing to run");
  std::vector<std::string> args = o.argv;
  std::vector<std::string> env = MergedEnv(o.env);
  std::vector<char*> argv = Pointers(args);
  std::vector<char*> envp = Pointers(env);
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) return ErrnoStatus("open", "/dev/null");
  pid_t pid = ::fork();
  if (pid == 0) ExecChild(o, argv.data(), envp.data(), null_fd);
  int saved = errno;
  ::close(null_fd);
  if (pid < 0) {
    errno = saved;
    return ErrnoStatus("fork", o.argv[0]);
  }
  // The child's own setpgid may not have run yet; set it from here too, so
  // a Stop(group) right after Spawn reaches the right group.
  if (o.new_process_group && !o.new_session) ::setpgid(pid, pid);
  return pid;
}

std::optional<int> WaitUntil(pid_t pid, Clock::time_point deadline) {
  auto pause = std::chrono::milliseconds(5);
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return 0;  // not our child (or already reaped)
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - Clock::now()));
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
}

bool Alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  // "pid (comm) S ...": the state follows the last ')'.
  size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

bool Stop(pid_t pid, bool group, std::chrono::milliseconds grace) {
  if (pid <= 0) return true;
  auto ended = [pid](Clock::time_point deadline) {
    for (;;) {
      int status = 0;
      pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) return true;
      if (r < 0 && errno == ECHILD && !Alive(pid)) return true;
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  ::kill(group ? -pid : pid, SIGTERM);
  if (ended(Clock::now() + grace)) return true;
  ::kill(group ? -pid : pid, SIGKILL);
  return ended(Clock::now() + std::chrono::seconds(5));
}

std::vector<std::string> Cmdline(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  std::vector<std::string> out;
  size_t start = 0;
  while (start < all.size()) {
    size_t nul = all.find('\0', start);
    if (nul == std::string::npos) nul = all.size();
    out.push_back(all.substr(start, nul - start));
    start = nul + 1;
  }
  return out;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

}  // namespace hoist::up
