// What runs between clone and execve, in a child of a process that may
// have other threads (the build engine runs stages in parallel). Such a child
// may only make system calls: another thread may have held a malloc or
// stdio lock at the moment of the clone, so nothing here allocates, formats
// or locks. Every string a child needs is prepared by the parent first.
//
// The child talks to its parent over a SOCK_SEQPACKET control socket: one
// Message per failure, and a seccomp listener descriptor when it installs
// one. Control sockets are close-on-exec, so the parent reads until the end
// of stream: end without a message means the command is running.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace hoist::sandbox::child {

enum class MessageKind : int32_t {
  kSetupError = 1,  // the sandbox could not be set up; what + errno
  kExecError = 2,   // the command could not be executed; what + errno
  kListener = 3,    // carries a seccomp listener descriptor (SCM_RIGHTS)
  kNoListener = 4,  // seccomp user notification is unavailable; errno
};

struct Message {
  MessageKind kind;
  int32_t err;
  char what[248];
};

// A fork that runs no atfork handlers (raw clone(2) with SIGCHLD and
// `flags`, e.g. namespace flags). Returns 0 in the child, the child's pid
// in the parent, -1 with errno on failure. The child is SIGKILLed when the
// calling thread exits (PR_SET_PDEATHSIG): a crashed caller leaves no step.
pid_t RawFork(unsigned long flags);

// Sends a Message (what is "step: detail", truncated). Async-signal-safe.
void Send(int ctl, MessageKind kind, int err, const char* step, const char* detail = nullptr);
// Sends `fd` with a kListener message. Async-signal-safe.
void SendFd(int ctl, int fd);

// execve(2) of `file`, searching the PATH of `envp` (default
// "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") when it
// has no "/", as execvpe does but without allocating. Returns only on
// failure, with the errno that explains it best: EACCES when some candidate
// was not executable, ENOENT when none exists, else the error of the file
// found (ENOEXEC, E2BIG, ...).
int Exec(const char* file, char* const argv[], char* const envp[]);

// The calls a seccomp filter sends to the listener.
struct FilterSpec {
  bool chown = false;       // chown, fchown, lchown, fchownat
  bool exit_group = false;  // exit_group (lets the parent see exit codes)
  // seccomp(2) and prctl(PR_SET_SECCOMP) fail (ENOSYS/EINVAL): proot then
  // traces every call with plain ptrace, so it rewrites a chown's path
  // before the filter sees it.
  bool deny_seccomp = false;
};

// Installs a seccomp filter with a user-notification listener for
// `spec`, calls from other architectures (32-bit compat, x32) pass. Sets
// no_new_privs first when `no_new_privs`. Returns the listener descriptor
// (close-on-exec), or -errno.
int InstallFilter(const FilterSpec& spec, bool no_new_privs);

// Makes this process the step's: a new session, default signal
// dispositions and an empty mask, stdin from /dev/null, stdout and stderr to
// `out`, every other descriptor close-on-exec. On failure sends a
// kSetupError over `ctl` and exits 127.
void BecomeStep(int ctl, int out);

// InstallFilter, then the listener to the parent over `ctl` (or a
// kNoListener message with the reason).
void SendFilter(int ctl, const FilterSpec& spec, bool no_new_privs);

// Writes all of `text` to fd (EINTR-safe); false on failure.
bool WriteText(int fd, const char* text, size_t n);

// Parent side: a control channel with the child. `Finish` reads until the
// child closes its end and reports the outcome.
struct ControlReport {
  bool setup_failed = false;  // a kSetupError arrived
  bool exec_failed = false;   // a kExecError arrived
  int err = 0;
  std::string what;
  int listener = -1;       // owned by the caller when >= 0
  int listener_errno = 0;  // from kNoListener
  bool listener_refused = false;
};

// Reads messages from `ctl` until end of stream (or `deadline_ms` passes:
// then kIo). kIo also when the socket fails.
Result<ControlReport> ReadControl(int ctl, int deadline_ms);

// "what: strerror(err)" for a failed setup step.
std::string Describe(const ControlReport& r);

// Owning wrappers for the parent: argv/envp arrays of C strings that live
// as long as the vector of std::string they point into.
std::vector<char*> CStrings(std::vector<std::string>& strings);

}  // namespace hoist::sandbox::child
