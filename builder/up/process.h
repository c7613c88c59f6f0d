// Child processes of `hoist up`: the registry (`hoist registry serve`) and
// the commands of command images (`sh -c`). Spawn is safe to call from any
// thread: between fork and exec the child makes only async-signal-safe
// calls, closes every descriptor but 0-2, and unblocks all signals.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "builder/up/config.h"
#include "common/status.h"

namespace hoist::up {

struct SpawnOptions {
  std::vector<std::string> argv;   // argv[0] is the program (absolute, or found in PATH)
  std::vector<std::string> env;    // "K=V" set over this process's environment
  std::string cwd;                 // "" = this process's
  int output_fd = -1;              // stdout and stderr; -1: /dev/null. stdin is /dev/null
  bool new_session = false;        // setsid(): outlives this process and its terminal
  bool new_process_group = false;  // setpgid(): Stop(group) reaches its children too
  bool die_with_parent = false;    // SIGTERM when this process (the spawning thread) ends
};

// Starts the process; kIo when fork fails. An exec failure shows as exit
// status 127 with a message on output_fd.
Result<pid_t> Spawn(const SpawnOptions& options);

// Waits for child `pid` until `deadline`; its wait status, or nullopt when
// it is still running at the deadline.
std::optional<int> WaitUntil(pid_t pid, Clock::time_point deadline);

// True while `pid` exists and is not a zombie (any process, child or not).
bool Alive(pid_t pid);

// SIGTERM to `pid` (its whole process group with `group`), up to `grace` for
// it to end, then SIGKILL. Reaps it when it is our child. True when it ended.
bool Stop(pid_t pid, bool group, std::chrono::milliseconds grace);

// /proc/PID/cmdline split at NULs; empty when the process is gone.
std::vector<std::string> Cmdline(pid_t pid);

// "exit status 1", "killed by signal 9".
std::string DescribeWaitStatus(int status);

}  // namespace hoist::up
